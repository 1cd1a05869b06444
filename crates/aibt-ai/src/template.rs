//! Prompt templates: Jinja (minijinja) with strict undefined variables and a fuel limit,
//! rendered from a [`PromptContext`] that is built from a point-in-time window only.
//!
//! The variables a template may use:
//!
//! | variable | what it is |
//! |---|---|
//! | `symbol`, `market`, `granularity` | the series (`symbol` is `ASSET` in blind mode) |
//! | `now` | the decision bar's time (`bar N` in blind mode) |
//! | `bars` | the last bars, oldest first, newest (the decision bar) last: `time`, `open`, `high`, `low`, `close`, `volume`, `change_pct` and the indicators below |
//! | `indicators` | the indicators at the decision bar: `sma_10`, `sma_20`, `sma_50`, `ema_12`, `ema_26`, `rsi_14`, `macd`, `macd_signal`, `macd_hist`, `bb_upper`, `bb_middle`, `bb_lower`, `atr_14` (`none` until enough history) |
//! | `position` | `side`, `quantity`, `avg_price`, `market_value`, `unrealized_pnl` |
//! | `cash`, `equity` | free cash and total value |
//! | `fees` | `total` paid so far, `commission_buy`, `commission_sell`, `tax`, `min_commission` |
//! | `last_decisions` | the last few decisions: `time`, `action`, `confidence`, `reasoning` |
//! | `step`, `blind` | the decision's number (0 first) and whether blind mode is on |
//!
//! `position`, `cash`, `equity`, `fees` and `last_decisions` depend on the account, so a
//! template that uses none of them yields prompts that are known in advance (see
//! [`TemplateInfo::account_dependent`]).

use std::collections::BTreeSet;

use aibt_core::broker::{Account, BrokerError, Capacity};
use aibt_core::decision::PositionView;
use aibt_core::indicators::{atr, bollinger, ema, macd, rsi, sma};
use aibt_core::{Bar, Money, PointInTime, Quantity, Rate, TradeAction};
use chrono::{DateTime, Utc};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "symbol",
    "market",
    "granularity",
    "now",
    "bars",
    "indicators",
    "position",
    "cash",
    "equity",
    "fees",
    "last_decisions",
    "orders",
    "capacity",
    "context",
    "step",
    "blind",
];

/// Variables whose value depends on the account (and so on earlier answers).
pub const ACCOUNT_VARIABLES: &[&str] = &[
    "position",
    "cash",
    "equity",
    "fees",
    "last_decisions",
    "orders",
    "capacity",
];

/// Rendering stops after this many template operations: a loop over a huge range cannot hang
/// a worker.
const FUEL: u64 = 200_000;

/// A template that cannot be used, with the line to fix (1-based) when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TemplateError {
    pub line: Option<usize>,
    pub reason: String,
}

/// What a template uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    pub variables: BTreeSet<String>,
    /// True when the template reads the account, so prompts cannot be rendered ahead.
    pub account_dependent: bool,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    // Prompts are plain text: no HTML escaping.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

fn template_error(error: &minijinja::Error) -> TemplateError {
    let mut reason = error.kind().to_string();
    if let Some(detail) = error.detail() {
        reason = format!("{reason}: {detail}");
    }
    TemplateError {
        line: error.line(),
        reason,
    }
}

/// The 1-based line of the first place `name` is used as a variable, for error messages.
fn line_of(source: &str, name: &str) -> Option<usize> {
    source
        .lines()
        .position(|line| {
            line.match_indices(name).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + name.len()..].chars().next();
                let boundary =
                    |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                boundary(before) && boundary(after) && before != Some('.')
            })
        })
        .map(|index| index + 1)
}

