//! Experiments, as issue 11 times them, on a real SQLite file:
//!
//! 1. running one: `--tasks` model tasks (100: repeats of one template at temperature 0.7 on
//!    GOOG daily, one period of `--decisions` bars, 250) created with `experiment::create_experiment`
//!    and run by `experiment::drive` with a model slot per task, against the fake
//!    OpenAI-compatible server of `aibt-testkit` answering after `--delay-ms` (50 ms), through
//!    one AI config limited to `--limit` (8) calls at once. The baseline is the ideal wall time
//!    tasks × decisions × delay / limit (target: within 110% of it); beside it, what the same
//!    number of calls take made by the bare HTTP client 8 at a time, with no engine.
//! 2. its leaderboard: `experiment::compute` (pure, from records already read) on 100 strategy
//!    runs of `--bars` (2,500) bars with the bootstrap's fixed 2,000 resamples
//!    (`aibt_core::experiment::DEFAULT_RESAMPLES`), in two shapes: 100 variants of one run
//!    each (100 paired bootstraps against buy-and-hold) and 50 variants with blind twins (100
//!    against buy-and-hold and 50 memorisation gaps); best of `--runs` (3), against 1 s.
//!
//! ```text
//! cargo bench -p aibt-engine --bench experiment -- [--tasks 100] [--decisions 250]
//!     [--delay-ms 50] [--limit 8] [--model-slots TASKS] [--bars 2500] [--runs 3]
//!     [--quick] [--only run|board] [--json]
//! ```
//!
//! `--quick` runs part 1 with 25 decisions a task (~16 s instead of ~165 s).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aibt_core::broker::AccountSettings;
use aibt_core::experiment::{DEFAULT_RESAMPLES, sharpe_ratio};
use aibt_core::{
    MarketType, Money, Rate, ResponseFormat, TaskStatus, TimeGranularity, TradeAction,
};
use aibt_engine::ai_config::{AiConfigSpec, ApiKey, build_ai_config};
use aibt_engine::experiment::compute::{Inputs, PeriodBars, RunData, compute};
use aibt_engine::experiment::{Driven, ExperimentSpec, Leaderboard, drive, experiment_tasks};
use aibt_engine::experiment::{create_experiment, leaderboard, plan};
use aibt_engine::worker::WorkerOptions;
use aibt_store::{ExperimentRun, RunRole, Store};
use aibt_store_sqlite::SqliteStore;
use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of};
use serde_json::{Value, json};

/// The `llm` bench's template: ten bars, indicators and the account, as a real prompt has.
const TEMPLATE: &str = "{{ symbol }} at {{ now }}\n\
{% for b in bars[-10:] %}{{ b.time }} o={{ b.open }} h={{ b.high }} l={{ b.low }} c={{ b.close }} rsi={{ b.rsi_14 }}\n{% endfor %}\
sma10={{ indicators.sma_10 }} sma20={{ indicators.sma_20 }} macd={{ indicators.macd }}\n\
position {{ position.side }} {{ position.quantity }}, cash {{ cash }}\n";

struct Args {
    tasks: u32,
    decisions: usize,
    delay_ms: u64,
    limit: i64,
    model_slots: Option<usize>,
    bars: usize,
    runs: usize,
    only: Option<String>,
    json: bool,
}

fn args() -> Args {
    let mut out = Args {
        tasks: 100,
        decisions: 250,
        delay_ms: 50,
        limit: 8,
        model_slots: None,
        bars: 2_500,
        runs: 3,
        only: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--tasks" => out.tasks = value().parse().unwrap_or(out.tasks),
            "--decisions" => out.decisions = value().parse().unwrap_or(out.decisions),
            "--delay-ms" => out.delay_ms = value().parse().unwrap_or(out.delay_ms),
            "--limit" => out.limit = value().parse().unwrap_or(out.limit),
            "--model-slots" => out.model_slots = value().parse().ok(),
            "--bars" => out.bars = value().parse().unwrap_or(out.bars),
            "--runs" => out.runs = value().parse().unwrap_or(out.runs),
            "--quick" => out.decisions = 25,
            "--only" => out.only = Some(value()),
            "--json" => out.json = true,
            _ => {} // cargo bench passes --bench
        }
    }
    // The tasks are the repeats of one strategy, and a spec allows 1 to 100 of them.
    out.tasks = out.tasks.clamp(1, 100);
    out
}

// ------------------------------------------------------------------ part 1: running one

/// An answer that follows the prompt and, as a sampling model's does, the request's seed, so
/// that the repeats trade differently.
async fn fake(delay: Duration) -> FakeLlm {
    FakeLlm::start(move |_, body| Reply::Answer {
        content: hashed_decision(&format!("{}{}", prompt_of(body), body["seed"])),
        finish_reason: "stop",
        delay,
    })
    .await
}

