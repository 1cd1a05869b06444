//! Experiments as a user runs them: two templates × two symbols × three repeats, each with a
//! blind twin, in sample and out of sample, against a fake model whose answers follow the
//! request's seed when the temperature is above zero (as a real model's do).
//!
//! - through the CLI (`aibt experiment plan`, `run`, `show`) on SQLite and on PostgreSQL;
//! - through the HTTP API (`POST /api/v1/experiments`, run by `aibt serve`'s worker, followed
//!   by its progress events) on SQLite and on PostgreSQL;
//! - with `aibt worker` processes killed at random moments and restarted;
//! - stopped, paused, at a budget and resumed with a larger one;
//!
//! and every one of them gives the same leaderboard, whose every column is checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aibt_testkit::{FakeLlm, Reply, decision, prompt_of};
use common::Env;
use serde_json::{Value, json};

const AIBT: &str = env!("CARGO_BIN_EXE_aibt");

const TREND: &str = "Trend of {{ symbol }} at {{ now }}: close {{ bars[-1].close }}, \
SMA20 {{ indicators.sma_20 }}, RSI {{ indicators.rsi_14 }}.\nDecide.";
const MOMENTUM: &str = "Momentum of {{ symbol }} at {{ now }}: \
{% for b in bars[-3:] %}{{ b.change_pct }} {% endfor %}\nDecide.";

