//! The `aibt` command line, driven as a user drives it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Env, sample_dir};

fn bar_count(env: &Env) -> i64 {
    let run = env.aibt(&["data", "list", "--format", "json"]).success();
    run.json()["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| s["bars"].as_i64().expect("bars"))
        .sum()
}

#[test]
fn every_bundled_data_file_imports() {
    let env = Env::sqlite();
    let mut files: Vec<_> = std::fs::read_dir(sample_dir())
        .expect("sample dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 18);
    let mut expected_bars = 0;
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).expect("read");
        expected_bars += text.lines().filter(|l| !l.trim().is_empty()).count() as i64 - 1;
        // Each file its own series, so files of one symbol and granularity cannot collide.
        let symbol = format!("S{i}");
        let market = if i % 2 == 0 { "US" } else { "coin" };
        env.aibt(&[
            "data",
            "import",
            file.to_str().expect("path"),
            "--symbol",
            &symbol,
            "--market",
            market,
            "--granularity",
            "daily",
        ])
        .success();
    }
    assert_eq!(bar_count(&env), expected_bars);
    let check = env.aibt(&["db", "check"]).success();
    assert!(
        check.stdout().contains("integrity       ok"),
        "{}",
        check.stdout()
    );
}

#[test]
fn a_broken_file_names_line_and_reason_and_stores_nothing() {
    let env = Env::sqlite();
    let good = env.write(
        "good.csv",
        "timestamp,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n2024-01-02,10.5,12,10,11,200\n",
    );
    env.aibt(&[
        "data",
        "import",
        good.to_str().unwrap(),
        "--symbol",
        "X",
        "--market",
        "US",
        "--granularity",
        "daily",
    ])
    .success();
    let cases = [
        (
            "missing.csv",
            "timestamp,open,high,low,close,volume\n2024-01-03,1,2,1,1,1\n2024-01-04,1,,1,1,1\n",
            ":3: column high: missing value",
        ),
        (
            "nan.csv",
            "timestamp,open,high,low,close,volume\n2024-01-03,1,2,1,1,1\n2024-01-04,1,2,1,NaN,1\n",
            ":3: column close:",
        ),
        (
            "inverted.csv",
            "timestamp,open,high,low,close,volume\n2024-01-03,1,1,2,1,1\n",
            ":2: column high: high 1.00000000 is below low 2.00000000",
        ),
        (
            "negative.csv",
            "timestamp,open,high,low,close,volume\n2024-01-03,-1,2,-2,1,1\n",
            ":2: column open: price -1.00000000 must be greater than 0",
        ),
        (
            "duplicate.csv",
            "timestamp,open,high,low,close,volume\n2024-01-03,1,2,1,1,1\n2024-01-04,1,2,1,1,1\n2024-01-03,1,2,1,1,1\n",
            ":4: column timestamp: duplicate timestamp 2024-01-03T00:00:00Z: lines 2 and 4",
        ),
    ];
    for (name, content, expected) in cases {
        let path = env.write(name, content);
        let run = env
            .aibt(&[
                "data",
                "import",
                path.to_str().unwrap(),
                "--symbol",
                "X",
                "--market",
                "US",
                "--granularity",
                "daily",
            ])
            .failure();
        assert!(run.stderr().contains(expected), "{name}: {}", run.stderr());
        assert!(
            run.stderr().contains(name),
            "{name}: the file is not named: {}",
            run.stderr()
        );
        assert_eq!(bar_count(&env), 2, "{name} changed the table");
    }
    // A file that changes a stored bar is refused as a whole, its new bars included.
    let changed = env.write(
        "changed.csv",
        "timestamp,open,high,low,close,volume\n2024-01-02,10.5,99,10,99,200\n2024-01-03,1,2,1,1,1\n",
    );
    let run = env
        .aibt(&[
            "data",
            "import",
            changed.to_str().unwrap(),
            "--symbol",
            "X",
            "--market",
            "US",
            "--granularity",
            "daily",
        ])
        .failure();
    assert!(run.stderr().contains("--replace"), "{}", run.stderr());
    assert_eq!(bar_count(&env), 2);
    env.aibt(&[
        "data",
        "import",
        changed.to_str().unwrap(),
        "--symbol",
        "X",
        "--market",
        "US",
        "--granularity",
        "daily",
        "--replace",
    ])
    .success();
    assert_eq!(bar_count(&env), 3);
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    let env = Env::sqlite();
    let run = env
        .aibt(&[
            "data",
            "import",
            "nope.csv",
            "--symbol",
            "X",
            "--market",
            "EU",
            "--granularity",
            "daily",
        ])
        .failure();
    assert!(
        run.stderr().contains("unknown market type \"EU\""),
        "{}",
        run.stderr()
    );
    let run = env
        .aibt(&[
            "data",
            "import",
            "nope.csv",
            "--symbol",
            "X",
            "--market",
            "US",
            "--granularity",
            "weekly",
        ])
        .failure();
    assert!(
        run.stderr()
            .contains("expected one of daily, hourly, minute"),
        "{}",
        run.stderr()
    );
    let run = env
        .aibt(&[
            "data",
            "import",
            "nope.csv",
            "--symbol",
            "X",
            "--market",
            "US",
            "--granularity",
            "daily",
        ])
        .failure();
    assert!(
        run.stderr().contains("reading nope.csv"),
        "{}",
        run.stderr()
    );
    let run = env
        .aibt(&["--database-url", "mysql://x", "db", "check"])
        .failure();
    assert!(
        run.stderr().contains("invalid database URL"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_default_database_is_created_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_aibt"))
        .args(["db", "migrate"])
        .env_remove("AIBT_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(output.status.success());
    assert!(dir.path().join("backtesting_dev.db").exists());
}

#[test]
fn backup_copies_the_database() {
    let env = Env::sqlite();
    let good = env.write("g.csv", "date,open,high,low,close\n2024-01-01,1,2,1,1\n");
    env.aibt(&[
        "data",
        "import",
        good.to_str().unwrap(),
        "--symbol",
        "X",
        "--market",
        "US",
        "--granularity",
        "daily",
    ])
    .success();
    let copy = env.path("copy.db");
    env.aibt(&["db", "backup", copy.to_str().unwrap()])
        .success();
    let url = format!("sqlite://{}", copy.display());
    let run = env
        .aibt(&["--database-url", &url, "data", "list", "--format", "json"])
        .success();
    assert_eq!(run.json()["series"][0]["bars"], 1);
}

#[test]
fn a_fresh_machine_backtests_the_bundled_sample() {
    let env = Env::sqlite();
    let run = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--strategy",
            "builtin:sma-cross",
            "--format",
            "json",
        ])
        .success();
    let out = run.json();
    assert_eq!(out["status"], "COMPLETED");
    let stats = &out["stats"];
    for key in [
        "equity_final",
        "equity_peak",
        "return_pct",
        "buy_hold_return_pct",
        "return_ann_pct",
        "volatility_ann_pct",
        "sharpe_ratio",
        "sharpe_ratio_simple",
        "sortino_ratio",
        "calmar_ratio",
        "max_drawdown_pct",
        "avg_drawdown_pct",
        "max_drawdown_duration",
        "avg_drawdown_duration",
        "num_trades",
        "win_rate_pct",
        "best_trade_pct",
        "worst_trade_pct",
        "avg_trade_pct",
        "profit_factor",
        "expectancy_pct",
        "sqn",
        "exposure_time_pct",
        "total_fees",
        "start",
        "end",
    ] {
        assert!(!stats[key].is_null(), "stats.{key} is missing: {stats}");
    }
    // backtesting.py's SmaCross(10, 20) on GOOG with 10,000 and 0.1% commission.
    assert_eq!(stats["equity_final"], "69336.74099000");
    assert!(
        run.stderr()
            .contains("imported 2148 bars of GOOG US daily from bundled sample"),
        "{}",
        run.stderr()
    );
    // No progress bar when stderr is not a terminal.
    assert!(!run.stderr().contains("decisions"), "{}", run.stderr());

    let task_id = out["task_id"].as_str().unwrap().to_string();
    let show = env
        .aibt(&["task", "show", &task_id, "--format", "json"])
        .success();
    assert_eq!(show.json()["stats"], *stats);
    let table = env.aibt(&["task", "show", &task_id]).success();
    assert!(
        table
            .stdout()
            .contains("Equity Final [$]          69336.74099000"),
        "{}",
        table.stdout()
    );
    let list = env.aibt(&["task", "list"]).success();
    assert!(list.stdout().contains(&task_id));
}

#[test]
fn exports_hold_every_trade_decision_and_snapshot() {
    let env = Env::sqlite();
    let out = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--end",
            "2006-12-31",
            "--format",
            "json",
        ])
        .success()
        .json();
    let task_id = out["task_id"].as_str().unwrap().to_string();
    let export = env
        .aibt(&["task", "export", &task_id, "--format", "json"])
        .success()
        .json();
    let snapshots = export["snapshots"].as_array().unwrap();
    let bars = out["stats"]["num_bars"].as_u64().unwrap() as usize;
    assert_eq!(snapshots.len(), bars);
    // A built-in rule records the decisions that trade; every decision counts in progress.
    let decisions = export["decisions"].as_array().unwrap();
    assert!(decisions.iter().all(|d| d["decision_result"] != "HOLD"));
    assert_eq!(
        export["task"]["processed_items"].as_u64().unwrap() as usize,
        bars - 20
    );
    let with_holds = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--end",
            "2006-12-31",
            "--record-holds",
            "--format",
            "json",
        ])
        .success()
        .json();
    let id = with_holds["task_id"].as_str().unwrap().to_string();
    let all = env
        .aibt(&[
            "task",
            "export",
            &id,
            "--format",
            "json",
            "--records",
            "decisions",
        ])
        .success()
        .json();
    assert_eq!(all["decisions"].as_array().unwrap().len(), bars - 20);
    assert_eq!(with_holds["stats"], out["stats"]);
    let last = snapshots.last().unwrap();
    assert_eq!(last["total_value"], out["stats"]["equity_final"]);
    assert!(
        last["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2006-12-29")
    );
    let trades = export["trades"].as_array().unwrap();
    assert!(!trades.is_empty());

    let csv = env
        .aibt(&[
            "task",
            "export",
            &task_id,
            "--format",
            "csv",
            "--records",
            "trades",
        ])
        .success()
        .stdout();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("trade_id,task_id,account_id,stock_symbol,trade_action,quantity,price"),
        "{header}"
    );
    assert_eq!(lines.count(), trades.len());
    let path = env.path("snapshots.csv");
    env.aibt(&[
        "task",
        "export",
        &task_id,
        "--format",
        "csv",
        "--records",
        "snapshots",
        "--output",
        path.to_str().unwrap(),
    ])
    .success();
    assert_eq!(
        std::fs::read_to_string(path).unwrap().lines().count(),
        bars + 1
    );
}

