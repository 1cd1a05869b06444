//! AI tasks against a fake OpenAI-compatible server that answers after 50 ms (the one of
//! `aibt-testkit`, on 127.0.0.1), on a real SQLite file:
//!
//! - the engine's overhead per decision: a task's wall time minus the time the model took,
//!   divided by its decisions (and, for scale, the whole cost of a decision against a server
//!   that answers at once);
//! - throughput with 1, 8, 64 and 100 tasks at once sharing one AI config whose concurrency
//!   limit is 8, against the ideal of min(tasks, 8) calls every 50 ms.
//!
//!     cargo bench -p aibt-engine --bench llm -- [--decisions 25] [--delay-ms 50] [--limit 8]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aibt_ai::llm::CacheMode;
use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, Money, Rate, ResponseFormat, TaskStatus, TimeGranularity};
use aibt_engine::accounts::new_account;
use aibt_engine::ai_config::{AiConfigSpec, ApiKey, build_ai_config};
use aibt_engine::templates::template_for_content;
use aibt_engine::{
    RunConfig, RunOutcome, StrategyRef, TaskOptions, TaskSpec, Transition, claim_and_run,
    create_task, transition,
};
use aibt_store::{AiConfig, ImportMode, SeriesKey, Store};
use aibt_store_sqlite::SqliteStore;
use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of};

const TEMPLATE: &str = "{{ symbol }} at {{ now }}\n\
{% for b in bars[-10:] %}{{ b.time }} o={{ b.open }} h={{ b.high }} l={{ b.low }} c={{ b.close }} rsi={{ b.rsi_14 }}\n{% endfor %}\
sma10={{ indicators.sma_10 }} sma20={{ indicators.sma_20 }} macd={{ indicators.macd }}\n\
position {{ position.side }} {{ position.quantity }}, cash {{ cash }}\n";

struct Args {
    decisions: usize,
    delay_ms: u64,
    limit: i64,
}

fn args() -> Args {
    let mut out = Args {
        decisions: 25,
        delay_ms: 50,
        limit: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--decisions" => out.decisions = value().parse().unwrap_or(out.decisions),
            "--delay-ms" => out.delay_ms = value().parse().unwrap_or(out.delay_ms),
            "--limit" => out.limit = value().parse().unwrap_or(out.limit),
            _ => {} // cargo bench passes --bench
        }
    }
    out
}

struct Bench {
    store: Arc<dyn Store>,
    series: SeriesKey,
    settings: AccountSettings,
    prompt_id: String,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn new() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path().join("aibt.db"))
                .await
                .expect("open"),
        );
        let sample =
            aibt_data::find_sample("GOOG", None, TimeGranularity::Daily).expect("GOOG sample");
        let series = SeriesKey {
            symbol: "GOOG".into(),
            market_type: MarketType::Us,
            granularity: TimeGranularity::Daily,
        };
        store
            .import_bars(
                &series,
                sample.bars().expect("bars"),
                ImportMode::RefuseChanges,
            )
            .await
            .expect("import");
        let template = template_for_content(store.as_ref(), TEMPLATE, None)
            .await
            .expect("template");
        let commission = Rate::parse("0.001").expect("rate");
        Bench {
            store,
            series,
            settings: AccountSettings {
                market_type: MarketType::Us,
                initial_balance: Money::parse("10000").expect("cash"),
                commission_rate_buy: commission,
                commission_rate_sell: commission,
                tax_rate: Rate::ZERO,
                min_commission: Money::ZERO,
                short_margin_ratio: Rate::ONE,
                whole_units: true,
                slippage: aibt_core::Rate::ZERO,
                borrow_rate: aibt_core::Rate::ZERO,
            },
            prompt_id: template.prompt_id,
            _dir: dir,
        }
    }

    async fn config(&self, fake: &FakeLlm, limit: i64) -> AiConfig {
        let config = build_ai_config(AiConfigSpec {
            name: format!("bench-{}", aibt_store::new_id()),
            base_url: fake.base_url(),
            api_key: ApiKey::None,
            model: "fake".into(),
            temperature: None,
            max_tokens: None,
            timeout_seconds: Some(30),
            response_format: Some(ResponseFormat::JsonSchema),
            max_concurrency: Some(limit),
            max_retries: Some(0),
            knowledge_cutoff: None,
            price_input_per_million: None,
            price_output_per_million: None,
            reasoning_effort: None,
            decision_mode: None,
        })
        .expect("config");
        self.store
            .insert_ai_config(&config)
            .await
            .expect("insert config");
        config
    }

    /// Creates and starts a task of `decisions` daily decisions from 2010-01-04.
    async fn task(&self, config: &AiConfig, decisions: usize) -> String {
        let account_id = aibt_store::new_id();
        self.store
            .insert_account(&new_account(&account_id, "GOOG", &self.settings, false))
            .await
            .expect("account");
        let start = aibt_core::time::parse_timestamp("2010-01-04").expect("start");
        let bars = self
            .store
            .bars(
                &self.series,
                aibt_store::BarRange {
                    from: Some(start),
                    to: None,
                    after: None,
                    limit: Some(decisions as u32),
                },
            )
            .await
            .expect("bars");
        let task = create_task(
            self.store.as_ref(),
            TaskSpec {
                account_id,
                symbol: "GOOG".into(),
                market_type: MarketType::Us,
                granularity: TimeGranularity::Daily,
                start: Some(start),
                end: bars.last().map(|b| b.ts),
                decision_interval: 1,
                strategy: StrategyRef::Template {
                    prompt_id: self.prompt_id.clone(),
                    ai_config_id: config.config_id.clone(),
                },
                options: TaskOptions {
                    cache: CacheMode::Off,
                    ..TaskOptions::default()
                },
            },
        )
        .await
        .expect("task");
        transition(self.store.as_ref(), &task.task_id, Transition::Start)
            .await
            .expect("start");
        task.task_id
    }

    /// Runs the tasks at once; returns the wall time.
    async fn run_all(&self, ids: Vec<String>) -> Duration {
        let started = Instant::now();
        let runs: Vec<_> = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| {
                let store = self.store.clone();
                tokio::spawn(async move {
                    let config = RunConfig::new(format!("bench-{i}"));
                    match claim_and_run(
                        &store,
                        &config,
                        aibt_store::ClaimFilter::task(&id),
                        &mut |_| {},
                    )
                    .await
                    .expect("run")
                    .expect("claimable")
                    {
                        RunOutcome::Finished(task) => {
                            assert_eq!(
                                task.status,
                                TaskStatus::Completed,
                                "{:?}",
                                task.error_message
                            )
                        }
                        other => panic!("task stopped: {other:?}"),
                    }
                })
            })
            .collect();
        for run in runs {
            run.await.expect("join");
        }
        started.elapsed()
    }
}

