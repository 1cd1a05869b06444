//! The web UI in a real browser: `aibt serve` on 127.0.0.1 (a SQLite file, no worker of its
//! own), and `tests/browser/ui.test.mjs` driving Debian's headless Chromium through
//! playwright-core. It creates an account and a template, starts a backtest and watches its
//! progress reach 100% without a reload (a worker process is started mid-way), checks the
//! task page's charts, markers and statistics, opens a decision's prompt, switches to
//! Chinese, uploads a broken CSV, previews and imports a Chinese export and a file whose
//! unknown headers are mapped in the form; then it launches the example experiment from the
//! Experiments form, watches its leaderboard fill in until COMPLETED, and opens its report.
//! Screenshots of every step land in `target/ui-screenshots/`.
//!
//! Needs `node`, `/usr/bin/chromium` (or `CHROMIUM`) and `npm ci` in `tests/browser`; `bash
//! .ci/run` installs all three.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("ui-screenshots"))
        .unwrap_or_else(|| PathBuf::from("ui-screenshots"))
}

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_ui_works_in_headless_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (bash .ci/run does)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci` in {} (bash .ci/run does)",
        browser_dir().display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("aibt.db").display());
    let key_file = dir.path().join("secret.key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aibt"))
        .args(["serve", "--no-worker", "--addr", "127.0.0.1:0"])
        .env("AIBT_DATABASE_URL", &database_url)
        .env("AIBT_SECRET_KEY_FILE", &key_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("aibt serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's address");
    let _serve = Serve(child);
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let shots = screenshots();
    let output = Command::new("node")
        .arg(browser_dir().join("ui.test.mjs"))
        .current_dir(browser_dir())
        .env("AIBT_URL", &url)
        .env("AIBT_BIN", env!("CARGO_BIN_EXE_aibt"))
        .env("AIBT_DATABASE_URL", &database_url)
        .env("AIBT_SECRET_KEY_FILE", &key_file)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node: install Node.js (bash .ci/run uses the machine's)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}\nscreenshots: {}", shots.display());
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(shots.join("task-page.png").exists());
    assert!(shots.join("15-experiment-report.png").exists());
}
