//! Running a task whose decisions come from a model.
//!
//! Each decision step (the decision, its fills, the snapshots since the previous step, the run
//! account, progress) is committed in one transaction, so a pause or cancel reaches the task
//! within one step and a resumed task continues from the last decision committed. The task's
//! bars are held in memory: a model call costs far more than a bar.
//!
//! When the template reads nothing of the account, the prompt of every later decision is
//! known in advance, so up to `prefetch` of them are asked at once; the answers are applied in
//! order, so the result is the sequential run's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aibt_ai::client::{ChatClient, ClientSettings, limiter_for};
use aibt_ai::llm::{AnswerCache, DecisionOutcome, LlmDecider};
use aibt_ai::template::{
    AccountView, Blind, PastDecision, PromptSetup, PromptTemplate, build_context, past_decision,
};
use aibt_core::Money;
use aibt_core::broker::{Account, AccountSettings};
use aibt_core::decision::PositionView;
use aibt_core::{Bar, PointInTime, TaskStatus};
use aibt_store::{AiConfig, CachedAnswer, SeriesKey, Store, Task};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{EngineError, Result};
use crate::recorder::{DecisionFacts, Recorder};
use crate::runner::{
    Flusher, Progress, RunConfig, RunOutcome, account_of, complete, load_checkpoint, series_of,
};
use crate::simulation::{BarFills, Simulation, decision_count, first_decision_bar};
use crate::task::{TaskOptions, Transition, transition};

/// Bars of history loaded before the period beyond the prompt's window, so the indicators
/// (SMA 50, MACD) are defined from the first decision.
const INDICATOR_HISTORY: usize = 100;
/// Earlier decisions a prompt shows.
const PAST_DECISIONS: usize = 5;
/// Bars a prompt shows when the task does not say.
pub const DEFAULT_WINDOW: usize = 30;

/// The `llm_cache` table as the decider's cache.
struct StoreCache {
    store: Arc<dyn Store>,
    base_url: String,
    model: String,
}

#[async_trait]
impl AnswerCache for StoreCache {
    async fn get(&self, key: &str) -> Option<Value> {
        self.store
            .get_cached_answer(key)
            .await
            .ok()
            .flatten()
            .map(|answer| answer.response)
    }

    async fn put(&self, key: &str, answer: Value) {
        // A failed cache write costs a later call, never a result: it is not an error.
        let _ = self
            .store
            .put_cached_answer(&CachedAnswer {
                cache_key: key.to_string(),
                base_url: self.base_url.clone(),
                model: self.model.clone(),
                response: answer,
                created_at: aibt_core::time::now(),
            })
            .await;
    }
}

/// The client settings of an AI config.
pub fn client_settings(config: &AiConfig, seed: Option<u64>) -> Result<ClientSettings> {
    let api_key = crate::secrets::open_api_key(&config.local_ai_api_key).map_err(|e| {
        EngineError::invalid(
            "local_ai_api_key",
            format!("AI config {}: {e}", config.name),
        )
    })?;
    Ok(ClientSettings {
        base_url: config.local_ai_base_url.clone(),
        api_key,
        model: config.local_ai_model_name.clone(),
        temperature: config.temperature.to_f64(),
        max_tokens: u32::try_from(config.max_tokens).unwrap_or(400),
        timeout: Duration::from_secs(u64::try_from(config.timeout_seconds).unwrap_or(60)),
        response_format: config.response_format,
        max_retries: u32::try_from(config.max_retries).unwrap_or(3),
        seed,
    })
}

/// A decider for a task: the AI config's client, its shared call limiter, the cache.
pub fn decider_for(
    store: &Arc<dyn Store>,
    config: &AiConfig,
    options: &TaskOptions,
) -> Result<LlmDecider> {
    let settings = client_settings(config, options.seed)?;
    let limiter = limiter_for(
        &config.config_id,
        usize::try_from(config.max_concurrency).unwrap_or(4),
    );
    let client = ChatClient::new(settings, limiter)
        .map_err(|e| EngineError::invalid("local_ai_base_url", e.to_string()))?;
    let cache = Arc::new(StoreCache {
        store: store.clone(),
        base_url: config.local_ai_base_url.clone(),
        model: config.local_ai_model_name.clone(),
    });
    Ok(LlmDecider::new(
        client,
        Some(cache),
        options.cache,
        options.answer_retries.unwrap_or(2),
    ))
}

