//! Tool mode's lookups for one decision, answered from what its prompt is built from: the
//! bars up to the decision bar, the account at it, the earlier decisions and the context
//! visible then. The desk owns copies taken at the decision bar, so no answer can hold
//! anything later; in blind mode it shows prices, quantities and times as the prompt does.

use aibt_ai::answer::{parse_action, schema_action};
use aibt_ai::template::{AccountView, Blind, PastDecision, PromptContext};
use aibt_ai::tools::{MAX_TOOL_BARS, MAX_TOOL_ITEMS, ToolDesk, ToolRequest};
use aibt_core::broker::{Account, Order};
use aibt_core::indicators::{atr, bollinger, ema, macd, rsi, sma};
use aibt_core::{Bar, Money, OrderSize, Quantity, TradeAction, TradeStatus};
use serde_json::{Value, json};

use super::prompt::PromptMaker;

/// What a decision's tools can see.
pub(super) struct Desk {
    /// The prompt's values with [`MAX_TOOL_BARS`] bars shown, and every kept decision.
    context: PromptContext,
    /// Closes, highs and lows of every bar held (history included), as the prompt shows them.
    closes: Vec<f64>,
    highs: Vec<f64>,
    lows: Vec<f64>,
    /// The account at the decision bar, and the bar's close (what an order is tried at).
    account: Account,
    price: Money,
    blind: Option<Blind>,
}

impl Desk {
    /// The desk of the decision at `bars[index]`, from what `maker` renders its prompt with.
    pub(super) fn at(
        maker: &PromptMaker,
        bars: &[Bar],
        index: usize,
        (view, account): (&AccountView, &Account),
        past: &[PastDecision],
        step: u64,
    ) -> Desk {
        let mut context = maker.context_at(bars, index, view, past, step, MAX_TOOL_BARS as usize);
        context.context = maker.context.latest(
            bars[index].ts,
            maker.blind.is_some(),
            MAX_TOOL_ITEMS as usize,
        );
        let start = (index + 1).saturating_sub(MAX_TOOL_BARS as usize);
        let held = &bars[start..=index];
        let shown = |price: Money| match maker.blind {
            Some(blind) => blind.price(price),
            None => price.to_f64(),
        };
        Desk {
            closes: held.iter().map(|b| shown(b.close)).collect(),
            highs: held.iter().map(|b| shown(b.high)).collect(),
            lows: held.iter().map(|b| shown(b.low)).collect(),
            account: account.clone(),
            price: bars[index].close,
            blind: maker.blind,
            context,
        }
    }
}

fn last_of<T: Clone>(items: &[T], count: u32) -> Vec<T> {
    items[items.len().saturating_sub(count as usize)..].to_vec()
}

/// `text` with every number replaced by `…`.
fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        let numeric = c.is_ascii_digit() || (in_number && c == '.');
        if numeric && !in_number {
            out.push('…');
        } else if !numeric {
            out.push(c);
        }
        in_number = numeric;
    }
    out
}

fn round4(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 10_000.0).round() / 10_000.0)
}

impl Desk {
    fn indicator(&self, name: &str, period: u32) -> Value {
        let n = period as usize;
        let last = |values: &[Option<f64>]| round4(values.last().copied().flatten());
        let value = match name {
            "sma" => json!(last(&sma(&self.closes, n))),
            "ema" => json!(last(&ema(&self.closes, n))),
            "rsi" => json!(last(&rsi(&self.closes, n))),
            "atr" => json!(last(&atr(&self.highs, &self.lows, &self.closes, n))),
            "bollinger" => {
                let bands = bollinger(&self.closes, n, 2.0);
                json!({"upper": last(&bands.upper), "middle": last(&bands.middle), "lower": last(&bands.lower)})
            }
            "macd" => {
                let m = macd(&self.closes, 12, 26, 9);
                json!({"macd": last(&m.macd), "signal": last(&m.signal), "histogram": last(&m.histogram)})
            }
            other => return json!({"error": format!("no indicator {other:?}")}),
        };
        let mut answer = json!({
            "name": name, "period": period, "time": self.context.now, "value": value,
        });
        if value.is_null() {
            answer["note"] = json!(format!(
                "not enough bars: {} are known at this bar",
                self.closes.len()
            ));
        }
        answer
    }