/// An answer that depends on the prompt, and at a temperature above zero on the seed too.
fn seeded_answer(body: &Value) -> Reply {
    let mut text = prompt_of(body);
    if body["temperature"].as_f64().unwrap_or(0.0) > 0.0 {
        text.push_str(&body["seed"].to_string());
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let action = ["BUY", "SELL", "HOLD", "HOLD"][(hash % 4) as usize];
    Reply::answer(decision(action, 0.5 + (hash % 50) as f64 / 100.0, "seeded"))
}

fn fake(runtime: &tokio::runtime::Runtime) -> FakeLlm {
    runtime.block_on(FakeLlm::start(|_, body| seeded_answer(body)))
}

/// The spec: `trend` through a stored, priced AI config; `momentum` through an inline one.
fn spec(env: &Env, base_url: &str) -> std::path::PathBuf {
    env.write("trend.j2", TREND);
    env.write("momentum.j2", MOMENTUM);
    let text = format!(
        r#"
name = "two prompts, two symbols"
seed = 11

[[series]]
symbol = "GOOG"
[[series]]
symbol = "SPY"

[periods]
in_sample = {{ start = "2012-02-01", end = "2012-02-29" }}
out_of_sample = {{ start = "2012-03-01", end = "2012-03-30" }}

[account]
cash = "10000"
commission = "0.001"

[[strategies]]
name = "trend"
template = "trend.j2"
ai_config = "priced"
repeats = 3
temperature = 0.7
blind_twin = true

[[strategies]]
name = "momentum"
template = "momentum.j2"
base_url = "{base_url}"
model = "fake-model"
repeats = 3
temperature = 0.7
blind_twin = true

[baselines]
random = 10
"#
    );
    env.write("spec.toml", &text)
}

fn add_priced_config(env: &Env, base_url: &str) {
    env.aibt(&[
        "ai-config",
        "add",
        "priced",
        "--base-url",
        base_url,
        "--model",
        "fake-model",
        "--price-input-per-million",
        "0.5",
        "--price-output-per-million",
        "1.5",
        "--knowledge-cutoff",
        "2024-06-30",
    ])
    .success();
}

/// What two runs of the same experiment must share: everything but ids, timings and how the
/// calls were spread over retries and the cache.
fn comparable(board: &Value) -> Value {
    let mut board = board.clone();
    let object = board.as_object_mut().unwrap();
    for key in ["experiment_id", "progress"] {
        object.remove(key);
    }
    let strip_cost = |cost: &mut Value| {
        if let Some(cost) = cost.as_object_mut() {
            for key in [
                "latency_mean_ms",
                "latency_p95_ms",
                "llm_calls",
                "cache_hits",
            ] {
                cost.remove(key);
            }
        }
    };
    strip_cost(&mut object["cost"]);
    for row in object["rows"].as_array_mut().unwrap() {
        let row = row.as_object_mut().unwrap();
        row.remove("task_ids");
        strip_cost(&mut row["cost"]);
    }
    board
}

/// Every column of the leaderboard, as the issue lists them.
fn check_board(board: &Value) {
    assert_eq!(board["status"], "COMPLETED", "{board:#}");
    assert_eq!(board["progress"]["tasks"], 56);
    assert_eq!(board["progress"]["finished"], 56);
    let rows = board["rows"].as_array().unwrap();
    let strategies: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "strategy").collect();
    // 2 templates × 2 symbols × 2 periods × (named, blind).
    assert_eq!(strategies.len(), 16);
    let mut consistency_below_one = false;
    for row in &strategies {
        assert_eq!(
            (row["finished"].as_u64(), row["runs"].as_u64()),
            (Some(3), Some(3)),
            "{row}"
        );
        for measure in ["return_pct", "sharpe", "max_drawdown_pct", "trades"] {
            let s = &row[measure];
            let (mean, min, max) = (
                s["mean"].as_f64().unwrap(),
                s["min"].as_f64().unwrap(),
                s["max"].as_f64().unwrap(),
            );
            assert!(min <= mean && mean <= max, "{measure}: {s}");
            assert!(s["std"].is_number(), "three repeats have a spread: {s}");
        }
        let beat = row["beat_buy_hold"].as_f64().unwrap();
        assert!(
            [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
                .iter()
                .any(|x| (x - beat).abs() < 1e-9),
            "{beat}"
        );
        let luck = row["luck_percentile"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&luck));
        let c = &row["vs_buy_hold"]["return_pct"];
        let (estimate, low, high, p) = (
            c["estimate"].as_f64().unwrap(),
            c["low"].as_f64().unwrap(),
            c["high"].as_f64().unwrap(),
            c["p_value"].as_f64().unwrap(),
        );
        assert!(low <= high && p > 0.0 && p <= 1.0, "{c}");
        assert!(estimate.is_finite());
        for probability in ["psr", "dsr"] {
            let p = row[probability].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "{probability} {p}");
        }
        if row["blind"] == true {
            assert!(row["memory_gap"].is_null());
        } else {
            assert!(
                row["memory_gap"]["return_pct"]["estimate"].is_number(),
                "{row}"
            );
        }
        let consistency = row["consistency"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&consistency));
        consistency_below_one |= consistency < 1.0;
        let mix = &row["action_mix"];
        let total: f64 = ["buy", "sell", "short", "cover", "hold"]
            .iter()
            .map(|k| mix[*k].as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{mix}");
        assert!(mix["degenerate"].is_boolean());
        let cost = &row["cost"];
        assert!(cost["prompt_tokens"].as_i64().unwrap() > 0);
        assert!(cost["llm_calls"].as_i64().unwrap() > 0);
        assert_eq!(cost["failed_decisions"], 0);
        // The stored config's model was trained after 2012: its rows are flagged.
        let warning = &row["memorisation_warning"];
        if row["variant"] == "trend" {
            assert!(
                warning.as_str().unwrap().contains("2024-06-30"),
                "{warning}"
            );
        } else {
            assert!(
                warning.is_null(),
                "an inline config has no cutoff: {warning}"
            );
        }
        if row["variant"] == "trend" {
            // 0.5 and 1.5 a million tokens, to the last place.
            let expected = cost["prompt_tokens"].as_f64().unwrap() * 0.5e-6
                + cost["completion_tokens"].as_f64().unwrap() * 1.5e-6;
            let money: f64 = cost["money"].as_str().unwrap().parse().unwrap();
            assert!((money - expected).abs() < 1e-8, "{money} vs {expected}");
        } else {
            assert!(cost["money"].is_null(), "an inline config has no price");
        }
    }
    assert!(
        consistency_below_one,
        "seeded repeats at temperature 0.7 should disagree somewhere"
    );
    // Baselines on each series and period: buy-and-hold and cash; random runs beside them.
    for (variant, count) in [("buy-and-hold", 4), ("always-hold", 4), ("random", 4)] {
        let found: Vec<&Value> = rows.iter().filter(|r| r["variant"] == variant).collect();
        assert_eq!(found.len(), count, "{variant}");
    }
    for cash in rows.iter().filter(|r| r["variant"] == "always-hold") {
        assert_eq!(cash["return_pct"]["mean"], 0.0);
    }
    for random in rows.iter().filter(|r| r["variant"] == "random") {
        assert_eq!(random["finished"], 10);
    }
    // Ranked by in-sample mean return.
    let in_sample: Vec<f64> = strategies
        .iter()
        .filter(|r| r["period"] == "in_sample")
        .map(|r| r["return_pct"]["mean"].as_f64().unwrap())
        .collect();
    assert_eq!(in_sample.len(), 8);
    assert!(in_sample.windows(2).all(|w| w[0] >= w[1]), "{in_sample:?}");
    // In sample beside out of sample, with the drop.
    let splits = board["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 8);
    for split in splits {
        let (a, b, drop) = (
            split["in_sample_return_pct"].as_f64().unwrap(),
            split["out_of_sample_return_pct"].as_f64().unwrap(),
            split["return_drop_pct"].as_f64().unwrap(),
        );
        assert!((b - a - drop).abs() < 1e-9);
    }
    assert!(board["cost"]["prompt_tokens"].as_i64().unwrap() > 0);
}

