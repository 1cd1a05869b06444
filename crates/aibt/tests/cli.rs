//! The `aibt` command line, driven as a user drives it.

mod common;

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