    fn position(&self) -> Value {
        let c = &self.context;
        json!({
            "time": c.now, "position": c.position, "cash": c.cash, "equity": c.equity,
            "fees": c.fees, "orders": c.orders, "capacity": c.capacity,
        })
    }

    /// The broker's verdict on an order filled now at the decision bar's close, on a copy of
    /// the account.
    fn validate(&self, action: &str, quantity: Option<&str>) -> Value {
        let Some(action) = parse_action(action) else {
            return json!({"error": format!("{action:?} is not an action: BUY, SELL, SHORT, COVER or HOLD")});
        };
        if action == TradeAction::Hold {
            return json!({"accepted": true, "note": "HOLD trades nothing"});
        }
        let size = match quantity {
            None => OrderSize::All,
            Some(text) => {
                let shown = match Quantity::parse(text) {
                    Ok(q) if q.is_positive() => q,
                    _ => {
                        return json!({"error": format!("quantity {text:?} is not a positive decimal")});
                    }
                };
                match self.blind.map_or(Some(shown), |b| b.real_quantity(shown)) {
                    Some(real) => OrderSize::Quantity(real),
                    None => return json!({"error": format!("quantity {text:?} is too large")}),
                }
            }
        };
        let execution = match self.account.trial(&Order { action, size }, self.price) {
            Ok(execution) => execution,
            Err(error) => return json!({"accepted": false, "reason": error.to_string()}),
        };
        let price = |p: Money| self.blind.map_or(p.to_f64(), |b| b.price(p));
        let units = |q: Quantity| self.blind.map_or(q.to_f64(), |b| b.quantity(q));
        let refused: Vec<&str> = execution
            .fills
            .iter()
            .filter(|f| f.status != TradeStatus::Executed)
            .filter_map(|f| f.reject_reason.as_deref())
            .collect();
        let fills: Vec<Value> = execution
            .fills
            .iter()
            .filter(|f| f.status == TradeStatus::Executed)
            .map(|f| {
                json!({
                    "action": schema_action(f.action), "quantity": units(f.quantity),
                    "price": price(f.price), "fees": f.total_fees.to_f64(),
                })
            })
            .collect();
        let mut verdict = json!({
            "accepted": refused.is_empty() && !fills.is_empty(),
            "fills": fills,
            "note": "tried at this bar's close; a decision fills at the next bar's open",
        });
        if !refused.is_empty() {
            let reason = refused.join("; ");
            // The broker states real quantities and prices, which would give the real price
            // level away in blind mode.
            verdict["reason"] = json!(match self.blind {
                Some(_) => without_numbers(&reason),
                None => reason,
            });
        } else if execution.fills.is_empty() {
            verdict["reason"] = json!("nothing to trade");
        }
        verdict
    }
}

impl ToolDesk for Desk {
    fn answer(&self, request: &ToolRequest) -> Value {
        match request {
            ToolRequest::Bars { count } => json!({
                "bars": last_of(&self.context.bars, *count),
                "known": self.context.bars.len(),
            }),
            ToolRequest::Indicator { name, period } => self.indicator(name, *period),
            ToolRequest::Position => self.position(),
            ToolRequest::Decisions { count } => {
                json!({"decisions": last_of(&self.context.last_decisions, *count)})
            }
            ToolRequest::Context { count } => {
                json!({"items": last_of(&self.context.context, *count)})
            }
            ToolRequest::ValidateOrder { action, quantity } => {
                self.validate(action, quantity.as_deref())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blind_reasons_lose_their_numbers() {
        assert_eq!(
            super::without_numbers(
                "quantity 0.38051750 is less than one tradable unit (1.00000000)"
            ),
            "quantity … is less than one tradable unit (…)"
        );
        assert_eq!(
            super::without_numbers("no position to sell."),
            "no position to sell."
        );
    }
}