/// Plans, runs and shows the experiment through the CLI against `database_url`.
fn through_the_cli(env: &Env, base_url: &str) -> Value {
    add_priced_config(env, base_url);
    let spec = spec(env, base_url);
    let plan = env
        .aibt(&[
            "experiment",
            "plan",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(plan["tasks"], 56);
    assert_eq!(plan["model_tasks"], 48);
    assert_eq!(plan["cached"], 0);
    assert_eq!(plan["calls"], plan["model_decisions"]);
    assert!(plan["prompt_tokens"].as_u64().unwrap() > 0);
    let run = env
        .aibt(&[
            "experiment",
            "run",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success()
        .json();
    check_board(&run);
    let id = run["experiment_id"].as_str().unwrap();
    let shown = env
        .aibt(&["experiment", "show", id, "--format", "json"])
        .success()
        .json();
    assert_eq!(comparable(&shown), comparable(&run));
    let listed = env
        .aibt(&["experiment", "list", "--format", "json"])
        .success()
        .json();
    assert_eq!(listed[0]["status"], "COMPLETED", "{listed}");
    // Planned again, every call is in the cache now.
    let again = env
        .aibt(&[
            "experiment",
            "plan",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(again["calls"], 0, "{again}");
    run
}

#[test]
fn an_experiment_through_the_cli_on_sqlite_and_postgres_gives_one_leaderboard() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = fake(&runtime);
    let sqlite = through_the_cli(&Env::sqlite(), &fake.base_url());
    let database = aibt_testkit::postgres::TestDatabase::new("aibt_exp");
    let mut env = Env::sqlite();
    env.database_url = database.url();
    let postgres = through_the_cli(&env, &fake.base_url());
    assert_eq!(comparable(&sqlite), comparable(&postgres));
}

/// `aibt serve` (with or without its worker) on a free port (killed on drop), and a client.
struct Server {
    _served: common::Served,
    base: String,
    client: reqwest::blocking::Client,
}

impl Server {
    fn start(env: &Env, worker: bool) -> Server {
        let served = common::Served::start(&env.database_url, env.dir.path(), worker);
        Server {
            base: served.base.clone(),
            _served: served,
            client: reqwest::blocking::Client::new(),
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Polls the leaderboard until the experiment has ended.
    fn finished_board(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, board) = self.call(
                reqwest::Method::GET,
                &format!("/api/v1/experiments/{id}/leaderboard"),
                None,
            );
            assert_eq!(status, 200, "{board}");
            if board["status"] != "RUNNING" {
                return board;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "{:#}",
                board["progress"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The spec as the API takes it: JSON with the templates inline.
fn json_spec(env: &Env, base_url: &str) -> Value {
    let text = std::fs::read_to_string(spec(env, base_url)).unwrap();
    let mut value: Value = serde_json::to_value(
        aibt_engine::experiment::ExperimentSpec::from_toml(&text).expect("spec"),
    )
    .unwrap();
    for strategy in value["strategies"].as_array_mut().unwrap() {
        let file = strategy["template"].as_str().unwrap().to_string();
        strategy["template"] = Value::Null;
        strategy["template_content"] = json!(std::fs::read_to_string(env.path(&file)).unwrap());
    }
    value
}

/// Plans, creates and follows the experiment through `aibt serve`'s API (its worker running
/// the tasks), with the progress events read as they come.
fn through_the_api(env: &Env, base_url: &str) -> Value {
    add_priced_config(env, base_url);
    let server = Server::start(env, true);
    let body = json_spec(env, base_url);
    let (status, planned) = server.call(
        reqwest::Method::POST,
        "/api/v1/experiments/plan",
        Some(body.clone()),
    );
    assert_eq!(status, 200, "{planned}");
    assert_eq!(planned["tasks"], 56);
    let (status, created) = server.call(
        reqwest::Method::POST,
        "/api/v1/experiments",
        Some(body.clone()),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["runs"].as_array().unwrap().len(), 56);
    let id = created["experiment_id"].as_str().unwrap().to_string();
    // The progress events, read until the stream ends with the experiment.
    let events = {
        let url = format!(
            "{}/api/v1/experiments/{id}/events?interval_ms=100",
            server.base
        );
        std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap()
                .get(url)
                .send()
                .and_then(|r| r.text())
                .expect("events")
        })
    };
    let board = server.finished_board(&id);
    check_board(&board);
    let events = events.join().unwrap();
    assert!(events.contains("event: progress"), "{events}");
    let end = events
        .split("event: end\ndata: ")
        .nth(1)
        .expect("an end event");
    let end: Value = serde_json::from_str(end.lines().next().unwrap()).unwrap();
    assert_eq!(
        (end["status"].as_str(), end["finished"].as_u64()),
        (Some("COMPLETED"), Some(56))
    );
    // A spec with a mistake is refused with the field at fault, and creates nothing.
    let mut bad = body;
    bad["strategies"][0]["repeats"] = json!(0);
    let (status, refused) = server.call(reqwest::Method::POST, "/api/v1/experiments", Some(bad));
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["field"], "spec.strategies[0].repeats");
    let (_, listed) = server.call(reqwest::Method::GET, "/api/v1/experiments", None);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["items"][0]["status"], "COMPLETED",
        "as people see it, not as stored"
    );
    // Pausing a finished experiment means nothing: refused, and it stays COMPLETED.
    let (status, _) = server.call(
        reqwest::Method::POST,
        &format!("/api/v1/experiments/{id}/pause"),
        None,
    );
    assert_eq!(status, 409);
    board
}

#[test]
fn an_experiment_through_the_api_on_sqlite_and_postgres_matches_the_cli() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = fake(&runtime);
    let reference = through_the_cli(&Env::sqlite(), &fake.base_url());
    let sqlite = through_the_api(&Env::sqlite(), &fake.base_url());
    assert_eq!(comparable(&sqlite), comparable(&reference));
    let database = aibt_testkit::postgres::TestDatabase::new("aibt_exp_api");
    let mut env = Env::sqlite();
    env.database_url = database.url();
    let postgres = through_the_api(&env, &fake.base_url());
    assert_eq!(comparable(&postgres), comparable(&reference));
}

#[test]
fn an_experiment_whose_workers_are_killed_ends_with_the_same_leaderboard() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = fake(&runtime);
    let reference = through_the_cli(&Env::sqlite(), &fake.base_url());

    // Workers killed at random moments and restarted: the same leaderboard.
    let env = Env::sqlite();
    add_priced_config(&env, &fake.base_url());
    let server = Server::start(&env, false);
    let (_, created) = server.call(
        reqwest::Method::POST,
        "/api/v1/experiments",
        Some(json_spec(&env, &fake.base_url())),
    );
    let id = created["experiment_id"].as_str().unwrap().to_string();
    let spawn = |n: u32| {
        Command::new(AIBT)
            .args([
                "worker",
                "--worker-id",
                &format!("w{n}"),
                "--lease-seconds",
                "2",
                "--poll-ms",
                "50",
            ])
            .env("AIBT_DATABASE_URL", &env.database_url)
            .env("AIBT_SECRET_KEY_FILE", env.path("secret.key"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aibt worker")
    };
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut kills = 0;
    let mut n = 0;
    loop {
        let mut worker = spawn(n);
        n += 1;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 400));
        let (_, detail) = server.call(
            reqwest::Method::GET,
            &format!("/api/v1/experiments/{id}"),
            None,
        );
        if detail["status"] != "RUNNING" || kills >= 8 {
            let _ = worker.kill();
            let _ = worker.wait();
            break;
        }
        worker.kill().expect("SIGKILL");
        let _ = worker.wait();
        kills += 1;
    }
    // One last worker finishes what is left.
    let mut last = spawn(n);
    let board = server.finished_board(&id);
    let _ = last.kill();
    let _ = last.wait();
    assert!(kills >= 3, "only {kills} kills happened before the end");
    check_board(&board);
    assert_eq!(comparable(&board), comparable(&reference));
}

#[test]
fn an_experiment_pauses_at_its_budget_and_a_larger_one_ends_it_as_without() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fake = fake(&runtime);
    let reference = through_the_cli(&Env::sqlite(), &fake.base_url());
    let tokens = reference["cost"]["prompt_tokens"].as_u64().unwrap()
        + reference["cost"]["completion_tokens"].as_u64().unwrap();

    let env = Env::sqlite();
    add_priced_config(&env, &fake.base_url());
    let spec = spec(&env, &fake.base_url());
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        format!("{text}\n[budget]\ntokens = {}\n", tokens / 2),
    )
    .unwrap();
    let plan = env
        .aibt(&[
            "experiment",
            "plan",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(plan["budget"]["tokens"], tokens / 2);
    assert!(
        plan["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("budget may pause")),
        "{plan}"
    );
    let run = env
        .aibt(&[
            "experiment",
            "run",
            spec.to_str().unwrap(),
            "--format",
            "json",
        ])
        .success();
    let paused = run.json();
    assert_eq!(paused["status"], "PAUSED", "{paused:#}");
    let reason = paused["error_message"].as_str().unwrap();
    assert!(reason.starts_with("budget of "), "{reason}");
    assert!(run.stderr().contains("--budget"), "{}", run.stderr());
    let spent = paused["cost"]["prompt_tokens"].as_u64().unwrap()
        + paused["cost"]["completion_tokens"].as_u64().unwrap();
    assert!(spent <= tokens / 2, "{spent} spent of {}", tokens / 2);
    assert!(paused["progress"]["paused"].as_u64().unwrap() > 0);

    let id = paused["experiment_id"].as_str().unwrap();
    let budget = format!("{}tokens", tokens * 2);
    let resumed = env
        .aibt(&[
            "experiment",
            "resume",
            id,
            "--budget",
            &budget,
            "--format",
            "json",
        ])
        .success()
        .json();
    check_board(&resumed);
    assert_eq!(resumed["error_message"], Value::Null);
    assert_eq!(comparable(&resumed), comparable(&reference));
}