/// Checks a template's syntax and variables, as done when a template is saved.
pub fn check_template(source: &str) -> Result<TemplateInfo, TemplateError> {
    if source.trim().is_empty() {
        return Err(TemplateError {
            line: None,
            reason: "the template is empty".into(),
        });
    }
    let env = environment();
    let template = env
        .template_from_str(source)
        .map_err(|e| template_error(&e))?;
    let variables: BTreeSet<String> = template.undeclared_variables(false).into_iter().collect();
    if let Some(unknown) = variables.iter().find(|v| !VARIABLES.contains(&v.as_str())) {
        return Err(TemplateError {
            line: line_of(source, unknown),
            reason: format!(
                "unknown variable `{unknown}`; the variables are {}",
                VARIABLES.join(", ")
            ),
        });
    }
    let account_dependent = variables
        .iter()
        .any(|v| ACCOUNT_VARIABLES.contains(&v.as_str()));
    Ok(TemplateInfo {
        variables,
        account_dependent,
    })
}

/// The name a template is compiled under in its environment.
const NAME: &str = "prompt";

/// A template ready to render: checked and compiled once, rendered for every decision.
pub struct PromptTemplate {
    env: Environment<'static>,
    info: TemplateInfo,
}

impl PromptTemplate {
    pub fn new(source: &str) -> Result<PromptTemplate, TemplateError> {
        let info = check_template(source)?;
        let mut env = environment();
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| template_error(&e))?;
        Ok(PromptTemplate { env, info })
    }

    pub fn info(&self) -> &TemplateInfo {
        &self.info
    }

    /// Renders the template for one decision.
    pub fn render(&self, context: &PromptContext) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| template_error(&e))?;
        template.render(context).map_err(|e| template_error(&e))
    }
}

/// One bar as a prompt shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptBar {
    pub time: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Change of the close from the previous bar, in percent.
    pub change_pct: Option<f64>,
    pub sma_20: Option<f64>,
    pub ema_20: Option<f64>,
    pub rsi_14: Option<f64>,
    pub macd: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_hist: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_middle: Option<f64>,
    pub bb_lower: Option<f64>,
    pub atr_14: Option<f64>,
}

/// The indicators at the decision bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptIndicators {
    pub sma_10: Option<f64>,
    pub sma_20: Option<f64>,
    pub sma_50: Option<f64>,
    pub ema_12: Option<f64>,
    pub ema_26: Option<f64>,
    pub rsi_14: Option<f64>,
    pub macd: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_hist: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_middle: Option<f64>,
    pub bb_lower: Option<f64>,
    pub atr_14: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptPosition {
    /// `LONG`, `SHORT` or `FLAT`.
    pub side: &'static str,
    pub quantity: f64,
    pub avg_price: f64,
    pub market_value: f64,
    pub unrealized_pnl: f64,
    /// The position's stop-loss, take-profit and trailing stop level, when it has them.
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub trailing_stop: Option<f64>,
    /// The trailing stop's distance from the best close, in percent.
    pub trailing_stop_pct: Option<f64>,
}

/// The most each order would trade now, by the broker's sizing rule with fees (in blind
/// mode, in the prompt's units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptCapacity {
    pub buy: f64,
    pub sell: f64,
    pub short: f64,
    pub cover: f64,
    /// The opposite position a reversal would open; `None` when flat.
    pub reversal: Option<f64>,
}

/// An order waiting for its price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptOrder {
    /// `BUY`, `SELL`, `SHORT` or `COVER`.
    pub action: &'static str,
    pub limit_price: f64,
    /// Bars it still waits, this decision's bar not counted.
    pub bars_left: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptFees {
    pub total: f64,
    pub commission_buy: f64,
    pub commission_sell: f64,
    pub tax: f64,
    pub min_commission: f64,
}

/// An earlier decision of the same task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastDecision {
    pub time: String,
    pub action: String,
    pub confidence: f64,
    pub reasoning: String,
}