/// The first day of the period and its last, `decisions` GOOG daily bars from 2010-01-04
/// (which leaves the model's 30-bar window of earlier bars).
fn period(decisions: usize) -> (String, String) {
    let bars = aibt_data::find_sample("GOOG", None, TimeGranularity::Daily)
        .expect("GOOG sample")
        .bars()
        .expect("bars");
    let start = aibt_core::time::parse_timestamp("2010-01-04").expect("start");
    let first = bars
        .iter()
        .position(|b| b.ts >= start)
        .expect("bars from 2010");
    let last = bars
        .get(first + decisions - 1)
        .unwrap_or_else(|| panic!("GOOG has {} bars from 2010", bars.len() - first));
    (
        bars[first].ts.format("%Y-%m-%d").to_string(),
        last.ts.format("%Y-%m-%d").to_string(),
    )
}

/// The calls alone: `limit` loops of the bare client, one call after another, through one
/// limiter; the mean time a call holds its permit (HTTP on 127.0.0.1 and the fake's delay).
async fn calls_alone(config: &aibt_store::AiConfig, limit: usize, per_loop: usize) -> f64 {
    let limiter = aibt_ai::gate::LocalGate::of(&format!("bench-calls-{}", config.config_id), limit);
    let client = aibt_ai::client::ChatClient::new(
        aibt_engine::ai_config::client_settings(config, Some(1)).expect("settings"),
        limiter,
    )
    .expect("client");
    let body = Arc::new(client.request_body(
        &aibt_ai::llm::LlmDecider::messages(&"x".repeat(1500)),
        &aibt_ai::answer::answer_schema(),
    ));
    let started = Instant::now();
    let loops: Vec<_> = (0..limit)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            tokio::spawn(async move {
                for _ in 0..per_loop {
                    client.complete(&body).await.result.expect("call");
                }
            })
        })
        .collect();
    for done in loops {
        done.await.expect("join");
    }
    started.elapsed().as_secs_f64() / per_loop as f64
}

struct RunResult {
    tasks: usize,
    decisions: usize,
    model_slots: usize,
    seconds: f64,
    ideal: f64,
    per_call_alone: f64,
    calls: usize,
    max_in_flight: usize,
    create_seconds: f64,
    board_seconds: f64,
    /// Permit-seconds no call held a permit of the limiter while the experiment ran.
    idle_permit_seconds: f64,
    /// Seconds between the last task's end and `drive` returning.
    lag: f64,
}