async fn fake(delay: Duration) -> FakeLlm {
    FakeLlm::start(move |_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay,
    })
    .await
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bench = Bench::new().await;
        let delay = Duration::from_millis(args.delay_ms);
        let n = args.decisions * 8;

        // Overhead: one task, one decision at a time.
        let instant = fake(Duration::ZERO).await;
        let config = bench.config(&instant, args.limit).await;
        let id = bench.task(&config, n).await;
        let wall0 = bench.run_all(vec![id]).await;
        let slow = fake(delay).await;
        let config = bench.config(&slow, args.limit).await;
        let id = bench.task(&config, n).await;
        let wall = bench.run_all(vec![id]).await;
        // The calls alone, made by the same client one after another: what a decision costs
        // the model's side (server, HTTP, localhost) and not the engine.
        let client = aibt_ai::client::ChatClient::new(
            aibt_engine::ai_config::client_settings(
                &bench.config(&instant, args.limit).await,
                None,
            )
            .expect("settings"),
            aibt_ai::gate::LocalGate::of("bench-client", 1),
        )
        .expect("client");
        let body = client.request_body(
            &aibt_ai::llm::LlmDecider::messages(&"x".repeat(1500)),
            &aibt_ai::answer::answer_schema(),
        );
        let calls_started = Instant::now();
        for _ in 0..n {
            client.complete(&body).await.result.expect("call");
        }
        let calls = calls_started.elapsed().as_secs_f64();
        let overhead_ms = (wall0.as_secs_f64() - calls) / n as f64 * 1e3;
        let model = delay.as_secs_f64() * n as f64;
        println!(
            "AI tasks against a fake server ({} ms per answer), SQLite",
            args.delay_ms
        );
        println!();
        println!(
            "one task, {n} decisions, one at a time:\n\
             - against an instant server: {:.3} ms per decision in all, of which the call \
             (HTTP on 127.0.0.1, the fake's reply) {:.3} ms\n\
             - engine overhead (prompt, parse, fill, snapshot, commit): {overhead_ms:.3} ms per \
             decision (target < 1 ms)\n\
             - against the {} ms server: {:.2} ms per decision, {:.1}% of the ideal {} ms",
            wall0.as_secs_f64() / n as f64 * 1e3,
            calls / n as f64 * 1e3,
            args.delay_ms,
            wall.as_secs_f64() / n as f64 * 1e3,
            model / wall.as_secs_f64() * 100.0,
            args.delay_ms,
        );
        println!();
        println!(
            "{:>6} {:>10} {:>10} {:>14} {:>14} {:>9} {:>9}",
            "tasks", "decisions", "wall s", "decisions/s", "ideal/s", "of ideal", "in flight"
        );
        for tasks in [1usize, 8, 64, 100] {
            let server = fake(delay).await;
            let config = bench.config(&server, args.limit).await;
            let mut ids = Vec::new();
            for _ in 0..tasks {
                ids.push(bench.task(&config, args.decisions).await);
            }
            let wall = bench.run_all(ids).await.as_secs_f64();
            let total = (tasks * args.decisions) as f64;
            let achieved = total / wall;
            let ideal = tasks.min(args.limit as usize) as f64 / delay.as_secs_f64();
            println!(
                "{tasks:>6} {:>10} {wall:>10.2} {achieved:>14.1} {ideal:>14.1} {:>8.1}% {:>9}",
                total as u64,
                achieved / ideal * 100.0,
                server.max_in_flight()
            );
        }
    });
}
