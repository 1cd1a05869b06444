//! `aibt serve` outlives clients that go away mid-answer: found by schemathesis, a client that
//! closed its connection while an export streamed to it killed the server with SIGPIPE (the
//! CLI restores SIGPIPE's default so that `aibt … | head` ends quietly; the server must not).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

const AIBT: &str = env!("CARGO_BIN_EXE_aibt");

#[test]
fn clients_closing_mid_export_leave_the_server_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("aibt.db").display());
    let backtest = Command::new(AIBT)
        .args([
            "backtest",
            "--symbol",
            "GOOG",
            "--database-url",
            &database_url,
        ])
        .env("AIBT_SECRET_KEY_FILE", dir.path().join("secret.key"))
        .output()
        .expect("aibt backtest");
    assert!(backtest.status.success(), "{backtest:?}");
    let served = common::Served::start(&database_url, dir.path(), false);
    let address = served.base.trim_start_matches("http://").to_string();
    let get = |path: &str| {
        let mut stream = TcpStream::connect(&address).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        stream
    };
    let mut tasks = String::new();
    get("/api/v1/tasks")
        .read_to_string(&mut tasks)
        .expect("tasks");
    let task_id = tasks
        .split("\"task_id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a task id")
        .to_string();
    // Clients ask for a whole export (about 2 MB, written in many chunks) and hang up: some
    // at once, some after its first bytes.
    for round in 0..20 {
        let mut stream = get(&format!("/api/v1/tasks/{task_id}/export?format=json"));
        if round % 2 == 1 {
            let mut start = [0u8; 512];
            stream
                .read_exact(&mut start)
                .expect("the start of the export");
        }
        drop(stream);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Whether a given hang-up lands mid-write is a matter of timing; what decides the outcome
    // is not: the server ignores SIGPIPE (a broken connection is then an error it handles).
    let status = std::fs::read_to_string(format!("/proc/{}/status", served.pid()))
        .expect("the server's status");
    let ignored = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .expect("SigIgn");
    assert_ne!(
        ignored & (1 << (13 - 1)),
        0,
        "SIGPIPE (13) is not ignored: {ignored:x}"
    );
    let mut health = String::new();
    get("/healthz")
        .read_to_string(&mut health)
        .expect("the server still answers");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
