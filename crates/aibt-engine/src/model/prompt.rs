//! The prompt of a decision: the template rendered over the point-in-time window that ends at
//! the decision bar, the account, and the last decisions; blind mode's disguise; and the
//! preview that shows a template's prompt before any model is asked.

use std::collections::VecDeque;
use std::sync::Arc;

use aibt_ai::llm::LlmDecider;
use aibt_ai::template::{
    AccountView, Blind, PastDecision, PromptContext, PromptSetup, PromptTemplate, build_context,
    past_decision,
};
use aibt_core::Money;
use aibt_core::broker::{Account, AccountSettings};
use aibt_core::decision::PositionView;
use aibt_core::{Bar, PointInTime};
use aibt_store::{LocalDecision, SeriesKey, Store};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::context::{CONTEXT_ITEMS, ContextWindow};
use crate::decide::DecisionPoint;
use crate::error::{EngineError, Result};

/// Bars of history loaded before the period beyond the prompt's window, so the indicators
/// (SMA 50, MACD) are defined from the first decision.
pub(crate) const INDICATOR_HISTORY: usize = 100;
/// Earlier decisions a prompt shows.
pub(crate) const PAST_DECISIONS: usize = 5;
/// Earlier decisions a task keeps at hand: what `get_decisions` can return.
pub(crate) const KEPT_DECISIONS: usize = aibt_ai::tools::MAX_TOOL_ITEMS as usize;
/// Bars a prompt shows when the task does not say.
pub const DEFAULT_WINDOW: usize = 30;

/// Everything needed to render the prompt of the decision at a bar.
pub(super) struct PromptMaker {
    pub(super) template: Arc<PromptTemplate>,
    pub(super) symbol: String,
    pub(super) market: String,
    pub(super) granularity: String,
    pub(super) window: usize,
    pub(super) blind: Option<Blind>,
    pub(super) options: aibt_core::broker::AccountSettings,
    /// The symbol's dated context up to the task's end.
    pub(super) context: Arc<ContextWindow>,
}

impl PromptMaker {
    /// The prompt at `bars[index]`: the window passed to the template ends at that bar. `past`
    /// is every decision kept; the prompt shows the last [`PAST_DECISIONS`].
    pub(super) fn render(
        &self,
        bars: &[Bar],
        index: usize,
        account: &AccountView,
        past: &[PastDecision],
        step: u64,
    ) -> std::result::Result<(String, Value), String> {
        let shown = &past[past.len().saturating_sub(PAST_DECISIONS)..];
        let mut context = self.context_at(bars, index, account, shown, step, self.window);
        context.context = self
            .context
            .latest(bars[index].ts, self.blind.is_some(), CONTEXT_ITEMS);
        let market_data = json!({
            "close": bars[index].close,
            "indicators": context.indicators,
        });
        let prompt = self.template.render(&context).map_err(|e| e.to_string())?;
        Ok((prompt, market_data))
    }

    /// What a template can use at `bars[index]`, with `window` bars shown: built from the
    /// bars up to that one only (a [`PointInTime`] window), so nothing later can appear.
    pub(super) fn context_at(
        &self,
        bars: &[Bar],
        index: usize,
        account: &AccountView,
        past: &[PastDecision],
        step: u64,
        window: usize,
    ) -> PromptContext {
        let start = (index + 1).saturating_sub(window + INDICATOR_HISTORY);
        let setup = PromptSetup {
            symbol: &self.symbol,
            market: &self.market,
            granularity: &self.granularity,
            window,
            blind: self.blind,
            commission_buy: self.options.commission_rate_buy,
            commission_sell: self.options.commission_rate_sell,
            tax: self.options.tax_rate,
            min_commission: self.options.min_commission,
        };
        let known = PointInTime::ending_with(&bars[start..=index]);
        build_context(&setup, known, start as u64, account, past, step)
    }
}

/// Loads every bar of `[start, end]` (and `before` bars of history) in chunks; the second
/// value is the index of the first bar of the period.
pub(super) async fn load_bars(
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
        context: Arc::new(ContextWindow::load(store, &spec.series.symbol, spec.at).await?),
    };
    let account = Account::open(spec.settings.clone(), "preview");
    let view = AccountView::plain(&account, bars[index].close)?;
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
pub(super) fn blind_of(bars: &[Bar]) -> Blind {
    Blind {
        base: bars.first().map_or(Money::ZERO, |b| b.close),
        origin: bars.first().map_or_else(aibt_core::time::now, |b| b.ts),
    }
}

/// The last few decisions of a task, for a resumed run's prompts, shown as the run showed
/// them (blind mode names a decision's bar by its position in `bars`).
pub(super) fn past_decisions(
    recorded: &[LocalDecision],
    bars: &[Bar],
    blind: bool,
) -> VecDeque<PastDecision> {
    let mut out = VecDeque::new();
    for row in recorded {
        let Some(time) = row.analysis_date else {
            continue;
        };
        out.push_back(past_decision(
            decision_time(bars, time, blind),
            row.decision_result,
            row.confidence_score,
            &row.reasoning,
        ));
        if out.len() > KEPT_DECISIONS {
            out.pop_front();
        }
    }
    out
}

/// How a prompt names the bar of an earlier decision.
pub(super) fn decision_time(bars: &[Bar], time: DateTime<Utc>, blind: bool) -> String {
    if blind {
        format!("bar {}", bars.partition_point(|b| b.ts < time))
    } else {
        aibt_core::time::format_timestamp(time)
    }
}

/// The account as a prompt shows it, marked at the decision bar's close, with the position's
/// bracket and a limit order that waits.
pub(super) fn account_view(point: &DecisionPoint<'_>) -> Result<AccountView> {
    let account = point.account;
    let bracket = point.bracket;
    let side = account.position_side();
    let flat = account.is_flat();
    Ok(AccountView {
        position: PositionView::of(account, point.bar.close)?,
        total_fees: account.total_fees,
        stop_loss: bracket.stop_loss.filter(|_| !flat),
        take_profit: bracket.take_profit.filter(|_| !flat),
        trailing_stop: if flat {
            None
        } else {
            bracket
                .trailing_stop(side)
                .map_err(aibt_core::broker::BrokerError)?
        },
        trailing_stop_pct: bracket.trailing_stop_pct.filter(|_| !flat),
        pending_order: point.pending.and_then(|order| {
            let limit = order.limit_price?;
            let last = order.last_bar?;
            Some((order.order.action, limit, last.saturating_sub(point.index)))
        }),
        capacity: account.capacity(point.bar.close)?,
    })
}
