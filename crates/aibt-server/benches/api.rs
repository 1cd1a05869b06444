//! Latency of the list endpoints with a million trade rows in SQLite, under concurrent load
//! from a load generator on 127.0.0.1: p50 and p99 of
//!
//! - `GET /api/v1/tasks?limit=50` (the task list, newest first, over 1,000 tasks),
//! - `GET /api/v1/tasks/{id}/trades?from=…&limit=100` (a page from the middle of a task's
//!   10,000 trades; 100 tasks × 10,000 = 1,000,000 trades),
//!
//! against `GET /healthz` (one trivial query) measured in the same run as the baseline.
//!
//!     cargo bench -p aibt-server --bench api -- [--trades 1000000] [--clients 4,8,16] [--seconds 10]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aibt_core::TaskStatus;
use aibt_engine::worker::WorkerHandle;
use aibt_server::{AppState, Limits};
use aibt_store::testsuite::{sample_run_account, sample_task, sample_trade};
use aibt_store::{StepBatch, Store};
use aibt_store_sqlite::SqliteStore;
use serde_json::json;

struct Args {
    trades: u32,
    /// Concurrent clients: one measurement per value.
    clients: Vec<usize>,
    seconds: u64,
}

fn args() -> Args {
    let mut out = Args {
        trades: 1_000_000,
        clients: vec![4, 8, 16],
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--trades" => out.trades = value().parse().unwrap_or(out.trades),
            "--clients" => {
                let list: Vec<usize> = value()
                    .split(',')
                    .filter_map(|c| c.trim().parse().ok())
                    .collect();
                if !list.is_empty() {
                    out.clients = list;
                }
            }
            "--seconds" => out.seconds = value().parse().unwrap_or(out.seconds),
            _ => {} // cargo bench passes --bench
        }
    }
    out
}

const TASKS_WITH_TRADES: u32 = 100;
const TASKS: u32 = 1_000;

