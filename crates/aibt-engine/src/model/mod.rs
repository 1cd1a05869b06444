//! Decisions from a model: a prompt template rendered for each decision bar, asked of the AI
//! config's endpoint (through the cache), the answer read into a decision.
//!
//! A model task holds its bars in memory (a model call costs far more than a bar), and when
//! the template reads nothing of the account, the prompt of every later decision is known in
//! advance, so up to `prefetch` of them are asked at once; the answers are applied in order,
//! so the result is the sequential run's.

mod client;
mod desk;
mod gate;
mod prompt;
mod stats;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use aibt_ai::agent::decide_with_tools;
use aibt_ai::llm::{DecisionOutcome, LlmDecider};
use aibt_ai::template::{AccountView, Blind, PastDecision, PromptTemplate, past_decision};
use aibt_core::Bar;
use aibt_core::broker::AccountSettings;
use aibt_store::{AiConfig, LocalDecision, Store, Task};
use serde_json::Value;

pub use client::decider_for;
pub use gate::SharedGate;
pub use prompt::{DEFAULT_WINDOW, Preview, PreviewSpec, preview_prompt};
pub use stats::ai_stats;

use crate::ai_config::memorisation_warning;
use crate::budget::{Budget, Meter, Prices, Spend};
use crate::context::ContextWindow;
use crate::decide::{Decided, DecisionFacts, DecisionPoint, DecisionSource, SourceSummary};
use crate::error::{EngineError, Result};
use crate::series::series_of;
use crate::task::TaskOptions;
use prompt::{
    INDICATOR_HISTORY, KEPT_DECISIONS, PromptMaker, account_view, blind_of, decision_time,
    load_bars, past_decisions,
};

/// What a decision asked ahead of its bar yields: the rendered prompt (or why it could not be
/// rendered), the model's outcome, and the market data shown.
type Answered = (std::result::Result<String, String>, DecisionOutcome, Value);

/// A decision asked ahead of its bar.
struct Asked {
    /// Its index in the period, and its step.
    index: usize,
    step: u64,
    /// The most its call may cost, held against the budget until its answer is in.
    projected: Spend,
    call: tokio::task::JoinHandle<Answered>,
}

/// The decisions asked ahead of their bar. A run that stops (paused, cancelled, failed) drops
/// them, and with them their calls: a detached call would go on holding a slot of the AI
/// config's concurrency limit for an answer nobody reads.
#[derive(Default)]
struct AskedAhead(VecDeque<Asked>);

impl Drop for AskedAhead {
    fn drop(&mut self) {
        for asked in &self.0 {
            asked.call.abort();
        }
    }
}

/// A decision asked, or the budget's reason not to.
enum Launch {
    Asked(Asked),
    Refused(String),
}

/// What a model run would ask of its model (see [`ModelSource::estimate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallEstimate {
    pub decisions: u64,
    /// Decisions the cache already answers (no call).
    pub cached: u64,
    /// Prompt tokens of the calls still to make.
    pub prompt_tokens: u64,
    /// True when the server's own tokenizer counted every one of them; false when they were
    /// estimated (four characters a token).
    pub counted: bool,
    /// False when the template reads the account: the prompts were rendered for a flat one.
    pub exact: bool,
}

/// The decision source of a task whose strategy is a prompt template.
pub struct ModelSource {
    task_id: String,
    decider: Arc<LlmDecider>,
    maker: Arc<PromptMaker>,
    /// History for the prompts, then every bar of the period.
    bars: Arc<Vec<Bar>>,
    /// Index in `bars` of the period's first bar.
    offset: usize,
    interval: usize,
    prefetch: usize,
    blind: bool,
    past: VecDeque<PastDecision>,
    ahead: AskedAhead,
    /// What the task has spent of its budget, when it has one.
    meter: Option<Meter>,
    /// The AI config's token prices, for each decision's cost.
    prices: Option<Prices>,
    /// Set when the period ends before the model's training cutoff.
    memorisation_warning: Option<String>,
    /// Where a server's refusal of tools is remembered: the store and the AI config.
    store: Arc<dyn Store>,
    ai_config_id: String,
}