/// Failed decisions a task may have before it is FAILED: a quarter of its decisions, at
/// least five, unless the task says otherwise.
pub fn failure_limit(options: &TaskOptions, total_items: u64) -> u64 {
    options
        .failure_limit
        .unwrap_or_else(|| (total_items.div_ceil(4)).max(5))
}

/// What a decision asked ahead of its bar yields: the rendered prompt (or why it could not be
/// rendered), the model's outcome, and the market data shown.
type Answered = (std::result::Result<String, String>, DecisionOutcome, Value);
/// A decision asked ahead: its period index, its step, and the call in flight.
type Asked = (usize, u64, tokio::task::JoinHandle<Answered>);

/// The decisions asked ahead of their bar. A run that stops (paused, cancelled, failed) drops
/// them, and with them their calls: a detached call would go on holding a slot of the AI
/// config's concurrency limit for an answer nobody reads.
#[derive(Default)]
struct AskedAhead(VecDeque<Asked>);

impl Drop for AskedAhead {
    fn drop(&mut self) {
        for (_, _, call) in &self.0 {
            call.abort();
        }
    }
}

/// Renews the lease while a run waits on slow calls; flags a lost lease.
struct Heartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    fn start(store: Arc<dyn Store>, task_id: String, config: &RunConfig) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let worker = config.worker_id.clone();
        let lease = config.lease;
        let every = lease.to_std().unwrap_or(Duration::from_secs(30)) / 3;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store
                    .renew_lease(&task_id, &worker, aibt_core::time::now() + lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A transient database error: try again next beat.
                    Err(_) => {}
                }
            }
        });
        Heartbeat { lost, task }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Everything needed to render the prompt of the decision at a bar.
struct PromptMaker {
    template: Arc<PromptTemplate>,
    symbol: String,
    market: String,
    granularity: String,
    window: usize,
    blind: Option<Blind>,
    options: aibt_core::broker::AccountSettings,
}

impl PromptMaker {
    /// The prompt at `bars[index]`: the window passed to the template ends at that bar.
    fn render(
        &self,
        bars: &[Bar],
        index: usize,
        account: &AccountView,
        past: &[PastDecision],
        step: u64,
    ) -> std::result::Result<(String, Value), String> {
        let start = (index + 1).saturating_sub(self.window + INDICATOR_HISTORY);
        let window = PointInTime::ending_with(&bars[start..=index]);
        let setup = PromptSetup {
            symbol: &self.symbol,
            market: &self.market,
            granularity: &self.granularity,
            window: self.window,
            blind: self.blind,
            commission_buy: self.options.commission_rate_buy,
            commission_sell: self.options.commission_rate_sell,
            tax: self.options.tax_rate,
            min_commission: self.options.min_commission,
        };
        let context = build_context(&setup, window, start as u64, account, past, step);
        let market_data = json!({
            "close": bars[index].close,
            "indicators": context.indicators,
        });
        let prompt = self.template.render(&context).map_err(|e| e.to_string())?;
        Ok((prompt, market_data))
    }
}

/// Loads every bar of `[start, end]` (and `before` bars of history) in chunks; the second
/// value is the index of the first bar of the period.
async fn load_bars(
    store: &dyn Store,
    series: &SeriesKey,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    before: usize,
) -> Result<(Vec<Bar>, usize)> {
    let mut bars = store
        .bars_before(series, start, u32::try_from(before).unwrap_or(u32::MAX))
        .await?;
    let offset = bars.len();
    bars.extend(crate::records::read_bars(store, series, Some(start), Some(end)).await?);
    Ok((bars, offset))
}

/// What `aibt template render` and the template preview show: the prompt of one decision.
#[derive(Debug, Clone)]
pub struct PreviewSpec {
    pub template: String,
    pub series: SeriesKey,
    /// The first bar of the backtest (blind mode rebases prices and numbers bars from here);
    /// the decision bar by default.
    pub start: Option<DateTime<Utc>>,
    /// The decision bar: the last bar at or before this time.
    pub at: DateTime<Utc>,
    /// Bars shown in `bars` (0: the default).
    pub window: usize,
    pub blind: bool,
    /// The account as it is before the first trade: its cash and fees.
    pub settings: AccountSettings,
}

