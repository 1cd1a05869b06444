//! Workers as separate processes, as they run in production: `aibt serve --no-worker` takes
//! the requests, `aibt worker` processes run the tasks.
//!
//! - The kill test: a worker is killed with SIGKILL at random moments, at least ten times,
//!   and restarted each time; the tasks complete, and their decisions, trades, snapshots and
//!   statistics equal those of an uninterrupted run, with no row twice.
//! - The multi-worker test on PostgreSQL: three workers and thirty tasks; every task runs
//!   exactly once (one claim) to completion.
//! - The shared-limit test on PostgreSQL: three workers run six model tasks of one AI config
//!   limited to four calls in flight, against a fake server that counts them, while workers
//!   are killed and restarted: never more than four at once, and every task ends with the
//!   uninterrupted run's records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of};
use serde_json::{Value, json};

const AIBT: &str = env!("CARGO_BIN_EXE_aibt");

fn sample(file: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../aibt-data/sample/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample")
}

/// `aibt serve --no-worker` on a free port (killed on drop), and a client of it.
struct Api {
    _served: common::Served,
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn start(database_url: &str, dir: &std::path::Path) -> Api {
        let served = common::Served::start(database_url, dir, false);
        Api {
            base: served.base.clone(),
            _served: served,
            client: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn import(&self, file: &str, symbol: &str, market: &str, granularity: &str) {
        let response = self
            .client
            .post(format!(
                "{}/api/v1/market-data/import?symbol={symbol}&market_type={market}&time_granularity={granularity}",
                self.base
            ))
            .header("content-type", "text/csv")
            .body(sample(file))
            .send()
            .await
            .expect("import");
        assert!(response.status().is_success());
    }

    /// Creates something and returns its id, the answer's field `id_field`.
    async fn create(&self, path: &str, body: Value, id_field: &str) -> String {
        self.post(path, body).await[id_field]
            .as_str()
            .unwrap_or_else(|| panic!("{path} answered no {id_field}"))
            .to_string()
    }

    /// A task's records of one kind, without what differs between two runs of one task.
    async fn comparable_records(&self, task_id: &str, kind: &str) -> Vec<Value> {
        self.records(task_id, kind)
            .await
            .into_iter()
            .map(|r| comparable(r, task_id))
            .collect()
    }

    /// Every record of one kind of a task, without the ids and times that name the task.
    async fn records(&self, task_id: &str, kind: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tasks/{task_id}/{kind}?limit=5000&cursor={c}"),
                None => format!("/api/v1/tasks/{task_id}/{kind}?limit=5000"),
            };
            let page = self.get(&path).await;
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return out,
            }
        }
    }
}

/// Strips what differs between two runs of the same task: ids derived from the task id, the
/// wall-clock times and latencies of the run.
fn comparable(mut row: Value, task_id: &str) -> Value {
    if let Value::Object(map) = &mut row {
        for key in [
            "start_time",
            "end_time",
            "execution_time_ms",
            "created_at",
            "updated_at",
        ] {
            map.remove(key);
        }
        for value in map.values_mut() {
            if let Value::String(text) = value {
                *text = text.replace(task_id, "TASK");
            }
            if let Value::Array(lots) = value {
                for lot in lots {
                    if let Some(id) = lot.get_mut("trade_id")
                        && let Value::String(text) = id
                    {
                        *text = text.replace(task_id, "TASK");
                    }
                }
            }
        }
    }
    row
}

fn comparable_stats(stats: &Value) -> Value {
    let mut stats = stats.clone();
    if let Value::Object(map) = &mut stats {
        for key in [
            "latency_mean_ms",
            "latency_p95_ms",
            "llm_calls",
            "cache_hits",
        ] {
            map.remove(key);
        }
    }
    stats
}