impl ModelSource {
    /// Opens the model side of a task: its template (as stored with the task), its AI
    /// config's client and cache, every bar of its period with the history its prompts show,
    /// and the decisions it already made (a resumed run's prompts show them).
    pub async fn open(
        store: Arc<dyn Store>,
        task: &Task,
        options: &TaskOptions,
        (prompt_id, ai_config_id): (&str, &str),
        settings: AccountSettings,
    ) -> Result<ModelSource> {
        let content = match &options.template_content {
            Some(content) => content.clone(),
            None => store.get_template(prompt_id).await?.content,
        };
        let ai_config = store.get_ai_config(ai_config_id).await?;
        ModelSource::with(
            store,
            task,
            options,
            (prompt_id, &content),
            &ai_config,
            settings,
        )
        .await
    }

    /// [`ModelSource::open`] with the template's content and the AI config at hand (a plan
    /// estimates a task that is not stored yet).
    pub async fn with(
        store: Arc<dyn Store>,
        task: &Task,
        options: &TaskOptions,
        (prompt_id, content): (&str, &str),
        ai_config: &AiConfig,
        settings: AccountSettings,
    ) -> Result<ModelSource> {
        let template =
            Arc::new(PromptTemplate::new(content).map_err(|e| {
                EngineError::invalid("content", format!("template {prompt_id}: {e}"))
            })?);
        let decider = Arc::new(decider_for(&store, ai_config, options)?);
        let window = if options.window == 0 {
            DEFAULT_WINDOW
        } else {
            options.window as usize
        };
        let tools = decider.tool_limit();
        // Tools may look further back than the prompt shows.
        let history = match tools {
            Some(_) => window.max(aibt_ai::tools::MAX_TOOL_BARS as usize),
            None => window,
        };
        let series = series_of(task)?;
        let (bars, offset) = load_bars(
            store.as_ref(),
            &series,
            task.start_date,
            task.end_date,
            history + INDICATOR_HISTORY,
        )
        .await?;
        let blind = options.blind.then(|| blind_of(&bars));
        let maker = Arc::new(PromptMaker {
            template: template.clone(),
            symbol: task.stock_symbol.clone(),
            market: series.market_type.to_string(),
            granularity: series.granularity.to_string(),
            window,
            blind,
            options: settings,
            context: Arc::new(
                ContextWindow::load(store.as_ref(), &task.stock_symbol, task.end_date).await?,
            ),
        });
        // What earlier runs of the task decided: shown in the prompts, and counted against
        // the budget.
        let recorded = crate::records::all_decisions(store.as_ref(), &task.task_id).await?;
        let past = past_decisions(&recorded, &bars, options.blind);
        let meter = match &options.budget {
            Some(budget) => Some(meter_of(
                &recorded,
                budget,
                ai_config,
                decider.calls_per_decision(),
            )?),
            None => None,
        };
        // Tools read the account, as a template that shows it does.
        let prefetch = if template.info().account_dependent || tools.is_some() {
            1
        } else {
            options.prefetch.max(1) as usize
        };
        Ok(ModelSource {
            task_id: task.task_id.clone(),
            decider,
            maker,
            bars: Arc::new(bars),
            offset,
            interval: usize::try_from(task.decision_interval).unwrap_or(1).max(1),
            prefetch,
            blind: options.blind,
            past,
            ahead: AskedAhead::default(),
            meter,
            prices: Prices::of(ai_config),
            memorisation_warning: memorisation_warning(ai_config, task),
            store,
            ai_config_id: ai_config.config_id.clone(),
        })
    }

    /// The most calls a decision can make (see [`LlmDecider::calls_per_decision`]).
    pub fn calls_per_decision(&self) -> u64 {
        self.decider.calls_per_decision()
    }

    /// Every bar the source holds, and the index of the period's first.
    pub fn bars(&self) -> (Arc<Vec<Bar>>, usize) {
        (self.bars.clone(), self.offset)
    }

