//! The database as files a user owns and keeps: private modes, no log left behind, an online
//! backup, pruning old tasks and giving the space back (the seed's §9.1 and §9.2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use aibt_testkit::{FakeLlm, Reply, decision};
use common::{Env, Served};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The row count `aibt db check` reports for `table`.
fn rows(check: &serde_json::Value, table: &str) -> i64 {
    check["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|pair| pair[0] == table)
        .and_then(|pair| pair[1].as_i64())
        .unwrap_or_else(|| panic!("no {table} in {check}"))
}

const MINUTE_RUN: [&str; 7] = [
    "backtest",
    "--symbol",
    "INDEX2006",
    "--granularity",
    "minute",
    "--format",
    "json",
];

#[test]
fn the_database_its_log_and_its_backups_are_private_and_a_clean_exit_leaves_no_log() {
    let env = Env::sqlite();
    let db = env.path("aibt.db");
    env.aibt(&MINUTE_RUN).success();
    assert_eq!(mode(&db), 0o600);
    // The run committed about 31,000 snapshots through the log; the exit copied them home.
    let wal = env.path("aibt.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).expect("wal").len() == 0,
        "a clean exit left {} bytes of log",
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
    );

    // While a server holds the database, its log and shared-memory files exist: private too.
    let served = Served::start(&env.database_url, env.dir.path(), false);
    let health = reqwest::blocking::get(format!("{}/healthz", served.base)).expect("health");
    assert!(health.status().is_success());
    for file in ["aibt.db-wal", "aibt.db-shm"] {
        assert_eq!(mode(&env.path(file)), 0o600, "{file}");
    }
    drop(served);

    env.aibt(&["db", "backup", "copy.db"]).success();
    assert_eq!(mode(&env.path("copy.db")), 0o600);
    let again = env.aibt(&["db", "backup", "copy.db"]).failure();
    assert!(
        again.stderr().contains("already exists"),
        "{}",
        again.stderr()
    );
}

#[test]
fn a_backup_taken_while_a_task_runs_is_consistent() {
    let env = Env::sqlite();
    // A model that takes 20 ms per answer keeps the run going for the whole of GOOG's daily
    // history (about 45 s), far longer than the backup needs, whatever the machine's speed.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeLlm::start(|_, _| Reply::Answer {
        content: decision("HOLD", 0.5, "waiting"),
        finish_reason: "stop",
        delay: Duration::from_millis(20),
    }));
    let template = env.write(
        "t.j2",
        "{{ symbol }} closed at {{ bars[-1].close }}. Decide.\n",
    );
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_aibt"))
        .args([
            "backtest",
            "--symbol",
            "GOOG",
            "--template",
            template.to_str().unwrap(),
            "--base-url",
            &fake.base_url(),
            "--model",
            "fake-model",
        ])
        .env("AIBT_DATABASE_URL", &env.database_url)
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("aibt backtest");
    // Wait until the task has committed some steps, then back up at once.
    let started = Instant::now();
    loop {
        let tasks = env
            .aibt(&["task", "list", "--format", "json"])
            .success()
            .json();
        let running = tasks.as_array().into_iter().flatten().any(|task| {
            task["status"] == "RUNNING" && task["processed_items"].as_i64().unwrap_or(0) > 0
        });
        if running {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the task never ran: {tasks}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    env.aibt(&["db", "backup", "mid-run.db"]).success();
    // The copy is what is under test; the run itself need not finish.
    run.kill().expect("kill");
    run.wait().expect("wait");

    let copy = Env {
        database_url: format!("sqlite://{}", env.path("mid-run.db").display()),
        ..Env::sqlite()
    };
    let check = copy
        .aibt(&["db", "check", "--format", "json"])
        .success()
        .json();
    assert_eq!(check["integrity"], serde_json::json!(["ok"]));
    let tasks = copy
        .aibt(&["task", "list", "--format", "json"])
        .success()
        .json();
    let task = &tasks[0];
    // The copy caught the task mid-run, and whole: every committed step, nothing half-written.
    assert_eq!(task["status"], "RUNNING", "{task}");
    let processed = task["processed_items"].as_i64().expect("processed");
    let total = task["total_items"].as_i64().expect("total");
    assert!(processed > 0 && processed < total, "{task}");
    // One snapshot per bar committed: exactly up to the checkpoint.
    let next_bar = task["checkpoint"]["next_bar"].as_i64().expect("checkpoint");
    assert!(next_bar >= processed, "{task}");
    assert_eq!(rows(&check, "account_snapshots"), next_bar, "{check}");
}

#[test]
fn prune_removes_old_tasks_with_their_records_and_vacuum_gives_the_space_back() {
    let env = Env::sqlite();
    env.aibt(&MINUTE_RUN).success();
    env.aibt(&["backtest", "--symbol", "GOOG", "--format", "json"])
        .success();
    let before = env
        .aibt(&["db", "check", "--format", "json"])
        .success()
        .json();
    let records = rows(&before, "account_snapshots")
        + rows(&before, "trade_records")
        + rows(&before, "local_decisions");
    assert!(rows(&before, "account_snapshots") > 30_000, "{before}");

    let dry = env
        .aibt(&["task", "prune", "--older-than", "0h", "--dry-run"])
        .success();
    assert!(
        dry.stdout().contains("2 task(s) would be deleted"),
        "{}",
        dry.stdout()
    );
    let young = env
        .aibt(&["task", "prune", "--older-than", "90d"])
        .success();
    assert!(
        young.stdout().starts_with("0 task(s) deleted"),
        "{}",
        young.stdout()
    );
    let refused = env
        .aibt(&["task", "prune", "--older-than", "0h", "--status", "running"])
        .failure();
    assert!(refused.stderr().contains("status"), "{}", refused.stderr());
    let bad = env
        .aibt(&["task", "prune", "--older-than", "ninety"])
        .failure();
    assert!(bad.stderr().contains("--older-than"), "{}", bad.stderr());
    let unchanged = env
        .aibt(&["db", "check", "--format", "json"])
        .success()
        .json();
    assert_eq!(unchanged["tables"], before["tables"]);

    let pruned = env
        .aibt(&[
            "task",
            "prune",
            "--older-than",
            "0h",
            "--status",
            "completed",
        ])
        .success();
    assert!(
        pruned
            .stdout()
            .contains(&format!("2 task(s) deleted with {records} records")),
        "{}",
        pruned.stdout()
    );
    let after = env
        .aibt(&["db", "check", "--format", "json"])
        .success()
        .json();
    for table in [
        "tasks",
        "account_snapshots",
        "trade_records",
        "local_decisions",
    ] {
        assert_eq!(rows(&after, table), 0, "{table}: {after}");
    }

    let size = || std::fs::metadata(env.path("aibt.db")).expect("db").len();
    let grown = size();
    let vacuum = env.aibt(&["db", "vacuum"]).success();
    assert!(
        vacuum.stdout().starts_with("vacuumed"),
        "{}",
        vacuum.stdout()
    );
    assert!(
        size() < grown / 2,
        "the file kept its size: {grown} → {}",
        size()
    );
}
