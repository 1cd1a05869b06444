//! Dated context through the command line, as a user brings it: a CSV or Excel file for a
//! symbol, refused whole with the line of a bad date or of a day given twice, and then shown
//! to a model one day late, as the original system showed "yesterday's trend".

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aibt_testkit::{FakeLlm, Reply, decision};
use chrono::{Duration, NaiveDate};
use common::Env;
use serde_json::Value;

fn stored(env: &Env, symbol: &str) -> Vec<Value> {
    env.aibt(&["data", "context", "--symbol", symbol, "--format", "json"])
        .success()
        .json()
        .as_array()
        .expect("items")
        .clone()
}

#[test]
fn a_bad_or_repeated_date_names_its_line_and_stores_nothing() {
    let env = Env::sqlite();
    let bad = env.write(
        "bad.csv",
        "日期,trend\n2012年3月1日,up\n2012年3月32日,down\n",
    );
    let run = env
        .aibt(&[
            "data",
            "import-context",
            bad.to_str().unwrap(),
            "--symbol",
            "GOOG",
        ])
        .failure();
    assert!(
        run.stderr()
            .contains("bad.csv:3: column 日期: \"2012年3月32日\" is not a date"),
        "{}",
        run.stderr()
    );
    let twice = env.write(
        "twice.csv",
        "date,trend\n2012-03-01,up\n2012-03-02,up\n2012-03-01,down\n",
    );
    let run = env
        .aibt(&[
            "data",
            "import-context",
            twice.to_str().unwrap(),
            "--symbol",
            "GOOG",
        ])
        .failure();
    assert!(run.stderr().contains("twice.csv:4"), "{}", run.stderr());
    assert!(run.stderr().contains("lines 2 and 4"), "{}", run.stderr());
    assert!(stored(&env, "GOOG").is_empty());
    let nameless = env.write("ok.csv", "date,trend\n2012-03-01,up\n");
    let run = env
        .aibt(&[
            "data",
            "import-context",
            nameless.to_str().unwrap(),
            "--symbol",
            " ",
        ])
        .failure();
    assert!(
        run.stderr().contains("--symbol: must not be empty"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_model_sees_yesterdays_trend_and_never_todays() {
    let env = Env::sqlite();
    // A trend label for every calendar day of March 2012, in the Chinese date form.
    let mut csv = String::from("日期,trend,score\n");
    let first = NaiveDate::from_ymd_opt(2012, 3, 1).unwrap();
    for offset in 0..31 {
        let day = first + Duration::days(offset);
        csv.push_str(&format!(
            "{},trend of {day},{}\n",
            day.format("%Y年%-m月%-d日"),
            offset as f64 + 0.5
        ));
    }
    let file = env.write("trend.csv", &csv);
    let imported = env
        .aibt(&[
            "data",
            "import-context",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(imported["items"], 31);
    assert_eq!(imported["columns"], serde_json::json!(["trend", "score"]));
    assert_eq!(stored(&env, "GOOG").len(), 31);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeLlm::start(|_, _| {
        Reply::answer(decision("HOLD", 0.5, "wait"))
    }));
    let template = env.write(
        "t.j2",
        "{{ symbol }} at {{ now }}\n{% for c in context %}{{ c.date }}: {{ c.trend }} ({{ c.score }})\n{% endfor %}",
    );
    let run = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--start",
            "2012-03-05",
            "--end",
            "2012-03-30",
            "--template",
            template.to_str().unwrap(),
            "--base-url",
            &fake.base_url(),
            "--model",
            "m",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let task = run["task_id"].as_str().unwrap();
    let decisions = env
        .aibt(&[
            "task",
            "export",
            task,
            "--records",
            "decisions",
            "--format",
            "json",
        ])
        .success()
        .json()["decisions"]
        .as_array()
        .expect("decisions")
        .clone();
    assert!(decisions.len() >= 15);
    for row in &decisions {
        let prompt = row["prompt"].as_str().expect("prompt");
        let today: NaiveDate = row["analysis_date"].as_str().unwrap()[..10]
            .parse()
            .unwrap();
        let yesterday = today - Duration::days(1);
        let shown: Vec<&str> = prompt.lines().skip(1).collect();
        // The latest item is yesterday's; today's is not there; at most ten are shown.
        assert_eq!(
            shown.last().copied(),
            Some(
                format!(
                    "{yesterday}: trend of {yesterday} ({})",
                    (yesterday - first).num_days() as f64 + 0.5
                )
                .as_str()
            ),
            "{prompt}"
        );
        assert!(!prompt.contains(&format!("trend of {today}")), "{prompt}");
        assert!(shown.len() <= 10, "{prompt}");
    }
}

#[test]
fn an_excel_file_imports_like_a_csv() {
    let env = Env::sqlite();
    let xlsx = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../aibt-data/tests/fixtures/context.xlsx");
    let imported = env
        .aibt(&[
            "data",
            "import-context",
            xlsx.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(imported["items"], 4);
    assert_eq!(imported["first"], "2012-03-01");
    let items = stored(&env, "GOOG");
    assert_eq!(items[0]["data"]["趋势"], "上涨");
    // Visible from the end of its day.
    assert_eq!(items[0]["visible_at"], "2012-03-02T00:00:00Z");
}