/// A rendered prompt and what the model would receive with it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    /// The decision bar.
    pub bar_time: DateTime<Utc>,
    pub prompt: String,
    /// The request's messages: the system message and the prompt.
    pub messages: Vec<Value>,
    /// The answer schema sent with them.
    pub schema: Value,
    /// Whether the prompt reads the account (and so cannot be asked ahead).
    pub account_dependent: bool,
}

/// Renders a template for one bar exactly as a task would at its first decision: a flat
/// account, no earlier decisions.
pub async fn preview_prompt(store: &dyn Store, spec: &PreviewSpec) -> Result<Preview> {
    let template = PromptTemplate::new(&spec.template)
        .map_err(|e| EngineError::invalid("content", e.to_string()))?;
    let window = if spec.window == 0 {
        DEFAULT_WINDOW
    } else {
        spec.window
    };
    let start = spec.start.unwrap_or(spec.at);
    if start > spec.at {
        return Err(EngineError::invalid(
            "at",
            format!(
                "{} is before the start {}",
                aibt_core::time::format_timestamp(spec.at),
                aibt_core::time::format_timestamp(start)
            ),
        ));
    }
    // With no bar from the start to `at`, the decision bar is the last one before it.
    let (bars, _) = load_bars(
        store,
        &spec.series,
        start,
        spec.at,
        window + INDICATOR_HISTORY,
    )
    .await?;
    if bars.is_empty() {
        return Err(EngineError::invalid(
            "at",
            format!(
                "no bar of {} at or before {}",
                spec.series,
                aibt_core::time::format_timestamp(spec.at)
            ),
        ));
    }
    let index = bars.len() - 1;
    let blind = spec.blind.then(|| blind_of(&bars));
    let maker = PromptMaker {
        template: Arc::new(template),
        symbol: spec.series.symbol.clone(),
        market: spec.series.market_type.to_string(),
        granularity: spec.series.granularity.to_string(),
        window,
        blind,
        options: spec.settings.clone(),
    };
    let account = Account::open(spec.settings.clone(), "preview");
    let view = AccountView {
        position: PositionView::of(&account, bars[index].close)?,
        total_fees: Money::ZERO,
    };
    let (prompt, _) = maker
        .render(&bars, index, &view, &[], 0)
        .map_err(|e| EngineError::invalid("content", e))?;
    Ok(Preview {
        bar_time: bars[index].ts,
        messages: LlmDecider::messages(&prompt),
        prompt,
        schema: aibt_ai::answer::answer_schema(),
        account_dependent: maker.template.info().account_dependent,
    })
}

/// Blind mode's reference: the first bar loaded for the task (history included).
fn blind_of(bars: &[Bar]) -> Blind {
    Blind {
        base: bars.first().map_or(Money::ZERO, |b| b.close),
        origin: bars.first().map_or_else(aibt_core::time::now, |b| b.ts),
    }
}

/// The last few decisions of a task, for a resumed run's prompts, shown as the run showed
/// them (blind mode names a decision's bar by its position in `bars`).
async fn past_decisions(
    store: &dyn Store,
    task_id: &str,
    bars: &[Bar],
    blind: bool,
) -> Result<VecDeque<PastDecision>> {
    let mut out = VecDeque::new();
    for row in crate::records::all_decisions(store, task_id).await? {
        let Some(time) = row.analysis_date else {
            continue;
        };
        out.push_back(past_decision(
            decision_time(bars, time, blind),
            row.decision_result,
            row.confidence_score,
            &row.reasoning,
        ));
        if out.len() > PAST_DECISIONS {
            out.pop_front();
        }
    }
    Ok(out)
}

/// How a prompt names the bar of an earlier decision.
fn decision_time(bars: &[Bar], time: DateTime<Utc>, blind: bool) -> String {
    if blind {
        format!("bar {}", bars.partition_point(|b| b.ts < time))
    } else {
        aibt_core::time::format_timestamp(time)
    }
}

fn account_view(simulation: &Simulation, bar: &Bar) -> Result<AccountView> {
    Ok(AccountView {
        position: PositionView::of(&simulation.account, bar.close)?,
        total_fees: simulation.account.total_fees,
    })
}