/// An `aibt worker` process whose lease lapses `lease_seconds` after its last commit.
fn worker(
    database_url: &str,
    dir: &std::path::Path,
    name: &str,
    log: &std::path::Path,
    lease_seconds: u32,
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(AIBT)
        .args([
            "worker",
            "--worker-id",
            name,
            "--lease-seconds",
            &lease_seconds.to_string(),
            "--poll-ms",
            "50",
        ])
        .env("AIBT_DATABASE_URL", database_url)
        .env("AIBT_SECRET_KEY_FILE", dir.join("secret.key"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("aibt worker")
}

/// A small deterministic generator, so a failing run can be repeated from its seed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const TEMPLATE: &str = "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\nPosition {{ position.side }} {{ position.quantity }}, cash {{ cash }}.\nDecide.";

#[test]
fn workers_killed_at_random_steps_leave_the_uninterrupted_result() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // The model: deterministic answers after a short wait, so a run takes a few seconds.
    let fake = runtime.block_on(FakeLlm::start(|_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::from_millis(20),
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("aibt.db").display());
    let api = Api::start(&database_url, dir.path());
    let log = dir.path().join("workers.log");

    let create_pair = |label: &'static str| {
        let api = &api;
        let base_url = fake.base_url();
        async move {
            api.import("GOOG_1d.csv", "GOOG", "US", "daily").await;
            api.import("INDEX2006_1m.csv", "INDEX", "US", "minute")
                .await;
            let account = api
                .post(
                    "/api/v1/accounts",
                    json!({"market_type": "US", "initial_balance": "100000"}),
                )
                .await["account_id"]
                .as_str()
                .expect("account")
                .to_string();
            let prompt = api
                .post("/api/v1/prompt-templates", json!({"content": TEMPLATE}))
                .await["prompt_id"]
                .as_str()
                .expect("template")
                .to_string();
            let config = api
                .post(
                    "/api/v1/ai-configs",
                    json!({"name": format!("fake-{label}"), "local_ai_base_url": base_url,
                           "local_ai_model_name": "fake", "max_concurrency": 4}),
                )
                .await["config_id"]
                .as_str()
                .expect("config")
                .to_string();
            let ai = api
                .post(
                    "/api/v1/tasks",
                    json!({"account_id": account, "stock_symbol": "GOOG",
                           "start_date": "2011-01-03T00:00:00Z", "end_date": "2011-12-30T00:00:00Z",
                           "strategy": "template", "user_prompt_id": prompt, "ai_config_id": config,
                           "options": {"cache": "off"}, "start": true}),
                )
                .await["task_id"]
                .as_str()
                .expect("task")
                .to_string();
            let rule = api
                .post(
                    "/api/v1/tasks",
                    json!({"account_id": account, "stock_symbol": "INDEX", "time_granularity": "minute",
                           "strategy": "builtin:sma-cross", "options": {"params": {"short": "true"}},
                           "start": true}),
                )
                .await["task_id"]
                .as_str()
                .expect("task")
                .to_string();
            (ai, rule)
        }
    };

    let finished = |ids: Vec<String>| {
        let api = &api;
        async move {
            for id in &ids {
                let task = api.get(&format!("/api/v1/tasks/{id}")).await;
                if task["status"] != "COMPLETED" {
                    assert!(
                        task["status"] == "RUNNING",
                        "task {id} ended {}: {}",
                        task["status"],
                        task["error_message"]
                    );
                    return false;
                }
            }
            true
        }
    };

    // The reference: one worker, never interrupted.
    let (reference_ai, reference_rule) = runtime.block_on(create_pair("reference"));
    let mut steady = worker(&database_url, dir.path(), "steady", &log, 1);
    let started = Instant::now();
    while !runtime.block_on(finished(vec![reference_ai.clone(), reference_rule.clone()])) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the reference never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = steady.kill();
    let _ = steady.wait();

    // The victim: the same tasks, with a worker killed at random moments and restarted.
    let (victim_ai, victim_rule) = runtime.block_on(create_pair("victim"));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    eprintln!("kill schedule seed: {seed}");
    let mut random = Random(seed);
    let mut kills = Vec::new();
    let mut generation = 0;
    let started = Instant::now();
    loop {
        generation += 1;
        // A one-second lease: a killed worker's tasks are free again a second later.
        let mut child = worker(
            &database_url,
            dir.path(),
            &format!("victim-{generation}"),
            &log,
            1,
        );
        // Long enough to claim the tasks (the dead worker's lease lapses after 1 s) and make
        // some steps; short enough to be killed many times before they finish.
        std::thread::sleep(Duration::from_millis(1100 + random.below(500)));
        if runtime.block_on(finished(vec![victim_ai.clone(), victim_rule.clone()])) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let progress =
            runtime.block_on(api.get(&format!("/api/v1/tasks/{victim_ai}")))["processed_items"]
                .as_i64()
                .unwrap_or(0);
        kills.push(progress);
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "never finished: {kills:?}"
        );
    }
    eprintln!("killed {} times, at decisions {kills:?}", kills.len());
    assert!(kills.len() >= 10, "only {} kills: {kills:?}", kills.len());
    let distinct: std::collections::BTreeSet<_> = kills.iter().collect();
    assert!(
        distinct.len() >= 5,
        "the kills did not land at varied steps: {kills:?}"
    );

    runtime.block_on(async {
        for (reference, victim) in [(&reference_ai, &victim_ai), (&reference_rule, &victim_rule)] {
            for kind in ["decisions", "trades", "snapshots"] {
                let expected = api.comparable_records(reference, kind).await;
                let got = api.comparable_records(victim, kind).await;
                assert_eq!(expected.len(), got.len(), "{kind} of {victim}");
                for (a, b) in expected.iter().zip(&got) {
                    assert_eq!(a, b, "{kind} of {victim} differ");
                }
                // No row twice: ids are unique.
                let ids: std::collections::BTreeSet<String> =
                    got.iter().map(|r| r.to_string()).collect();
                assert_eq!(ids.len(), got.len(), "duplicate {kind} in {victim}");
            }
            let a = api.get(&format!("/api/v1/tasks/{reference}/stats")).await;
            let b = api.get(&format!("/api/v1/tasks/{victim}/stats")).await;
            assert_eq!(comparable_stats(&a["stats"]), comparable_stats(&b["stats"]));
            let task = api.get(&format!("/api/v1/tasks/{victim}")).await;
            assert_eq!(task["processed_items"], task["total_items"]);
        }
    });
}