/// Every value a template can use for one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptContext {
    pub symbol: String,
    pub market: String,
    pub granularity: String,
    pub now: String,
    pub bars: Vec<PromptBar>,
    pub indicators: PromptIndicators,
    pub position: PromptPosition,
    pub cash: f64,
    pub equity: f64,
    pub fees: PromptFees,
    pub last_decisions: Vec<PastDecision>,
    /// Orders waiting for their price (a limit entry within its time).
    pub orders: Vec<PromptOrder>,
    pub capacity: PromptCapacity,
    /// The latest dated context items visible at the decision bar, oldest first (the engine
    /// fills them in: they come from the store, not the bars).
    pub context: Vec<serde_json::Value>,
    pub step: u64,
    pub blind: bool,
}

/// What a prompt is built from besides the bars.
#[derive(Debug, Clone)]
pub struct PromptSetup<'a> {
    pub symbol: &'a str,
    pub market: &'a str,
    pub granularity: &'a str,
    /// Bars shown in `bars` (the indicators use the whole window).
    pub window: usize,
    /// Hide the symbol and dates and rebase prices (see [`Blind`]).
    pub blind: Option<Blind>,
    pub commission_buy: Rate,
    pub commission_sell: Rate,
    pub tax: Rate,
    pub min_commission: Money,
}

/// Blind mode: prices are shown relative to `base` (the first close of the task's bars) as
/// `100 × price / base`, and times as the bar's position since `origin` (`bar N`).
/// Quantities are shown in units of the rebased price (`quantity × base / 100`), so that
/// quantity and market value together do not give the real price away; a quantity the model
/// answers with is in those units too, and [`Blind::real_quantity`] converts it back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blind {
    pub base: Money,
    pub origin: DateTime<Utc>,
}

impl Blind {
    fn base_f64(&self) -> f64 {
        self.base.to_f64()
    }

    /// A price as the prompt shows it.
    pub fn price(&self, price: Money) -> f64 {
        if self.base.is_positive() {
            round4(price.to_f64() / self.base_f64() * 100.0)
        } else {
            price.to_f64()
        }
    }

    /// A quantity as the prompt shows it.
    pub fn quantity(&self, quantity: Quantity) -> f64 {
        if self.base.is_positive() {
            (quantity.to_f64() * self.base_f64() / 100.0 * 1e8).round() / 1e8
        } else {
            quantity.to_f64()
        }
    }

    /// The real price of a price in the prompt's units (a stop, target or limit a model gives
    /// in blind mode).
    pub fn real_price(&self, shown: Money) -> Option<Money> {
        if !self.base.is_positive() {
            return Some(shown);
        }
        let real = shown
            .get()
            .checked_mul(self.base.get())?
            .checked_div(aibt_core::Decimal::ONE_HUNDRED)?;
        Money::new(real).ok()
    }

    /// The real quantity of a quantity in the prompt's units (exact; the broker then rounds
    /// down to a tradable unit).
    pub fn real_quantity(&self, shown: Quantity) -> Option<Quantity> {
        if !self.base.is_positive() {
            return Some(shown);
        }
        let real = shown
            .get()
            .checked_mul(aibt_core::Decimal::ONE_HUNDRED)?
            .checked_div(self.base.get())?;
        Quantity::new(real).ok()
    }
}

/// The account parts of a prompt, at the decision bar's close.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub position: PositionView,
    pub total_fees: Money,
    /// The position's stop, target and trailing stop (its level and its percent).
    pub stop_loss: Option<Money>,
    pub take_profit: Option<Money>,
    pub trailing_stop: Option<Money>,
    pub trailing_stop_pct: Option<aibt_core::Percent>,
    /// A limit order waiting for its price: its action, limit and the bars it still waits.
    pub pending_order: Option<(TradeAction, Money, u64)>,
    /// What each order would trade at the decision bar's close.
    pub capacity: Capacity,
}