/// Runs an LLM task (strategy `template`) that this worker holds the lease of.
pub(crate) async fn execute_llm(
    store: Arc<dyn Store>,
    task: Task,
    config: &RunConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    let options: TaskOptions = crate::runner::options_of(&task)?;
    let prompt_id = task.user_prompt_id.clone().ok_or_else(|| {
        EngineError::invalid("user_prompt_id", "an AI task needs a prompt template")
    })?;
    let config_id = task
        .ai_config_id
        .clone()
        .ok_or_else(|| EngineError::invalid("ai_config_id", "an AI task needs an AI config"))?;
    let content = match &options.template_content {
        Some(content) => content.clone(),
        None => store.get_template(&prompt_id).await?.content,
    };
    let template = Arc::new(
        PromptTemplate::new(&content)
            .map_err(|e| EngineError::invalid("content", format!("template {prompt_id}: {e}")))?,
    );
    let ai_config = store.get_ai_config(&config_id).await?;
    let decider = Arc::new(decider_for(&store, &ai_config, &options)?);
    let window = if options.window == 0 {
        DEFAULT_WINDOW
    } else {
        options.window as usize
    };
    let series = series_of(&task)?;
    let (bars, offset) = load_bars(
        store.as_ref(),
        &series,
        task.start_date,
        task.end_date,
        window + INDICATOR_HISTORY,
    )
    .await?;
    let period = bars.len() - offset;
    let interval = u64::try_from(task.decision_interval).unwrap_or(1).max(1);
    let first = first_decision_bar(0, offset as u64, interval);
    let total_items = decision_count(period as u64, first, interval);
    let limit = failure_limit(&options, total_items);

    let stored_account = store.get_task_account(&task.task_id).await?;
    let checkpoint = load_checkpoint(&task)?;
    let account = account_of(&stored_account, &task.task_id);
    let settings = account.settings.clone();
    let mut simulation = Simulation::new(account, options.fill, interval, first, checkpoint);
    let mut recorder = Recorder {
        task_id: task.task_id.clone(),
        account_id: stored_account.account_id.clone(),
        symbol: task.stock_symbol.clone(),
        market_type: series.market_type,
        initial_balance: stored_account.initial_balance,
        rows: Default::default(),
    };
    let blind = options.blind.then(|| blind_of(&bars));
    let maker = Arc::new(PromptMaker {
        template: template.clone(),
        symbol: task.stock_symbol.clone(),
        market: series.market_type.to_string(),
        granularity: series.granularity.to_string(),
        window,
        blind,
        options: settings,
    });
    let mut past = past_decisions(store.as_ref(), &task.task_id, &bars, options.blind).await?;
    let prefetch = if template.info().account_dependent {
        1
    } else {
        options.prefetch.max(1) as usize
    };

    let heartbeat = Heartbeat::start(store.clone(), task.task_id.clone(), config);
    let mut flush = Flusher::new(
        store.clone(),
        task.task_id.clone(),
        config,
        stored_account,
        total_items,
        period as u64,
    );
    let mut ahead = AskedAhead::default();
    let bars = Arc::new(bars);
    let mut fills = BarFills::default();
    let mut last_error: Option<String> = None;
    let resume_at = simulation.next_bar() as usize;
    for index in resume_at..period {
        if heartbeat.lost.load(Ordering::SeqCst) {
            let now = store.get_task(&task.task_id).await?;
            return Ok(RunOutcome::Stopped {
                status: now.status,
                lease_owner: now.lease_owner,
            });
        }
        let absolute = offset + index;
        let bar = bars[absolute];
        fills.executions.clear();
        simulation.open(&bar, &mut fills)?;
        let mut decided = false;
        if simulation.is_decision_bar() {
            let step = simulation.steps();
            let started = aibt_core::time::now();
            let (prompt, outcome, market_data) = if prefetch > 1 {
                // Keep `prefetch` decisions in flight, this one first.
                let mut next_index = ahead
                    .0
                    .back()
                    .map_or(index, |(i, _, _)| i + interval as usize);
                let mut next_step = ahead.0.back().map_or(step, |(_, s, _)| s + 1);
                let view = account_view(&simulation, &bar)?;
                while ahead.0.len() < prefetch && next_index < period {
                    let (maker, decider, bars, view, past) = (
                        maker.clone(),
                        decider.clone(),
                        bars.clone(),
                        view.clone(),
                        past.iter().cloned().collect::<Vec<_>>(),
                    );
                    let at = offset + next_index;
                    let at_step = next_step;
                    ahead.0.push_back((
                        next_index,
                        next_step,
                        tokio::spawn(async move {
                            match maker.render(&bars, at, &view, &past, at_step) {
                                Ok((prompt, data)) => {
                                    let outcome = decider.decide(&prompt).await;
                                    (Ok(prompt), outcome, data)
                                }
                                Err(error) => (Err(error), failed_render(), Value::Null),
                            }
                        }),
                    ));
                    next_index += interval as usize;
                    next_step += 1;
                }
                let Some((at, at_step, handle)) = ahead.0.pop_front() else {
                    return Err(EngineError::Run {
                        task_id: task.task_id.clone(),
                        reason: "no decision was asked for this bar".into(),
                    });
                };
                debug_assert_eq!((at, at_step), (index, step));
                handle.await.map_err(|e| EngineError::Run {
                    task_id: task.task_id.clone(),
                    reason: format!("a decision call failed: {e}"),
                })?
            } else {
                let view = account_view(&simulation, &bar)?;
                let past_now: Vec<PastDecision> = past.iter().cloned().collect();
                match maker.render(&bars, absolute, &view, &past_now, step) {
                    Ok((prompt, data)) => {
                        let outcome = decider.decide(&prompt).await;
                        (Ok(prompt), outcome, data)
                    }
                    Err(error) => (Err(error), failed_render(), Value::Null),
                }
            };
            let prompt = match prompt {
                Ok(prompt) => prompt,
                // A template that passed its check can still fail on data (a filter applied
                // to a missing value): the task cannot run.
                Err(error) => {
                    return Err(EngineError::invalid(
                        "content",
                        format!(
                            "the template failed to render at {}: {error}",
                            aibt_core::time::format_timestamp(bar.ts)
                        ),
                    ));
                }
            };
            let mut outcome = outcome;
            if let Some(blind) = &maker.blind {
                to_real_units(&mut outcome, blind);
            }
            let decision_id = recorder.decision_id(step);
            recorder.decision(
                step,
                &bar,
                &outcome.decision,
                DecisionFacts {
                    start_time: started,
                    end_time: started
                        + chrono::Duration::from_std(outcome.latency).unwrap_or_default(),
                    market_data: Some(market_data),
                    prompt: Some(prompt),
                    prompt_hash: Some(outcome.prompt_hash.clone()),
                    raw_answer: outcome.raw_answer.clone(),
                    parsed_decision: outcome.parsed.clone(),
                    error: outcome.error.clone(),
                    prompt_tokens: outcome.prompt_tokens,
                    completion_tokens: outcome.completion_tokens,
                    from_cache: outcome.from_cache && outcome.calls == 0,
                    llm_calls: i64::from(outcome.calls),
                },
            );
            if let Some(error) = &outcome.error {
                simulation.count_failed_decision();
                last_error = Some(error.clone());
            }
            simulation.decide(&bar, &outcome.decision, &decision_id, &mut fills)?;
            let time = decision_time(&bars, bar.ts, options.blind);
            past.push_back(past_decision(
                time,
                outcome.decision.action,
                outcome.decision.confidence,
                &outcome.decision.reasoning,
            ));
            if past.len() > PAST_DECISIONS {
                past.pop_front();
            }
            decided = true;
        }
        let equity = simulation.close(&bar, &mut fills)?;
        recorder.fills(&fills);
        recorder.snapshot(index as u64, &bar, &simulation.account, equity)?;
        flush.bars_in_batch += 1;
        if decided {
            // One decision step, one transaction; and the step is settled before the next
            // decision, so a pause is seen within one step.
            if let Some(stopped) = flush.commit(&mut recorder, &simulation, progress).await? {
                return Ok(stopped);
            }
            if let Some(stopped) = flush.settle(progress).await? {
                return Ok(stopped);
            }
            if simulation.failed_decisions() > limit {
                let reason = format!(
                    "{} decisions failed, more than the limit of {limit}; the last: {}",
                    simulation.failed_decisions(),
                    last_error.as_deref().unwrap_or("unknown")
                );
                return finish_failed(store.as_ref(), &task.task_id, reason).await;
            }
        }
    }
    drop(ahead);
    if let Some(stopped) = flush.commit(&mut recorder, &simulation, progress).await? {
        return Ok(stopped);
    }
    if let Some(stopped) = flush.settle(progress).await? {
        return Ok(stopped);
    }
    drop(heartbeat);

    let mut stats = crate::runner::stats_json(&task, &simulation, &options)?;
    let ai = ai_stats(store.as_ref(), &task.task_id).await?;
    let failed = ai["failed_decisions"].as_u64().unwrap_or(0);
    merge(&mut stats, ai);
    if let Some(warning) = memorisation_warning(&ai_config, &task) {
        stats["memorisation_warning"] = json!(warning);
    }
    complete(store.as_ref(), &task.task_id, failed > 0, stats).await
}