async fn part_one(args: &Args) -> RunResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path().join("aibt.db"))
            .await
            .expect("open"),
    );
    let delay = Duration::from_millis(args.delay_ms);
    let server = fake(delay).await;
    let config = build_ai_config(AiConfigSpec {
        name: "bench".into(),
        base_url: server.base_url(),
        api_key: ApiKey::None,
        model: "fake".into(),
        temperature: None,
        max_tokens: None,
        timeout_seconds: Some(30),
        response_format: Some(ResponseFormat::JsonSchema),
        max_concurrency: Some(args.limit),
        max_retries: Some(0),
        knowledge_cutoff: None,
        price_input_per_million: None,
        price_output_per_million: None,
        reasoning_effort: None,
        decision_mode: None,
    })
    .expect("config");
    store.insert_ai_config(&config).await.expect("config");
    let limit = usize::try_from(args.limit).expect("limit");
    let per_call_alone = calls_alone(&config, limit, 25).await;
    let before = server.calls();

    let (start, end) = period(args.decisions);
    let spec = ExperimentSpec::from_json(json!({
        "name": "bench",
        "seed": 7,
        "series": [{"symbol": "GOOG"}],
        "periods": {"list": [{"name": "year", "start": start, "end": end}]},
        "account": {"cash": "10000", "commission": "0.001"},
        "strategies": [{
            "name": "prompt",
            "template_content": TEMPLATE,
            "ai_config": "bench",
            "repeats": args.tasks,
            "temperature": "0.7",
        }],
    }))
    .expect("spec");
    let created = Instant::now();
    let planned = plan(store.as_ref(), &spec).await.expect("plan");
    let experiment = create_experiment(store.as_ref(), &planned)
        .await
        .expect("create");
    let create_seconds = created.elapsed().as_secs_f64();
    let model_tasks = planned
        .runs
        .iter()
        .filter(|r| r.role == RunRole::Strategy)
        .count();
    assert_eq!(model_tasks, args.tasks as usize);

    let model_slots = args.model_slots.unwrap_or(model_tasks).max(1);
    let mut options = WorkerOptions::new("bench");
    options.model_slots = model_slots;
    // The config's limiter, shared by every task: sampled to see how long permits sat idle.
    let limiter = aibt_ai::gate::limiter_for(&config.config_id, limit);
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = tokio::spawn(sample_idle(limiter, limit, sampling.clone()));
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let driven = drive(
        store.clone(),
        &experiment.experiment_id,
        &options,
        &mut |_| {},
        std::future::pending(),
    )
    .await
    .expect("drive");
    let seconds = started.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let idle_permit_seconds = sampler.await.expect("sampler");
    assert_eq!(driven, Driven::Ended);

    let (_, runs, tasks) = experiment_tasks(store.as_ref(), &experiment.experiment_id)
        .await
        .expect("tasks");
    // How long `drive` took to notice that the last task had ended.
    let last_ended = tasks
        .iter()
        .filter_map(|t| t.completed_at)
        .max()
        .expect("ended");
    let lag = seconds - (last_ended - started_at).as_seconds_f64();
    for (run, task) in runs.iter().zip(&tasks) {
        assert_eq!(
            task.status,
            TaskStatus::Completed,
            "{:?}",
            task.error_message
        );
        if run.role == RunRole::Strategy {
            assert_eq!(task.processed_items, args.decisions as i64);
        }
    }
    // Every decision was a call of its own: no cache answered, no answer was asked twice.
    let calls = server.calls() - before;
    assert_eq!(calls, model_tasks * args.decisions);
    let board_started = Instant::now();
    let board = leaderboard(store.as_ref(), &experiment.experiment_id)
        .await
        .expect("leaderboard");
    let board_seconds = board_started.elapsed().as_secs_f64();
    assert_eq!(board.cost.cache_hits, 0);
    // The repeats sampled differently (their seeds differ and the fake follows the seed).
    let prompt = board
        .rows
        .iter()
        .find(|r| r.variant == "prompt")
        .expect("row");
    assert!(prompt.consistency.is_none_or(|c| c < 1.0), "{prompt:?}");
    RunResult {
        tasks: model_tasks,
        decisions: args.decisions,
        model_slots,
        seconds,
        ideal: (model_tasks * args.decisions) as f64 * delay.as_secs_f64() / limit as f64,
        per_call_alone,
        calls,
        max_in_flight: server.max_in_flight(),
        create_seconds,
        board_seconds,
        idle_permit_seconds,
        lag,
    }
}

/// Permit-seconds the limiter's permits were free (no call held them), sampled every 2 ms
/// until `running` turns false.
async fn sample_idle(
    limiter: Arc<tokio::sync::Semaphore>,
    limit: usize,
    running: Arc<std::sync::atomic::AtomicBool>,
) -> f64 {
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut idle = 0.0;
    while running.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        let now = Instant::now();
        idle += limiter.available_permits().min(limit) as f64 * (now - last).as_secs_f64();
        last = now;
    }
    idle
}

// ------------------------------------------------------------------ part 2: the leaderboard

/// SplitMix64: a small seeded generator, so the synthetic runs are the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn settings() -> AccountSettings {
    let commission = Rate::parse("0.001").expect("rate");
    AccountSettings {
        market_type: MarketType::Us,
        initial_balance: Money::parse("10000").expect("cash"),
        commission_rate_buy: commission,
        commission_rate_sell: commission,
        tax_rate: Rate::ZERO,
        min_commission: Money::ZERO,
        short_margin_ratio: Rate::ONE,
        whole_units: true,
        slippage: Rate::ZERO,
        borrow_rate: Rate::ZERO,
    }
}