#[test]
fn backtest_imports_its_data_file_and_refuses_bad_flags() {
    let env = Env::sqlite();
    let mut csv = String::from("date,open,high,low,close,volume\n");
    for day in 0..60 {
        let price = 100.0 + ((day as f64) / 5.0).sin() * 10.0;
        csv.push_str(
            &format!("2024-01-01T00:00:00Z,{price},{price},{price},{price},1\n").replace(
                "2024-01-01",
                &format!("2024-{:02}-{:02}", 1 + day / 28, 1 + day % 28),
            ),
        );
    }
    let file = env.write("mine.csv", &csv);
    let out = env
        .aibt(&[
            "backtest",
            "--symbol",
            "MINE",
            "--data",
            file.to_str().unwrap(),
            "--param",
            "fast=3",
            "--param",
            "slow=7",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(out["status"], "COMPLETED");
    assert_eq!(out["stats"]["num_bars"], 60);

    let refusals: [(&[&str], &str); 10] = [
        (
            &[
                "backtest", "--symbol", "MINE", "--param", "fast=30", "--param", "slow=7",
            ],
            "params.fast: fast (30) must be shorter than slow (7)",
        ),
        (
            &["backtest", "--symbol", "MINE", "--strategy", "builtin:nope"],
            "unknown strategy \"builtin:nope\"",
        ),
        (
            &["backtest", "--symbol", "MINE", "--cash=-5"],
            "--cash: must be greater than 0",
        ),
        (
            &["backtest", "--symbol", "MINE", "--commission", "1.5"],
            "--commission-buy: must be at least 0 and below 1",
        ),
        (
            &["backtest", "--symbol", "MINE", "--commission", "abc"],
            "--commission: rate \"abc\" is not a decimal number",
        ),
        (
            &["backtest", "--symbol", "MINE", "--fill", "later"],
            "fill: \"later\" is not a fill rule",
        ),
        (
            &["backtest", "--symbol", "MINE", "--start", "2030-01-01"],
            "start_date:",
        ),
        (
            &["backtest", "--symbol", "NOPE"],
            "no bars stored for NOPE US daily",
        ),
        (
            &["backtest", "--symbol", "MINE", "--interval", "0"],
            "decision_interval: must be at least 1",
        ),
        (
            &["task", "show", "no-such-task"],
            "task \"no-such-task\" not found",
        ),
    ];
    for (args, reason) in refusals {
        let bad = env.aibt(args).failure();
        assert!(bad.stderr().contains(reason), "{args:?}: {}", bad.stderr());
    }
}

#[test]
fn reports_of_an_experiment_and_a_task_are_written_to_a_file_or_standard_output() {
    let env = Env::sqlite();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rules-experiment.toml");
    let run = env
        .aibt(&[
            "experiment",
            "run",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success();
    let board = run.json();
    assert_eq!(board["status"], "COMPLETED");
    let id = board["experiment_id"].as_str().unwrap();

    let out = env.path("report.html");
    let written = env
        .aibt(&["experiment", "report", id, "--out", out.to_str().unwrap()])
        .success();
    assert!(
        written.stderr().contains("report written to"),
        "{}",
        written.stderr()
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains(r#"id="leaderboard""#));
    assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("http"));
    assert_eq!(html.matches("<link").count(), 1, "more than the empty icon");
    assert!(html.contains(r#"<html lang="en">"#));

    let chinese = env
        .aibt(&["experiment", "report", id, "--lang", "zh"])
        .success();
    assert!(chinese.stdout().contains(r#"<html lang="zh-CN">"#));
    assert!(chinese.stdout().contains("排行榜"));

    let task = board["rows"][0]["task_ids"][0].as_str().unwrap();
    let report = env.aibt(&["task", "report", task]).success();
    assert!(report.stdout().contains(r#"id="trades""#) && report.stdout().contains("<svg"));
    let missing = env.aibt(&["task", "report", "nope"]).failure();
    assert!(
        missing.stderr().contains("not found"),
        "{}",
        missing.stderr()
    );
    env.aibt(&["experiment", "report", id, "--lang", "fr"])
        .failure();
}