    /// What a run of this source would ask: its decisions, how many of them the cache already
    /// answers, and the prompt tokens of the rest: counted by the server's tokenizer when
    /// `tokenize` and the server has one, else four characters a token (`counted` says which).
    /// A template that reads the account is rendered for a flat account with no earlier
    /// decision, so its figures are estimates too (`exact` says so).
    pub async fn estimate(
        &self,
        settings: &AccountSettings,
        tokenize: bool,
    ) -> Result<CallEstimate> {
        let flat = aibt_core::broker::Account::open(settings.clone(), "plan");
        let mut estimate = CallEstimate {
            exact: !self.maker.template.info().account_dependent,
            counted: tokenize,
            ..CallEstimate::default()
        };
        for (step, index) in (0..self.period()).step_by(self.interval).enumerate() {
            let at = self.offset + index;
            let view = aibt_ai::template::AccountView::plain(&flat, self.bars[at].close)?;
            let (prompt, _) = self
                .maker
                .render(&self.bars, at, &view, &[], step as u64)
                .map_err(|e| EngineError::invalid("content", e))?;
            estimate.decisions += 1;
            if self
                .decider
                .is_cached(&self.decider.first_request_key(&prompt))
                .await
            {
                estimate.cached += 1;
            } else {
                let text = format!("{}\n{prompt}", self.decider.system_message());
                let counted = match estimate.counted {
                    true => self.decider.client().count_tokens(&text).await,
                    false => None,
                };
                // A server without a tokenizer is not asked again.
                estimate.counted &= counted.is_some();
                estimate.prompt_tokens +=
                    counted.unwrap_or_else(|| prompt_characters(&prompt).div_ceil(4) as u64);
            }
        }
        Ok(estimate)
    }

    fn period(&self) -> usize {
        self.bars.len() - self.offset
    }

    /// The prompt, the outcome and the market data of the decision at `point`: taken from the
    /// calls in flight, with up to `prefetch` later decisions asked beside it. Refused, with
    /// the reason, when its call would pass the budget.
    async fn ask(&mut self, point: &DecisionPoint<'_>) -> Result<Answered> {
        let index = usize::try_from(point.index).unwrap_or(usize::MAX);
        let view = account_view(point)?;
        let mut next_index = self
            .ahead
            .0
            .back()
            .map_or(index, |asked| asked.index + self.interval);
        let mut next_step = self
            .ahead
            .0
            .back()
            .map_or(point.step, |asked| asked.step + 1);
        while self.ahead.0.len() < self.prefetch && next_index < self.period() {
            match self
                .launch(next_index, next_step, (&view, point.account))
                .await
            {
                Launch::Asked(asked) => self.ahead.0.push_back(asked),
                Launch::Refused(reason) if next_index == index => {
                    return Err(EngineError::OutOfBudget(reason));
                }
                // Asked again when its bar comes, with the answers before it counted.
                Launch::Refused(_) => break,
            }
            next_index += self.interval;
            next_step += 1;
        }
        let Some(asked) = self.ahead.0.pop_front() else {
            return Err(EngineError::Run {
                task_id: self.task_id.clone(),
                reason: "no decision was asked for this bar".into(),
            });
        };
        debug_assert_eq!((asked.index, asked.step), (index, point.step));
        asked.call.await.map_err(|e| EngineError::Run {
            task_id: self.task_id.clone(),
            reason: format!("a decision call failed: {e}"),
        })
    }

    /// Renders the prompt of the decision at `index` and asks it, unless the budget cannot
    /// cover its call after the calls already in flight. In tool mode (asked one at a time)
    /// its tools answer from `account`, the account at its bar.
    async fn launch(
        &self,
        index: usize,
        step: u64,
        (view, account): (&AccountView, &aibt_core::broker::Account),
    ) -> Launch {
        let past: Vec<PastDecision> = self.past.iter().cloned().collect();
        let at = self.offset + index;
        let rendered = self.maker.render(&self.bars, at, view, &past, step);
        let desk = self
            .decider
            .tool_limit()
            .map(|_| desk::Desk::at(&self.maker, &self.bars, at, (view, account), &past, step));
        let mut projected = Spend::default();
        if let (Some(meter), Ok((prompt, _))) = (&self.meter, &rendered)
            && !self
                .decider
                .is_cached(&self.decider.first_request_key(prompt))
                .await
        {
            let in_flight = self
                .ahead
                .0
                .iter()
                .fold(Spend::default(), |sum, asked| sum.plus(asked.projected));
            let characters = prompt_characters(prompt);
            if let Some(reason) = meter.refuses(characters, in_flight) {
                return Launch::Refused(reason);
            }
            projected = meter.projected(characters);
        }
        let decider = self.decider.clone();
        let call = tokio::spawn(async move {
            match rendered {
                Ok((prompt, data)) => {
                    let outcome = match &desk {
                        Some(desk) => decide_with_tools(&decider, &prompt, desk).await,
                        None => decider.decide(&prompt).await,
                    };
                    (Ok(prompt), outcome, data)
                }
                Err(error) => (Err(error), failed_render(), Value::Null),
            }
        });
        Launch::Asked(Asked {
            index,
            step,
            projected,
            call,
        })
    }
}