/// In blind mode the model sees quantities in units of the rebased price; the decision that
/// is recorded (and replayed) and executed is in real units.
fn to_real_units(outcome: &mut DecisionOutcome, blind: &Blind) {
    if let aibt_core::OrderSize::Quantity(shown) = outcome.decision.size {
        match blind.real_quantity(shown) {
            Some(real) => {
                outcome.decision.size = aibt_core::OrderSize::Quantity(real);
                outcome.parsed = Some(aibt_ai::answer::decision_json(&outcome.decision));
            }
            None => {
                let error = format!("quantity {shown} cannot be converted to real units");
                outcome.decision = aibt_core::Decision {
                    confidence: aibt_core::Rate::ZERO,
                    ..aibt_core::Decision::hold(format!("failed decision: {error}"))
                };
                outcome.parsed = None;
                outcome.error = Some(error);
            }
        }
    }
}

fn failed_render() -> DecisionOutcome {
    DecisionOutcome {
        decision: aibt_core::Decision::hold(""),
        error: None,
        raw_answer: None,
        parsed: None,
        prompt_hash: String::new(),
        prompt_tokens: None,
        completion_tokens: None,
        from_cache: false,
        calls: 0,
        latency: Duration::ZERO,
    }
}

async fn finish_failed(store: &dyn Store, task_id: &str, reason: String) -> Result<RunOutcome> {
    match transition(store, task_id, Transition::Fail { error: reason }).await {
        Ok(failed) => Ok(RunOutcome::Finished(Box::new(failed))),
        Err(EngineError::WrongState { status, .. }) => Ok(RunOutcome::Stopped {
            status,
            lease_owner: None,
        }),
        Err(other) => Err(other),
    }
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (target, extra) {
        target.extend(extra);
    }
}

