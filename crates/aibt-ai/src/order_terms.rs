//! The orders beyond "now" in a decision as JSON: read from a model's answer, written into
//! `parsed_decision`, and described in the answer schema.
//!
//! In an answer, an absent (or null) field leaves the position's setting as it is, a positive
//! number sets it, and 0 (or "remove") removes it. `stop_loss` / `take_profit` are prices;
//! `stop_loss_pct` / `take_profit_pct` / `trailing_stop_pct` are percent of the decision bar's
//! close; `limit_price` makes the order wait for that price or better for `order_ttl_bars`
//! bars (default 1).

use aibt_core::orders::{Change, Level, OrderTerms};
use aibt_core::{Decimal, Money, Percent};
use serde_json::{Map, Value, json};

/// The answer fields of the order terms, in the order the schema lists them.
pub const ORDER_FIELDS: &[&str] = &[
    "stop_loss",
    "take_profit",
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "limit_price",
    "order_ttl_bars",
];

/// An order field of an answer that cannot be used (the answer reader reports it as the
/// answer's; kept here so that this module needs nothing of the reader).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidTerm {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidTerm {
    InvalidTerm {
        field,
        reason: reason.into(),
    }
}

/// What one field asks: `None` when absent.
enum Asked {
    Remove,
    Set(Decimal),
}

fn asked(
    object: &Map<String, Value>,
    name: &'static str,
    number: impl Fn(&Value) -> Option<Decimal>,
) -> Result<Option<Asked>, InvalidTerm> {
    let Some(value) = object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
    else {
        return Ok(None);
    };
    if let Value::String(text) = value
        && matches!(text.trim().to_ascii_lowercase().as_str(), "remove" | "none")
    {
        return Ok(Some(Asked::Remove));
    }
    let number = number(value).ok_or_else(|| invalid(name, format!("{value} is not a number")))?;
    if number.is_zero() {
        return Ok(Some(Asked::Remove));
    }
    if number.is_sign_negative() {
        return Err(invalid(name, format!("{number} is negative")));
    }
    Ok(Some(Asked::Set(number)))
}

fn price(name: &'static str, value: Decimal) -> Result<Money, InvalidTerm> {
    Money::new(value).map_err(|e| invalid(name, e.to_string()))
}

fn percent(name: &'static str, value: Decimal) -> Result<Percent, InvalidTerm> {
    if value >= Decimal::ONE_HUNDRED {
        return Err(invalid(name, format!("{value} is not below 100 (percent)")));
    }
    Percent::new(value).map_err(|e| invalid(name, e.to_string()))
}

/// A level given as a price field or a percent field, not both.
fn level(
    object: &Map<String, Value>,
    (price_field, pct_field): (&'static str, &'static str),
    number: &impl Fn(&Value) -> Option<Decimal>,
) -> Result<Change<Level>, InvalidTerm> {
    match (
        asked(object, price_field, number)?,
        asked(object, pct_field, number)?,
    ) {
        (Some(_), Some(_)) => Err(invalid(
            price_field,
            format!("give {price_field} or {pct_field}, not both"),
        )),
        (Some(Asked::Set(value)), None) => {
            Ok(Change::Set(Level::Price(price(price_field, value)?)))
        }
        (None, Some(Asked::Set(value))) => {
            Ok(Change::Set(Level::Percent(percent(pct_field, value)?)))
        }
        (Some(Asked::Remove), None) | (None, Some(Asked::Remove)) => Ok(Change::Remove),
        (None, None) => Ok(Change::Keep),
    }
}

/// Reads the order terms of an answer object. `number` reads a JSON number or numeric text.
pub fn parse_order_terms(
    object: &Map<String, Value>,
    number: impl Fn(&Value) -> Option<Decimal>,
) -> Result<OrderTerms, InvalidTerm> {
    let trailing_stop_pct = match asked(object, "trailing_stop_pct", &number)? {
        None => Change::Keep,
        Some(Asked::Remove) => Change::Remove,
        Some(Asked::Set(value)) => Change::Set(percent("trailing_stop_pct", value)?),
    };
    let limit_price = match asked(object, "limit_price", &number)? {
        None | Some(Asked::Remove) => None,
        Some(Asked::Set(value)) => Some(price("limit_price", value)?),
    };
    let order_ttl_bars = match asked(object, "order_ttl_bars", &number)? {
        None => None,
        Some(Asked::Remove) => {
            return Err(invalid("order_ttl_bars", "must be at least 1"));
        }
        Some(Asked::Set(value)) => {
            let bars = u32::try_from(value.trunc().mantissa())
                .ok()
                .filter(|bars| value.fract().is_zero() && (1..=10_000).contains(bars))
                .ok_or_else(|| {
                    invalid(
                        "order_ttl_bars",
                        format!("{value} is not a whole number of bars from 1 to 10000"),
                    )
                })?;
            if limit_price.is_none() {
                return Err(invalid(
                    "order_ttl_bars",
                    "only a limit order (limit_price) waits for later bars",
                ));
            }
            Some(bars)
        }
    };
    Ok(OrderTerms {
        stop_loss: level(object, ("stop_loss", "stop_loss_pct"), &number)?,
        take_profit: level(object, ("take_profit", "take_profit_pct"), &number)?,
        trailing_stop_pct,
        limit_price,
        order_ttl_bars,
    })
}