impl ModelSource {
    /// Remembers on the AI config that its server refused tools, so that later tasks ask the
    /// JSON way at once, and says so in the log. A failed write costs a later task one
    /// refused call, never a result.
    async fn remember_refusal(&self, reason: &str) {
        tracing::warn!(task_id = %self.task_id, ai_config = %self.ai_config_id, %reason,
            "the server refused tools: decisions take the JSON path");
        match self.store.get_ai_config(&self.ai_config_id).await {
            Ok(mut config) if config.tools_refused.is_none() => {
                config.tools_refused = Some(reason.to_string());
                if let Err(error) = self.store.update_ai_config(&config).await {
                    tracing::warn!(%error, "remembering the refusal of tools");
                }
            }
            _ => {}
        }
    }
}

/// The characters a call sends: the system message (the longer of the two modes', so that a
/// task's recorded decisions count the same whichever mode made them) and the prompt.
fn prompt_characters(prompt: &str) -> usize {
    aibt_ai::llm::SYSTEM_MESSAGE
        .len()
        .max(aibt_ai::tools::TOOL_SYSTEM_MESSAGE.len())
        + prompt.len()
}

/// The characters a call generated: the answer, and thinking the server sent apart from it
/// (thinking inside the answer is counted with it).
fn answer_characters(raw_answer: Option<&str>, thinking: Option<&str>) -> usize {
    let answer = raw_answer.unwrap_or("");
    let apart = thinking
        .filter(|t| !answer.contains(*t))
        .map_or(0, str::len);
    answer.len() + apart
}

/// The budget of a task with what its recorded decisions spent (a resumed run counts what
/// the runs before it spent).
fn meter_of(
    recorded: &[LocalDecision],
    budget: &Budget,
    ai_config: &AiConfig,
    calls_per_decision: u64,
) -> Result<Meter> {
    let prices = Prices::of(ai_config);
    budget.check("budget", prices, &ai_config.name)?;
    let mut meter = Meter::new(
        budget.clone(),
        prices,
        u64::try_from(ai_config.max_tokens).unwrap_or(0),
    );
    meter.calls_per_decision = calls_per_decision;
    for row in recorded {
        meter.record(
            prompt_characters(row.prompt.as_deref().unwrap_or("")),
            answer_characters(row.raw_answer.as_deref(), row.thinking.as_deref()),
            (row.prompt_tokens, row.completion_tokens),
            row.llm_calls,
        );
    }
    Ok(meter)
}

impl DecisionSource for ModelSource {
    fn warmup_bars(&self) -> usize {
        0
    }

    fn observe(&mut self, _bar: &Bar) {}