impl AccountView {
    /// `account` at `price`, with no bracket and no waiting order (a preview's or an
    /// estimate's fresh account).
    pub fn plain(account: &Account, price: Money) -> Result<AccountView, BrokerError> {
        Ok(AccountView {
            position: PositionView::of(account, price)?,
            total_fees: account.total_fees,
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            trailing_stop_pct: None,
            pending_order: None,
            capacity: account.capacity(price)?,
        })
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn last<T: Copy>(values: &[Option<T>]) -> Option<T> {
    values.last().copied().flatten()
}

/// Builds a prompt's context from what was known at the decision bar: the window (which ends
/// at the decision bar, so no later bar can appear), the account and the earlier decisions.
///
/// `first_bar_number` is the position of the window's first bar among all the task's bars:
/// blind mode shows bar positions instead of times.
pub fn build_context(
    setup: &PromptSetup<'_>,
    window: PointInTime<'_>,
    first_bar_number: u64,
    account: &AccountView,
    last_decisions: &[PastDecision],
    step: u64,
) -> PromptContext {
    let bars = window.bars();
    let scale = |price: Money| match setup.blind {
        Some(blind) => blind.price(price),
        None => price.to_f64(),
    };
    let close: Vec<f64> = bars.iter().map(|b| scale(b.close)).collect();
    let high: Vec<f64> = bars.iter().map(|b| scale(b.high)).collect();
    let low: Vec<f64> = bars.iter().map(|b| scale(b.low)).collect();
    let sma10 = sma(&close, 10);
    let sma20 = sma(&close, 20);
    let sma50 = sma(&close, 50);
    let ema12 = ema(&close, 12);
    let ema20 = ema(&close, 20);
    let ema26 = ema(&close, 26);
    let rsi14 = rsi(&close, 14);
    let macd_all = macd(&close, 12, 26, 9);
    let bands = bollinger(&close, 20, 2.0);
    let atr14 = atr(&high, &low, &close, 14);
    let time_of = |index: usize, bar: &Bar| match setup.blind {
        Some(_) => format!("bar {}", first_bar_number + index as u64),
        None => aibt_core::time::format_timestamp(bar.ts),
    };
    let r = |value: Option<f64>| value.map(round4);
    let shown = bars.len().saturating_sub(setup.window);
    let prompt_bars = bars
        .iter()
        .enumerate()
        .skip(shown)
        .map(|(i, bar)| PromptBar {
            time: time_of(i, bar),
            open: scale(bar.open),
            high: high[i],
            low: low[i],
            close: close[i],
            volume: bar.volume.to_f64(),
            change_pct: (i > 0 && close[i - 1] != 0.0)
                .then(|| round4((close[i] / close[i - 1] - 1.0) * 100.0)),
            sma_20: r(sma20[i]),
            ema_20: r(ema20[i]),
            rsi_14: r(rsi14[i]),
            macd: r(macd_all.macd[i]),
            macd_signal: r(macd_all.signal[i]),
            macd_hist: r(macd_all.histogram[i]),
            bb_upper: r(bands.upper[i]),
            bb_middle: r(bands.middle[i]),
            bb_lower: r(bands.lower[i]),
            atr_14: r(atr14[i]),
        })
        .collect();
    let position = &account.position;
    let side = if position.quantity.is_positive() {
        "LONG"
    } else if position.quantity.is_negative() {
        "SHORT"
    } else {
        "FLAT"
    };
    let mark = window.current().map(|b| b.close).unwrap_or(Money::ZERO);
    let quantity = match setup.blind {
        Some(blind) => blind.quantity(position.quantity),
        None => position.quantity.to_f64(),
    };
    let avg_price = if quantity == 0.0 {
        0.0
    } else {
        scale(position.avg_price)
    };
    PromptContext {
        symbol: if setup.blind.is_some() {
            "ASSET".into()
        } else {
            setup.symbol.to_string()
        },
        market: setup.market.to_string(),
        granularity: setup.granularity.to_string(),
        now: window
            .current()
            .map(|bar| time_of(bars.len() - 1, bar))
            .unwrap_or_default(),
        bars: prompt_bars,
        indicators: PromptIndicators {
            sma_10: r(last(&sma10)),
            sma_20: r(last(&sma20)),
            sma_50: r(last(&sma50)),
            ema_12: r(last(&ema12)),
            ema_26: r(last(&ema26)),
            rsi_14: r(last(&rsi14)),
            macd: r(last(&macd_all.macd)),
            macd_signal: r(last(&macd_all.signal)),
            macd_hist: r(last(&macd_all.histogram)),
            bb_upper: r(last(&bands.upper)),
            bb_middle: r(last(&bands.middle)),
            bb_lower: r(last(&bands.lower)),
            atr_14: r(last(&atr14)),
        },
        position: PromptPosition {
            side,
            quantity,
            avg_price,
            // Money stays real in blind mode (shown quantity × shown price gives the same).
            market_value: round4(position.quantity.to_f64() * mark.to_f64()),
            unrealized_pnl: round4(
                position.quantity.to_f64() * (mark.to_f64() - position.avg_price.to_f64()),
            ),
            stop_loss: account.stop_loss.map(scale),
            take_profit: account.take_profit.map(scale),
            trailing_stop: account.trailing_stop.map(scale),
            trailing_stop_pct: account.trailing_stop_pct.map(|p| p.to_f64()),
        },
        orders: account
            .pending_order
            .iter()
            .map(|&(action, limit, bars_left)| PromptOrder {
                action: crate::answer::schema_action(action),
                limit_price: scale(limit),
                bars_left,
            })
            .collect(),
        capacity: {
            let shown = |q: Quantity| match setup.blind {
                Some(blind) => blind.quantity(q),
                None => q.to_f64(),
            };
            let c = &account.capacity;
            PromptCapacity {
                buy: shown(c.buy),
                sell: shown(c.sell),
                short: shown(c.short),
                cover: shown(c.cover),
                reversal: c.reversal.map(shown),
            }
        },
        context: Vec::new(),
        cash: position.available_balance.to_f64(),
        equity: position.total_value.to_f64(),
        fees: PromptFees {
            total: account.total_fees.to_f64(),
            commission_buy: setup.commission_buy.to_f64(),
            commission_sell: setup.commission_sell.to_f64(),
            tax: setup.tax.to_f64(),
            min_commission: setup.min_commission.to_f64(),
        },
        last_decisions: last_decisions.to_vec(),
        step,
        blind: setup.blind.is_some(),
    }
}

/// An earlier decision as a prompt shows it.
pub fn past_decision(
    time: String,
    action: TradeAction,
    confidence: Rate,
    reasoning: &str,
) -> PastDecision {
    PastDecision {
        time,
        action: crate::answer::schema_action(action).to_string(),
        confidence: confidence.to_f64(),
        reasoning: reasoning.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_line() {
        // An unclosed block is reported where it opens.
        let err = check_template("Close: {{ bars[-1].close }}\n{% if x %}\nno end").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.to_string().starts_with("line 2: syntax error"), "{err}");
        let err = check_template("a\nb\n{{ bars | }}\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
    }

    #[test]
    fn unknown_variables_name_the_line() {
        let err = check_template("Symbol {{ symbol }}\nPrice {{ pirce }}\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.reason.contains("unknown variable `pirce`"), "{err}");
        // Loop variables and attributes are fine.
        let info = check_template("{% for b in bars %}{{ b.close }} {{ loop.index }}{% endfor %}")
            .unwrap();
        assert_eq!(info.variables.iter().collect::<Vec<_>>(), vec!["bars"]);
        assert!(!info.account_dependent);
    }

    #[test]
    fn account_variables_make_a_template_account_dependent() {
        assert!(check_template("{{ cash }}").unwrap().account_dependent);
        assert!(
            check_template("{% if position.side == 'LONG' %}x{% endif %}")
                .unwrap()
                .account_dependent
        );
        assert!(
            !check_template("{{ symbol }} {{ indicators.rsi_14 }} {{ now }}")
                .unwrap()
                .account_dependent
        );
    }

    #[test]
    fn empty_templates_are_refused() {
        assert!(check_template("  \n").is_err());
    }
}
