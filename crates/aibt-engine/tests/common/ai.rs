//! AI tasks against the fake OpenAI-compatible server of `aibt-testkit`.

use std::sync::Arc;
use std::time::Duration;

use aibt_ai::llm::CacheMode;
use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, ResponseFormat, TaskStatus, TimeGranularity};
use aibt_engine::accounts::new_account;
use aibt_engine::ai_config::{AiConfigSpec, ApiKey, build_ai_config};
use aibt_engine::templates::template_for_content;
use aibt_engine::{
    RunConfig, RunOutcome, StrategyRef, TaskOptions, TaskSpec, Transition, claim_and_run,
    create_task, transition,
};
use aibt_store::{
    AccountSnapshot, AiConfig, LocalDecision, RecordQuery, SeriesKey, Store, Task, TradeRecord,
};
use aibt_testkit::{FakeLlm, Reply, decision, hashed_decision, prompt_of};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A template that reads nothing of the account, with the step first so that a fake server
/// can tell decisions apart.
pub const MARKET_TEMPLATE: &str = "step {{ step }}\n{{ symbol }} at {{ now }}\n\
{% for b in bars[-5:] %}{{ b.time }} o={{ b.open }} h={{ b.high }} l={{ b.low }} c={{ b.close }} v={{ b.volume }} rsi={{ b.rsi_14 }}\n{% endfor %}\
sma10={{ indicators.sma_10 }} sma20={{ indicators.sma_20 }} macd={{ indicators.macd }} atr={{ indicators.atr_14 }}\n";

/// A template that also reads the account (so it cannot be asked ahead).
pub const ACCOUNT_TEMPLATE: &str = "step {{ step }}\n{{ symbol }} at {{ now }} close {{ bars[-1].close }}\n\
position {{ position.side }} {{ position.quantity }} @ {{ position.avg_price }}, cash {{ cash }}, equity {{ equity }}, fees {{ fees.total }}\n\
{% for d in last_decisions %}{{ d.time }} {{ d.action }} {{ d.confidence }} {{ d.reasoning }}\n{% endfor %}";

/// The step a prompt (or a request of it) is for.
pub fn step_of(prompt: &str) -> u64 {
    prompt
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("step "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the prompt starts with its step")
}

/// A request that asks again after an unusable answer (it carries the earlier exchange).
pub fn is_reask(body: &serde_json::Value) -> bool {
    body["messages"].as_array().map_or(0, Vec::len) > 2
}

pub fn config_spec(base_url: &str) -> AiConfigSpec {
    AiConfigSpec {
        name: "fake".into(),
        base_url: base_url.into(),
        api_key: ApiKey::None,
        model: "fake-model".into(),
        temperature: None,
        max_tokens: None,
        timeout_seconds: Some(5),
        response_format: Some(ResponseFormat::JsonSchema),
        max_concurrency: Some(8),
        max_retries: Some(2),
        knowledge_cutoff: None,
        price_input_per_million: None,
        price_output_per_million: None,
        reasoning_effort: None,
        decision_mode: None,
    }
}

pub async fn store_config(store: &dyn Store, spec: AiConfigSpec) -> AiConfig {
    let config = build_ai_config(spec).expect("config");
    store
        .insert_ai_config(&config)
        .await
        .expect("insert config");
    config
}

/// The period of the AI tests: 30 daily GOOG bars (with plenty of history before it).
pub fn period() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        aibt_core::time::parse_timestamp("2012-03-01").expect("start"),
        aibt_core::time::parse_timestamp("2012-04-12").expect("end"),
    )
}

/// Task options with the cache off, so that every decision is a call to the fake.
pub fn uncached() -> TaskOptions {
    TaskOptions {
        cache: CacheMode::Off,
        ..TaskOptions::default()
    }
}

/// A fake that answers every prompt with its hashed decision (BUY, SELL or HOLD).
pub async fn hashing_fake(delay: Duration) -> FakeLlm {
    FakeLlm::start(move |_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay,
    })
    .await
}

/// A valid answer for `step`: BUY, HOLD and SELL in turn, each with confidence 0.75.
pub fn answer_for(step: u64) -> Reply {
    let action = ["BUY", "HOLD", "SELL"][(step % 3) as usize];
    Reply::answer(decision(action, 0.75, &format!("step {step}")))
}

/// Runs the standard 30-bar task against a fake whose reply to a request is `reply(step,
/// reask, body)`, with the config `tweak` makes.
pub async fn run_against(
    reply: impl Fn(u64, bool, &Value) -> Reply + Send + Sync + 'static,
    tweak: impl FnOnce(AiConfigSpec) -> AiConfigSpec,
    options: TaskOptions,
) -> (Finished, FakeLlm) {
    let (_dir, store) = super::sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake =
        FakeLlm::start(move |_, body| reply(step_of(&prompt_of(body)), is_reask(body), body)).await;
    let config = store_config(store.as_ref(), tweak(config_spec(&fake.base_url()))).await;
    let finished = AiTask {
        store: &store,
        series: &series,
        settings: &super::settings(MarketType::Us, "10000", "0.001"),
        template: MARKET_TEMPLATE,
        config: &config,
        options,
        period: period(),
        interval: 1,
    }
    .run()
    .await;
    (finished, fake)
}