    async fn decide(&mut self, point: DecisionPoint<'_>) -> Result<Decided> {
        let started = aibt_core::time::now();
        let (prompt, mut outcome, market_data) = self.ask(&point).await?;
        if let (Some(meter), Ok(prompt)) = (&mut self.meter, &prompt) {
            meter.record(
                prompt_characters(prompt),
                answer_characters(outcome.raw_answer.as_deref(), outcome.thinking.as_deref()),
                (outcome.prompt_tokens, outcome.completion_tokens),
                i64::from(outcome.calls),
            );
        }
        let prompt = match prompt {
            Ok(prompt) => prompt,
            // A template that passed its check can still fail on data (a filter applied
            // to a missing value): the task cannot run.
            Err(error) => {
                return Err(EngineError::invalid(
                    "content",
                    format!(
                        "the template failed to render at {}: {error}",
                        aibt_core::time::format_timestamp(point.bar.ts)
                    ),
                ));
            }
        };
        if let Some(blind) = &self.maker.blind {
            to_real_units(&mut outcome, blind);
        }
        if let Some(reason) = &outcome.fallback {
            self.remember_refusal(reason).await;
        }
        let time = decision_time(&self.bars, point.bar.ts, self.blind);
        self.past.push_back(past_decision(
            time,
            outcome.decision.action,
            outcome.decision.confidence,
            &outcome.decision.reasoning,
        ));
        if self.past.len() > KEPT_DECISIONS {
            self.past.pop_front();
        }
        let facts = DecisionFacts {
            start_time: started,
            end_time: started + chrono::Duration::from_std(outcome.latency).unwrap_or_default(),
            market_data: Some(market_data),
            prompt: Some(prompt),
            prompt_hash: Some(outcome.prompt_hash.clone()),
            raw_answer: outcome.raw_answer.clone(),
            parsed_decision: outcome.parsed.clone(),
            error: outcome.error.clone(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            thinking: outcome.thinking.clone(),
            reasoning_tokens: outcome.reasoning_tokens,
            tool_transcript: outcome.transcript.clone(),
            cost: Prices::decision_cost(
                self.prices,
                (outcome.prompt_tokens, outcome.completion_tokens),
                i64::from(outcome.calls),
            ),
            from_cache: outcome.from_cache && outcome.calls == 0,
            llm_calls: i64::from(outcome.calls),
        };
        Ok(Decided {
            failure: outcome.error.clone(),
            decision: outcome.decision,
            facts: Some(facts),
        })
    }

    fn commits_each_decision(&self) -> bool {
        true
    }

    async fn finish(&self, store: &dyn Store, task_id: &str) -> Result<SourceSummary> {
        let Value::Object(mut stats) = ai_stats(store, task_id).await? else {
            return Ok(SourceSummary::default());
        };
        let failed = stats
            .get("failed_decisions")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if let Some(warning) = self.memorisation_warning.clone() {
            stats.insert("memorisation_warning".into(), Value::String(warning));
        }
        if let Some(reason) = self.decider.tools_refused() {
            stats.insert("tool_fallback".into(), Value::String(reason));
        }
        Ok(SourceSummary {
            stats,
            with_errors: failed > 0,
        })
    }
}

/// In blind mode the model sees quantities and prices in units of the rebased price; the
/// decision that is recorded (and replayed) and executed is in real units: its quantity, and
/// the stop, target and limit it gives as prices (percentages need no conversion).
fn to_real_units(outcome: &mut DecisionOutcome, blind: &Blind) {
    use aibt_core::orders::{Change, Level};
    let decision = &mut outcome.decision;
    let mut unconvertible = None;
    if let aibt_core::OrderSize::Quantity(shown) = decision.size {
        match blind.real_quantity(shown) {
            Some(real) => decision.size = aibt_core::OrderSize::Quantity(real),
            None => unconvertible = Some(format!("quantity {shown}")),
        }
    }
    let mut price = |shown: aibt_core::Money| {
        blind.real_price(shown).unwrap_or_else(|| {
            unconvertible = Some(format!("price {shown}"));
            shown
        })
    };
    let orders = &mut decision.orders;
    for level in [&mut orders.stop_loss, &mut orders.take_profit] {
        if let Change::Set(Level::Price(shown)) = *level {
            *level = Change::Set(Level::Price(price(shown)));
        }
    }
    orders.limit_price = orders.limit_price.map(&mut price);
    if let Some(what) = unconvertible {
        let error = format!("{what} cannot be converted to real units");
        outcome.decision = aibt_core::Decision {
            confidence: aibt_core::Rate::ZERO,
            ..aibt_core::Decision::hold(format!("failed decision: {error}"))
        };
        outcome.parsed = None;
        outcome.error = Some(error);
    } else if outcome.parsed.is_some() {
        outcome.parsed = Some(aibt_ai::answer::decision_json(&outcome.decision));
    }
}

fn failed_render() -> DecisionOutcome {
    DecisionOutcome {
        decision: aibt_core::Decision::hold(""),
        error: None,
        raw_answer: None,
        thinking: None,
        parsed: None,
        prompt_hash: String::new(),
        prompt_tokens: None,
        completion_tokens: None,
        reasoning_tokens: None,
        transcript: None,
        fallback: None,
        from_cache: false,
        calls: 0,
        latency: Duration::ZERO,
    }
}