/// 1,000 tasks, the first 100 with `trades / 100` trades each.
async fn populate(store: &dyn Store, trades: u32) -> Vec<String> {
    let per_task = trades / TASKS_WITH_TRADES;
    let mut with_trades = Vec::new();
    let lease_until = aibt_core::time::now() + chrono::Duration::days(1);
    for t in 0..TASKS {
        let task_id = format!("bench-task-{t:05}");
        let mut task = sample_task(&task_id, "bench-account", TaskStatus::Running);
        task.created_at = aibt_core::time::now() - chrono::Duration::seconds(i64::from(TASKS - t));
        task.lease_owner = Some("bench".into());
        task.lease_expires_at = Some(lease_until);
        store
            .create_task(&task, &sample_run_account(&task_id))
            .await
            .expect("task");
        if t < TASKS_WITH_TRADES {
            let mut n = 0;
            while n < per_task {
                let end = (n + 20_000).min(per_task);
                store
                    .commit_steps(StepBatch {
                        task_id: task_id.clone(),
                        lease_owner: "bench".into(),
                        lease_expires_at: lease_until,
                        decisions: Vec::new(),
                        trades: (n..end).map(|i| sample_trade(&task_id, i)).collect(),
                        snapshots: Vec::new(),
                        account: sample_run_account(&task_id),
                        processed_items: i64::from(end),
                        total_items: Some(i64::from(per_task)),
                        checkpoint: json!({}),
                        now: aibt_core::time::now(),
                    })
                    .await
                    .expect("commit");
                n = end;
            }
            with_trades.push(task_id);
        }
    }
    with_trades
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `clients` concurrent clients, each sending a random mix of the three requests for
/// `duration`; the latencies of each kind (healthz, task list, trades list).
async fn measure(
    client: &reqwest::Client,
    base: &str,
    tasks: &[String],
    clients: usize,
    duration: Duration,
    per_task: u32,
) -> [Vec<Duration>; 3] {
    // Warm up connections and caches.
    for _ in 0..50 {
        let _ = client
            .get(format!("{base}/api/v1/tasks?limit=50"))
            .send()
            .await;
    }
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let client = client.clone();
            let base = base.to_string();
            let tasks = tasks.to_vec();
            tokio::spawn(async move {
                let mut out: [Vec<Duration>; 3] = Default::default();
                let mut n: u64 = c as u64;
                while Instant::now() < deadline {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let kind = (n >> 40) % 3;
                    let url = match kind {
                        0 => format!("{base}/healthz"),
                        1 => format!("{base}/api/v1/tasks?limit=50"),
                        _ => {
                            let task = &tasks[((n >> 20) % tasks.len() as u64) as usize];
                            // A page from somewhere in the task's trades (one an hour apart).
                            let hour = (n >> 8) % u64::from(per_task.max(1));
                            let from = aibt_core::time::format_timestamp(
                                chrono::DateTime::from_timestamp(
                                    1_700_000_100 + hour as i64 * 3600,
                                    0,
                                )
                                .unwrap_or_default(),
                            );
                            format!("{base}/api/v1/tasks/{task}/trades?limit=100&from={from}")
                        }
                    };
                    let started = Instant::now();
                    let response = client.get(&url).send().await.expect("request");
                    assert!(
                        response.status().is_success(),
                        "{url}: {}",
                        response.status()
                    );
                    let _ = response.bytes().await.expect("body");
                    out[kind as usize].push(started.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all: [Vec<Duration>; 3] = Default::default();
    for worker in workers {
        let out = worker.await.expect("join");
        for (k, latencies) in out.into_iter().enumerate() {
            all[k].extend(latencies);
        }
    }
    all
}

fn main() {
    let args = args();
    let dir = tempfile::tempdir().expect("temp dir");
    // The server on its own runtime, the load generator on another: two processes' worth of
    // threads sharing the machine, as a server and its clients would.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (base, tasks) = server_runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path().join("aibt.db"))
                .await
                .expect("open"),
        );
        let started = Instant::now();
        let tasks = populate(store.as_ref(), args.trades).await;
        eprintln!(
            "stored {} trades in {TASKS} tasks in {:.1} s",
            args.trades,
            started.elapsed().as_secs_f64()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = aibt_server::router(
            AppState {
                store,
                worker: WorkerHandle::new(),
                api_token: None,
                sign_ins: Default::default(),
                fetcher: Arc::new(
                    aibt_fetch::Fetcher::new(aibt_fetch::FetchConfig::with_cache_dir(
                        std::env::temp_dir().join("aibt-bench-cache"),
                    ))
                    .expect("fetcher"),
                ),
            },
            Limits::default(),
        );
        tokio::spawn(aibt_server::serve(listener, router, std::future::pending()));
        (base, tasks)
    });
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let per_task = args.trades / TASKS_WITH_TRADES;
    let client = client_runtime.block_on(async { reqwest::Client::new() });
    for &clients in &args.clients {
        let results = client_runtime.block_on(measure(
            &client,
            &base,
            &tasks,
            clients,
            Duration::from_secs(args.seconds),
            per_task,
        ));
        println!(
            "\n{} trades in SQLite, {} clients for {} s on 127.0.0.1",
            args.trades, clients, args.seconds
        );
        println!(
            "{:<40} {:>9} {:>10} {:>10} {:>12}",
            "endpoint", "requests", "p50 ms", "p99 ms", "p99 / base"
        );
        let mut sorted = results;
        for latencies in &mut sorted {
            latencies.sort_unstable();
        }
        let base_p99 = percentile(&sorted[0], 0.99).as_secs_f64();
        for (name, latencies) in [
            ("GET /healthz (baseline)", &sorted[0]),
            ("GET /api/v1/tasks?limit=50", &sorted[1]),
            ("GET /api/v1/tasks/{id}/trades?limit=100", &sorted[2]),
        ] {
            let p50 = percentile(latencies, 0.50).as_secs_f64() * 1e3;
            let p99 = percentile(latencies, 0.99).as_secs_f64() * 1e3;
            println!(
                "{name:<40} {:>9} {p50:>10.3} {p99:>10.3} {:>11.1}x",
                latencies.len(),
                p99 / 1e3 / base_p99.max(1e-9)
            );
        }
        let total: usize = sorted.iter().map(Vec::len).sum();
        println!(
            "throughput: {:.0} requests/s (targets: list endpoints p99 under 10 ms)",
            total as f64 / args.seconds as f64
        );
    }
}
