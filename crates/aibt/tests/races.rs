//! Two processes racing over the same tasks: `aibt serve` starting them (as the web UI or a
//! client does) while `aibt task delete` deletes them. Deleting is refused for a RUNNING task
//! in the same statement that deletes, so whatever the interleaving, a task that was started
//! keeps its row and its run account, and a deleted task was never started.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};

use common::Served;

use serde_json::{Value, json};

const AIBT: &str = env!("CARGO_BIN_EXE_aibt");
const TASKS: usize = 60;

async fn race(database_url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    // Without a worker: the tasks it starts stay RUNNING, for the deletes to race against.
    let server = Served::start(database_url, dir.path(), false);
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let request = client.post(format!("{}{path}", server.base)).json(&body);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, account) = post(
        "/api/v1/accounts".into(),
        json!({"market_type": "US", "initial_balance": "10000"}),
    )
    .await;
    assert_eq!(status, 201, "{account}");
    let mut ids = Vec::new();
    for _ in 0..TASKS {
        let (status, task) = post(
            "/api/v1/tasks".into(),
            json!({"account_id": account["account_id"], "stock_symbol": "GOOG",
                   "strategy": "builtin:buy-and-hold"}),
        )
        .await;
        assert_eq!(status, 201, "{task}");
        ids.push(task["task_id"].as_str().expect("task id").to_string());
    }

    // One process deletes every task while this one has the server start every task, both
    // in the same order, so they meet somewhere in the list.
    let mut delete = Command::new(AIBT);
    delete
        .arg("task")
        .arg("delete")
        .args(&ids)
        .env("AIBT_DATABASE_URL", database_url)
        .env("AIBT_SECRET_KEY_FILE", dir.path().join("secret.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let deleting = tokio::task::spawn_blocking(move || delete.output().expect("aibt task delete"));
    let mut started = HashSet::new();
    for id in &ids {
        let (status, body) = post(format!("/api/v1/tasks/{id}/start"), json!({})).await;
        match status {
            200 => {
                started.insert(id.clone());
            }
            // Deleted first.
            404 => {}
            other => panic!("start {id}: {other} {body}"),
        }
    }
    let deleted_out = deleting.await.expect("join");
    let deleted: HashSet<String> = String::from_utf8_lossy(&deleted_out.stdout)
        .lines()
        .filter_map(|line| {
            // "task {id} deleted ({n} records)"
            line.strip_prefix("task ")
                .and_then(|rest| rest.split_once(" deleted"))
                .map(|(id, _)| id)
        })
        .map(str::to_string)
        .collect();
    let refusals = String::from_utf8_lossy(&deleted_out.stderr).into_owned();

    eprintln!(
        "{} started, {} deleted of {TASKS}",
        started.len(),
        deleted.len()
    );
    assert!(
        started.is_disjoint(&deleted),
        "tasks both started and deleted: {:?}",
        started.intersection(&deleted).collect::<Vec<_>>()
    );
    assert_eq!(
        started.len() + deleted.len(),
        TASKS,
        "every task was either started or deleted; refusals: {refusals}"
    );
    for id in &ids {
        let response = client
            .get(format!("{}/api/v1/tasks/{id}", server.base))
            .send()
            .await
            .expect("get task");
        if started.contains(id) {
            assert_eq!(
                response.status().as_u16(),
                200,
                "started task {id} lost its row"
            );
            let task: Value = response.json().await.expect("task");
            assert_eq!(task["status"], "RUNNING");
            let account = client
                .get(format!("{}/api/v1/accounts/{id}", server.base))
                .send()
                .await
                .expect("get run account");
            assert_eq!(
                account.status().as_u16(),
                200,
                "started task {id} lost its run account"
            );
            assert!(
                refusals.contains(&format!("task {id} is RUNNING")),
                "the delete of {id} was not refused for RUNNING: {refusals}"
            );
        } else {
            assert_eq!(
                response.status().as_u16(),
                404,
                "deleted task {id} is still there"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_and_starting_race_safely_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("aibt.db").display());
    import_goog(&url);
    race(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_and_starting_race_safely_on_postgres() {
    let database = aibt_testkit::postgres::TestDatabase::new("aibt_races");
    import_goog(&database.url());
    race(&database.url()).await;
}

fn import_goog(database_url: &str) {
    let file = format!(
        "{}/../aibt-data/sample/GOOG_1d.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let status = Command::new(AIBT)
        .args([
            "data",
            "import",
            &file,
            "--symbol",
            "GOOG",
            "--market",
            "US",
            "--granularity",
            "daily",
        ])
        .env("AIBT_DATABASE_URL", database_url)
        .stdout(Stdio::null())
        .status()
        .expect("aibt data import");
    assert!(status.success());
}