fn level_json(
    out: &mut Map<String, Value>,
    change: Change<Level>,
    (price_field, pct_field): (&str, &str),
) {
    match change {
        Change::Keep => {}
        Change::Remove => {
            out.insert(price_field.into(), json!("remove"));
        }
        Change::Set(Level::Price(price)) => {
            out.insert(price_field.into(), json!(price.to_string()));
        }
        Change::Set(Level::Percent(pct)) => {
            out.insert(pct_field.into(), json!(pct.to_string()));
        }
    }
}

/// The terms as the fields of a parsed decision (only those that say something).
pub fn order_terms_json(terms: &OrderTerms, out: &mut Map<String, Value>) {
    level_json(out, terms.stop_loss, ("stop_loss", "stop_loss_pct"));
    level_json(out, terms.take_profit, ("take_profit", "take_profit_pct"));
    match terms.trailing_stop_pct {
        Change::Keep => {}
        Change::Remove => {
            out.insert("trailing_stop_pct".into(), json!("remove"));
        }
        Change::Set(pct) => {
            out.insert("trailing_stop_pct".into(), json!(pct.to_string()));
        }
    }
    if let Some(limit) = terms.limit_price {
        out.insert("limit_price".into(), json!(limit.to_string()));
    }
    if let Some(bars) = terms.order_ttl_bars {
        out.insert("order_ttl_bars".into(), json!(bars));
    }
}

/// The schema of the order fields, all optional.
pub fn order_properties() -> Map<String, Value> {
    let number =
        |description: &str| json!({"type": "number", "minimum": 0, "description": description});
    let mut properties = Map::new();
    for (name, description) in [
        (
            "stop_loss",
            "stop-loss price of the position (0 removes it)",
        ),
        (
            "take_profit",
            "take-profit price of the position (0 removes it)",
        ),
        (
            "stop_loss_pct",
            "stop-loss as percent away from the last close",
        ),
        (
            "take_profit_pct",
            "take-profit as percent away from the last close",
        ),
        (
            "trailing_stop_pct",
            "a stop that follows the best close by this percent",
        ),
        ("limit_price", "fill only at this price or better"),
    ] {
        properties.insert(name.into(), number(description));
    }
    properties.insert(
        "order_ttl_bars".into(),
        json!({"type": "integer", "minimum": 1, "maximum": 10000,
               "description": "bars a limit order waits (default 1)"}),
    );
    properties
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(json: Value) -> Result<OrderTerms, InvalidTerm> {
        let Value::Object(object) = json else {
            panic!("not an object")
        };
        parse_order_terms(&object, |v| match v {
            Value::Number(n) => n.to_string().parse().ok(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    }

    #[test]
    fn absent_keeps_a_number_sets_and_zero_removes() {
        let read =
            terms(json!({"stop_loss": 95.5, "take_profit_pct": "10", "trailing_stop_pct": 0}))
                .unwrap();
        assert_eq!(
            read.stop_loss,
            Change::Set(Level::Price(Money::parse("95.5").unwrap()))
        );
        assert_eq!(
            read.take_profit,
            Change::Set(Level::Percent(Percent::parse("10").unwrap()))
        );
        assert_eq!(read.trailing_stop_pct, Change::Remove);
        assert_eq!(read.limit_price, None);
        assert!(terms(json!({})).unwrap().is_empty());
    }

    #[test]
    fn contradictions_are_named() {
        let field = |json| match terms(json) {
            Err(InvalidTerm { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            field(json!({"stop_loss": 1, "stop_loss_pct": 2})),
            "stop_loss"
        );
        assert_eq!(field(json!({"take_profit": -3})), "take_profit");
        assert_eq!(field(json!({"order_ttl_bars": 3})), "order_ttl_bars");
        assert_eq!(
            field(json!({"limit_price": 10, "order_ttl_bars": 1.5})),
            "order_ttl_bars"
        );
        assert_eq!(
            field(json!({"trailing_stop_pct": 150})),
            "trailing_stop_pct"
        );
    }

    #[test]
    fn terms_survive_their_json() {
        let read = terms(
            json!({"stop_loss": "remove", "take_profit": 120, "limit_price": 99,
                               "order_ttl_bars": 3}),
        )
        .unwrap();
        let mut out = Map::new();
        order_terms_json(&read, &mut out);
        assert_eq!(terms(Value::Object(out)).unwrap(), read);
    }
}