#[test]
fn three_workers_on_postgres_run_thirty_tasks_exactly_once() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let database = aibt_testkit::postgres::TestDatabase::new("aibt_cli");
    let api = Api::start(&database.url(), dir.path());
    let ids: Vec<String> = runtime.block_on(async {
        api.import("GOOG_1d.csv", "GOOG", "US", "daily").await;
        let account = api
            .post(
                "/api/v1/accounts",
                json!({"market_type": "US", "initial_balance": "10000"}),
            )
            .await["account_id"]
            .as_str()
            .expect("account")
            .to_string();
        let mut ids = Vec::new();
        for i in 0..30 {
            let task = api
                .post(
                    "/api/v1/tasks",
                    json!({"account_id": account, "stock_symbol": "GOOG",
                           "strategy": "builtin:sma-cross",
                           "options": {"params": {"fast": (5 + i % 10).to_string(), "slow": (20 + i).to_string()}},
                           "start": true}),
                )
                .await;
            ids.push(task["task_id"].as_str().expect("task").to_string());
        }
        ids
    });
    let logs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("worker-{i}.log")))
        .collect();
    let mut workers: Vec<Child> = logs
        .iter()
        .enumerate()
        // A lease that outlives any task here: a second claim could only be a double claim.
        .map(|(i, log)| {
            worker(
                &database.url(),
                dir.path(),
                &format!("pg-worker-{i}"),
                log,
                60,
            )
        })
        .collect();
    let started = Instant::now();
    loop {
        let done = runtime.block_on(async {
            let page = api.get("/api/v1/tasks?status=COMPLETED&limit=100").await;
            page["items"].as_array().map_or(0, Vec::len)
        });
        if done == 30 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{done} of 30 finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for child in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Every task claimed once, by one worker; every worker got some.
    let mut claims = std::collections::BTreeMap::<String, Vec<usize>>::new();
    for (worker, log) in logs.iter().enumerate() {
        let text = std::fs::read_to_string(log).expect("log");
        for line in text.lines().filter(|l| l.contains("claimed task")) {
            let id = line
                .split("task_id=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .expect("task id in the claim line");
            claims.entry(id.to_string()).or_default().push(worker);
        }
    }
    for id in &ids {
        assert_eq!(
            claims.get(id).map(Vec::len),
            Some(1),
            "task {id} was claimed {:?}",
            claims.get(id)
        );
    }
    let per_worker: Vec<usize> = (0..3)
        .map(|w| claims.values().filter(|c| c[0] == w).count())
        .collect();
    eprintln!("tasks per worker: {per_worker:?}");
    assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
    // And each ran to the end, once: one snapshot per bar, no duplicates.
    runtime.block_on(async {
        for id in &ids {
            let task = api.get(&format!("/api/v1/tasks/{id}")).await;
            assert_eq!(task["processed_items"], task["total_items"]);
            let snapshots = api.records(id, "snapshots").await;
            assert_eq!(snapshots.len(), 2148, "task {id}");
        }
    });
}

#[test]
fn three_workers_killed_and_restarted_keep_one_ai_configs_limit_of_calls() {
    const LIMIT: usize = 4;
    const TASKS: usize = 6;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A model that answers after a short wait and counts the calls in flight at once.
    let fake = runtime.block_on(FakeLlm::start(|_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::from_millis(20),
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let database = aibt_testkit::postgres::TestDatabase::new("aibt_slots");
    let api = Api::start(&database.url(), dir.path());
    let (account, prompt, config) = runtime.block_on(async {
        api.import("GOOG_1d.csv", "GOOG", "US", "daily").await;
        let account = api
            .create(
                "/api/v1/accounts",
                json!({"market_type": "US", "initial_balance": "100000"}),
                "account_id",
            )
            .await;
        let prompt = api
            .create(
                "/api/v1/prompt-templates",
                json!({"content": TEMPLATE}),
                "prompt_id",
            )
            .await;
        // A short timeout: a killed worker's slots are free again seven seconds later.
        let config = api
            .create(
                "/api/v1/ai-configs",
                json!({"name": "shared", "local_ai_base_url": fake.base_url(),
                       "local_ai_model_name": "fake", "max_concurrency": LIMIT,
                       "timeout_seconds": 2}),
                "config_id",
            )
            .await;
        (account, prompt, config)
    });
    let create = |count: usize| {
        let (api, account, prompt, config) = (&api, &account, &prompt, &config);
        async move {
            let mut ids = Vec::new();
            for _ in 0..count {
                let task = api
                    .create(
                        "/api/v1/tasks",
                        json!({"account_id": account, "stock_symbol": "GOOG",
                               "start_date": "2011-01-03T00:00:00Z", "end_date": "2011-06-30T00:00:00Z",
                               "strategy": "template", "user_prompt_id": prompt, "ai_config_id": config,
                               "options": {"cache": "off"}, "start": true}),
                        "task_id",
                    )
                    .await;
                ids.push(task);
            }
            ids
        }
    };
    let completed = |ids: &[String]| {
        runtime.block_on(async {
            let mut done = 0;
            for id in ids {
                let task = api.get(&format!("/api/v1/tasks/{id}")).await;
                assert!(
                    task["status"] == "COMPLETED" || task["status"] == "RUNNING",
                    "task {id} ended {}: {}",
                    task["status"],
                    task["error_message"]
                );
                done += usize::from(task["status"] == "COMPLETED");
            }
            done
        })
    };

    // The reference: one task, one worker, never interrupted.
    let reference = runtime.block_on(create(1));
    let log = dir.path().join("reference.log");
    let mut steady = worker(&database.url(), dir.path(), "steady", &log, 1);
    let started = Instant::now();
    while completed(&reference) < 1 {
        assert!(started.elapsed() < Duration::from_secs(300), "no reference");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = steady.kill();
    let _ = steady.wait();

    // Three workers share the config's six tasks; one of them is killed now and then and
    // started again.
    let ids = runtime.block_on(create(TASKS));
    let logs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("shared-{i}.log")))
        .collect();
    let start = |i: usize, generation: usize| {
        worker(
            &database.url(),
            dir.path(),
            &format!("shared-{i}-{generation}"),
            &logs[i],
            1,
        )
    };
    let mut workers: Vec<Child> = (0..3).map(|i| start(i, 0)).collect();
    let mut kills = 0;
    let started = Instant::now();
    let mut last_kill = Instant::now();
    while completed(&ids) < TASKS {
        assert!(
            started.elapsed() < Duration::from_secs(400),
            "{} of {TASKS} finished after {kills} kills",
            completed(&ids)
        );
        if kills < 3 && last_kill.elapsed() > Duration::from_millis(1500) {
            let victim = kills % 3;
            workers[victim].kill().expect("SIGKILL");
            workers[victim].wait().expect("reaped");
            kills += 1;
            workers[victim] = start(victim, kills);
            last_kill = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for child in &mut workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    eprintln!(
        "{kills} kills; at most {} calls in flight; {} calls",
        fake.max_in_flight(),
        fake.calls()
    );
    assert_eq!(
        kills, 3,
        "the tasks finished before the workers were killed"
    );
    assert!(
        fake.max_in_flight() <= LIMIT,
        "{} calls in flight at once, over the limit of {LIMIT}",
        fake.max_in_flight()
    );
    assert!(fake.max_in_flight() > 1, "the workers never called at once");

    runtime.block_on(async {
        for kind in ["decisions", "trades", "snapshots"] {
            let expected = api.comparable_records(&reference[0], kind).await;
            for id in &ids {
                let got = api.comparable_records(id, kind).await;
                assert_eq!(expected, got, "{kind} of {id}");
            }
        }
        let a = api
            .get(&format!("/api/v1/tasks/{}/stats", reference[0]))
            .await;
        for id in &ids {
            let b = api.get(&format!("/api/v1/tasks/{id}/stats")).await;
            assert_eq!(comparable_stats(&a["stats"]), comparable_stats(&b["stats"]));
        }
    });
}