pub struct AiTask<'a> {
    pub store: &'a Arc<dyn Store>,
    pub series: &'a SeriesKey,
    pub settings: &'a AccountSettings,
    pub template: &'a str,
    pub config: &'a AiConfig,
    pub options: TaskOptions,
    pub period: (DateTime<Utc>, DateTime<Utc>),
    pub interval: i64,
}

impl AiTask<'_> {
    pub async fn create(&self) -> Task {
        let template = template_for_content(self.store.as_ref(), self.template, None)
            .await
            .expect("template");
        let account_id = aibt_store::new_id();
        self.store
            .insert_account(&new_account(
                &account_id,
                &self.series.symbol,
                self.settings,
                false,
            ))
            .await
            .expect("account");
        create_task(
            self.store.as_ref(),
            TaskSpec {
                account_id,
                symbol: self.series.symbol.clone(),
                market_type: self.series.market_type,
                granularity: self.series.granularity,
                start: Some(self.period.0),
                end: Some(self.period.1),
                decision_interval: self.interval,
                strategy: StrategyRef::Template {
                    prompt_id: template.prompt_id,
                    ai_config_id: self.config.config_id.clone(),
                },
                options: self.options.clone(),
            },
        )
        .await
        .expect("create task")
    }

    /// Creates the task and runs it to its end.
    pub async fn run(&self) -> Finished {
        let task = self.create().await;
        run_ai(self.store, &task.task_id).await
    }
}

/// A finished task and everything it recorded.
pub struct Finished {
    pub task: Task,
    pub decisions: Vec<LocalDecision>,
    pub trades: Vec<TradeRecord>,
    pub snapshots: Vec<AccountSnapshot>,
}

impl Finished {
    pub fn stats(&self) -> &serde_json::Value {
        self.task.stats.as_ref().expect("stats")
    }

    pub fn failed(&self) -> u64 {
        self.decisions.iter().filter(|d| d.failed()).count() as u64
    }

    /// The trades without their task-specific ids.
    pub fn trade_facts(&self) -> Vec<String> {
        self.trades
            .iter()
            .map(|t| {
                format!(
                    "{} {} {} @ {} fees {} {:?} pnl {:?}",
                    aibt_core::time::format_timestamp(t.trade_time),
                    t.trade_action,
                    t.quantity,
                    t.price,
                    t.total_fees,
                    t.status,
                    t.realized_pnl
                )
            })
            .collect()
    }

    pub fn equity_curve(&self) -> Vec<String> {
        self.snapshots
            .iter()
            .map(|s| format!("{} {}", s.timestamp, s.total_value))
            .collect()
    }

    /// What the model decided, bar by bar.
    pub fn decision_facts(&self) -> Vec<String> {
        self.decisions
            .iter()
            .map(|d| {
                format!(
                    "{:?} {} {} {}",
                    d.analysis_date, d.decision_result, d.confidence_score, d.reasoning
                )
            })
            .collect()
    }

    /// The statistics of the money, without what the calls cost or how long they took.
    pub fn money_stats(&self) -> serde_json::Value {
        let mut stats = self.stats().clone();
        if let Some(map) = stats.as_object_mut() {
            for key in [
                "llm_calls",
                "cache_hits",
                "latency_mean_ms",
                "latency_p95_ms",
                "prompt_tokens",
                "completion_tokens",
            ] {
                map.remove(key);
            }
        }
        stats
    }
}

pub async fn run_ai(store: &Arc<dyn Store>, task_id: &str) -> Finished {
    let task = store.get_task(task_id).await.expect("task");
    if task.status == TaskStatus::Pending {
        transition(store.as_ref(), task_id, Transition::Start)
            .await
            .expect("start");
    }
    let config = RunConfig::new(format!("test-{}", aibt_store::new_id()));
    match claim_and_run(
        store,
        &config,
        aibt_store::ClaimFilter::task(task_id),
        &mut |_| {},
    )
    .await
    .expect("run")
    .expect("claimable")
    {
        RunOutcome::Finished(_) => {}
        other => panic!("run did not finish: {other:?}"),
    }
    finished(store.as_ref(), task_id).await
}

pub async fn finished(store: &dyn Store, task_id: &str) -> Finished {
    let task = store.get_task(task_id).await.expect("task");
    let query = |cursor: Option<String>| RecordQuery {
        limit: 1000,
        cursor,
        ..RecordQuery::default()
    };
    let (mut decisions, mut trades, mut snapshots) = (Vec::new(), Vec::new(), Vec::new());
    let mut cursor = None;
    loop {
        let page = store
            .list_decisions(task_id, &query(cursor))
            .await
            .expect("decisions");
        decisions.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    loop {
        let page = store
            .list_trades(task_id, &query(cursor))
            .await
            .expect("trades");
        trades.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    loop {
        let page = store
            .list_snapshots(task_id, &query(cursor))
            .await
            .expect("snapshots");
        snapshots.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Finished {
        task,
        decisions,
        trades,
        snapshots,
    }
}

pub async fn goog(store: &dyn Store) -> SeriesKey {
    super::import(
        store,
        "GOOG_1d.csv",
        "GOOG",
        MarketType::Us,
        TimeGranularity::Daily,
    )
    .await
}