/// A finished run whose equity follows `positions` (1 long, 0 flat) on the bars' closes, paying
/// 0.1% on every switch, with the statistics and decisions a model task records.
fn run_data(
    variant: &str,
    role: RunRole,
    blind: bool,
    closes: &[f64],
    positions: &[u8],
    times: &[chrono::DateTime<chrono::Utc>],
) -> RunData {
    let initial = 10_000.0;
    let mut equity = Vec::with_capacity(closes.len());
    let mut actions = Vec::with_capacity(closes.len());
    let (mut value, mut previous, mut changes, mut trades) = (initial, 0u8, 0u64, 0u64);
    for (t, &position) in positions.iter().enumerate() {
        if t > 0 && previous == 1 {
            value *= closes[t] / closes[t - 1];
        }
        if position != previous {
            value *= 0.999;
            changes += 1;
            trades += u64::from(position == 0);
        }
        actions.push(match (previous, position) {
            (0, 1) => TradeAction::Buy,
            (1, 0) => TradeAction::Sell,
            _ => TradeAction::Hold,
        });
        previous = position;
        equity.push(value);
    }
    let returns: Vec<f64> = std::iter::once(initial)
        .chain(equity.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    let (mut peak, mut drawdown) = (initial, 0.0f64);
    for &e in &equity {
        peak = peak.max(e);
        drawdown = drawdown.max(1.0 - e / peak);
    }
    let n = closes.len();
    let model = role == RunRole::Strategy;
    let mut stats = json!({
        "return_pct": (value / initial - 1.0) * 100.0,
        "sharpe_ratio": sharpe_ratio(&returns).map(|s| s * 252f64.sqrt()),
        "max_drawdown_pct": drawdown * 100.0,
        "num_trades": trades,
        "decisions": n,
    });
    if model {
        let extra = json!({"llm_decisions": n, "llm_calls": n, "cache_hits": 0,
            "failed_decisions": 0, "prompt_tokens": 400 * n, "completion_tokens": 30 * n});
        for (k, v) in extra.as_object().expect("object") {
            stats[k] = v.clone();
        }
    }
    RunData {
        run: ExperimentRun {
            experiment_id: "bench".into(),
            task_id: format!("{variant}-{blind}"),
            variant: variant.into(),
            role,
            stock_symbol: "SPY".into(),
            market_type: MarketType::Us,
            time_granularity: TimeGranularity::Daily,
            period: "p".into(),
            repeat_index: 0,
            blind,
        },
        status: TaskStatus::Completed,
        stats: Some(stats),
        initial,
        equity,
        times: times.to_vec(),
        position_changes: changes,
        actions: if model { actions } else { Vec::new() },
        latencies: if model { vec![50; n] } else { Vec::new() },
        money: None,
        memorisation_warning: None,
    }
}

struct BoardResult {
    shape: &'static str,
    bootstraps: usize,
    seconds: f64,
    all_seconds: Vec<f64>,
}

fn part_two(args: &Args) -> Vec<BoardResult> {
    let sample = aibt_data::find_sample("SPY", None, TimeGranularity::Daily).expect("SPY");
    let all = sample.bars().expect("bars");
    let bars = all[all.len().saturating_sub(args.bars)..].to_vec();
    assert_eq!(bars.len(), args.bars, "SPY has {} daily bars", all.len());
    let closes: Vec<f64> = bars.iter().map(|b| b.close.to_f64()).collect();
    let times: Vec<_> = bars.iter().map(|b| b.ts).collect();
    let period_bars: HashMap<(String, String), PeriodBars> = HashMap::from([(
        ("SPY".to_string(), "p".to_string()),
        PeriodBars {
            bars: bars.clone(),
            settings: settings(),
        },
    )]);
    let mut out = Vec::new();
    for (shape, variants, blind) in [
        ("100 variants, 1 run each", 100usize, false),
        ("50 variants + blind twins", 50, true),
    ] {
        let mut rng = Rng(11);
        let mut runs = vec![
            run_data(
                "buy-and-hold",
                RunRole::Baseline,
                false,
                &closes,
                &vec![1; bars.len()],
                &times,
            ),
            run_data(
                "always-hold",
                RunRole::Baseline,
                false,
                &closes,
                &vec![0; bars.len()],
                &times,
            ),
        ];
        let twins: &[bool] = if blind { &[false, true] } else { &[false] };
        for v in 0..variants {
            for &blind in twins {
                // Long or flat, switching on about one bar in twenty.
                let mut position = 0u8;
                let positions: Vec<u8> = (0..bars.len())
                    .map(|_| {
                        if rng.uniform() < 0.05 {
                            position ^= 1;
                        }
                        position
                    })
                    .collect();
                let name = format!("s{v:03}");
                runs.push(run_data(
                    &name,
                    RunRole::Strategy,
                    blind,
                    &closes,
                    &positions,
                    &times,
                ));
            }
        }
        let spec = ExperimentSpec::from_json(json!({
            "name": "bench",
            "seed": 7,
            "series": [{"symbol": "SPY"}],
            "periods": {"list": [{"name": "p", "start": times[0].to_rfc3339(),
                "end": times[times.len() - 1].to_rfc3339()}]},
            "strategies": (0..variants)
                .map(|v| json!({"name": format!("s{v:03}"), "builtin": "sma-cross"}))
                .collect::<Vec<Value>>(),
        }))
        .expect("spec");
        let (_, splits) = spec.periods().expect("periods");
        let inputs = Inputs {
            experiment_id: "bench",
            name: "bench",
            status: TaskStatus::Completed,
            error_message: None,
            spec: &spec,
            splits: &splits,
            runs: &runs,
            bars: &period_bars,
            progress: Default::default(),
        };
        let mut all_seconds = Vec::new();
        let mut board: Option<Leaderboard> = None;
        for _ in 0..args.runs.max(1) {
            let started = Instant::now();
            board = Some(std::hint::black_box(compute(&inputs)));
            all_seconds.push(started.elapsed().as_secs_f64());
        }
        let board = board.expect("a run");
        let bootstraps = board
            .rows
            .iter()
            .map(|r| usize::from(r.vs_buy_hold.is_some()) + usize::from(r.memory_gap.is_some()))
            .sum();
        assert_eq!(
            bootstraps,
            variants * twins.len() + if blind { variants } else { 0 }
        );
        out.push(BoardResult {
            shape,
            bootstraps,
            seconds: all_seconds.iter().copied().fold(f64::INFINITY, f64::min),
            all_seconds,
        });
    }
    out
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = (args.only.as_deref() != Some("board")).then(|| runtime.block_on(part_one(&args)));
    let boards = if args.only.as_deref() == Some("run") {
        Vec::new()
    } else {
        part_two(&args)
    };
    if args.json {
        println!(
            "{}",
            json!({
                "experiment": run.as_ref().map(|r| json!({
                    "tasks": r.tasks,
                    "decisions_per_task": r.decisions,
                    "delay_ms": args.delay_ms,
                    "limit": args.limit,
                    "model_slots": r.model_slots,
                    "seconds": r.seconds,
                    "ideal_seconds": r.ideal,
                    "ratio": r.seconds / r.ideal,
                    "calls": r.calls,
                    "max_in_flight": r.max_in_flight,
                    "calls_alone_ms": r.per_call_alone * 1e3,
                    "calls_alone_seconds": r.calls as f64 * r.per_call_alone / args.limit as f64,
                    "create_seconds": r.create_seconds,
                    "leaderboard_seconds": r.board_seconds,
                    "idle_permit_seconds": r.idle_permit_seconds,
                    "drive_returned_after_last_task_seconds": r.lag,
                })),
                "leaderboard": boards.iter().map(|b| json!({
                    "shape": b.shape,
                    "runs": 100,
                    "bars": args.bars,
                    "resamples": DEFAULT_RESAMPLES,
                    "bootstraps": b.bootstraps,
                    "seconds": b.seconds,
                    "all_seconds": b.all_seconds,
                    "ratio_to_1s": b.seconds,
                })).collect::<Vec<_>>(),
            })
        );
        return;
    }
    if let Some(r) = &run {
        let alone = r.calls as f64 * r.per_call_alone / args.limit as f64;
        println!(
            "experiment: {} model tasks × {} decisions against a {} ms fake server, AI config \
             limited to {} calls at once, {} model slots, SQLite",
            r.tasks, r.decisions, args.delay_ms, args.limit, r.model_slots
        );
        println!(
            "  driven in {:.2} s; ideal {:.2} s ({} calls × {} ms / {}): {:.3}× the ideal \
             (target ≤ 1.10×)",
            r.seconds,
            r.ideal,
            r.calls,
            args.delay_ms,
            args.limit,
            r.seconds / r.ideal
        );
        println!(
            "  the calls alone (bare client, {} at a time): {:.2} ms each, {:.2} s for {} calls; \
             the experiment took {:.3}× that",
            args.limit,
            r.per_call_alone * 1e3,
            alone,
            r.calls,
            r.seconds / alone
        );
        let hold = (r.seconds * args.limit as f64 - r.idle_permit_seconds) / r.calls as f64;
        println!(
            "  permits free {:.2} permit-s ({:.2} s of the wall time at {} a time); a call held its \
             permit {:.2} ms on average; drive returned {:.3} s after the last task ended",
            r.idle_permit_seconds,
            r.idle_permit_seconds / args.limit as f64,
            args.limit,
            hold * 1e3,
            r.lag
        );
        println!(
            "  most calls in flight at once: {}; creating it took {:.2} s, its leaderboard \
             (read from SQLite) {:.2} s",
            r.max_in_flight, r.create_seconds, r.board_seconds
        );
    }
    for b in &boards {
        println!(
            "leaderboard ({}): 100 runs of {} bars, {} paired bootstraps of {} resamples: \
             {:.3} s (best of {}; all {:?}) = {:.2}× the 1 s target",
            b.shape,
            args.bars,
            b.bootstraps,
            DEFAULT_RESAMPLES,
            b.seconds,
            b.all_seconds.len(),
            b.all_seconds
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>(),
            b.seconds
        );
    }
}