/// The model's side of a task, from its stored decisions: calls, cache hits, failures, tokens
/// and latency (mean and 95th percentile of the decisions that called the model).
pub async fn ai_stats(store: &dyn Store, task_id: &str) -> Result<Value> {
    let (mut decisions, mut failed, mut calls, mut hits) = (0u64, 0u64, 0i64, 0u64);
    let (mut prompt_tokens, mut completion_tokens) = (0i64, 0i64);
    let mut latencies: Vec<i64> = Vec::new();
    for row in crate::records::all_decisions(store, task_id).await? {
        decisions += 1;
        failed += u64::from(row.failed());
        calls += row.llm_calls;
        hits += u64::from(row.from_cache);
        prompt_tokens += row.prompt_tokens.unwrap_or(0);
        completion_tokens += row.completion_tokens.unwrap_or(0);
        if row.llm_calls > 0 {
            latencies.push(row.execution_time_ms.unwrap_or(0));
        }
    }
    latencies.sort_unstable();
    let mean = (!latencies.is_empty())
        .then(|| latencies.iter().sum::<i64>() as f64 / latencies.len() as f64);
    // Nearest-rank percentile: the smallest latency with at least 95% of the calls at or below.
    let p95 = (!latencies.is_empty()).then(|| {
        let rank = ((latencies.len() as f64) * 0.95).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    });
    Ok(json!({
        "llm_decisions": decisions,
        "failed_decisions": failed,
        "llm_calls": calls,
        "cache_hits": hits,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency_mean_ms": mean,
        "latency_p95_ms": p95,
    }))
}

/// A warning when the task's period ends before the model's training cutoff: the model may
/// have read about what happened next.
pub fn memorisation_warning(config: &AiConfig, task: &Task) -> Option<String> {
    let cutoff = config.knowledge_cutoff?;
    (task.end_date.date_naive() < cutoff).then(|| {
        format!(
            "the period ends {} but {}'s training data runs to {cutoff}: it may remember what happened \
             (consider blind mode)",
            task.end_date.date_naive(),
            config.local_ai_model_name
        )
    })
}

/// Whether a status is one of a finished AI task.
pub fn finished(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Completed | TaskStatus::CompletedWithErrors
    )
}
