//! Reading a model's answer into a [`Decision`].
//!
//! Servers differ and models wander: the JSON may arrive bare, in a Markdown fence, wrapped
//! in prose, with trailing commas, with the action in another case or language. What can be
//! read unambiguously is read; anything else is an [`AnswerError`] naming what is wrong, which
//! is sent back to the model when it is asked again.

use std::borrow::Cow;

use aibt_core::broker::OrderSize;
use aibt_core::{Decimal, Decision, Quantity, Rate, TradeAction};
use serde_json::{Map, Value, json};

use crate::order_terms::{InvalidTerm, order_properties, order_terms_json, parse_order_terms};

/// Why an answer is not a usable decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer holds no JSON object")]
    NoJson,
    #[error("the answer's JSON is malformed: {0}")]
    Malformed(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the answer was cut off at the token limit before its JSON was complete")]
    Truncated,
    #[error(
        "the token limit (max_tokens {max_tokens}) ran out during thinking, before any answer: \
         raise max_tokens or lower reasoning_effort"
    )]
    TruncatedThinking { max_tokens: u32 },
}

impl From<InvalidTerm> for AnswerError {
    fn from(term: InvalidTerm) -> AnswerError {
        AnswerError::Invalid {
            field: term.field,
            reason: term.reason,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AnswerError {
    AnswerError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// The JSON schema of an answer, as sent in `response_format`: one of three closed objects
/// (no size, a quantity, or a fraction), so that a server which turns the schema into a
/// grammar cannot produce an answer with both a quantity and a fraction. Such servers
/// (llama.cpp) enforce lengths and patterns but not numeric bounds, so every string is
/// bounded: a small model otherwise fills a free string until the token limit cuts the JSON
/// (`reasoning` rambling, `quantity` holding a copy of the prompt's table).
pub fn answer_schema() -> Value {
    let variant = |size: Option<(&str, Value)>| {
        let mut properties = decision_properties();
        if let Some((name, schema)) = size {
            properties.insert(name.into(), schema);
        }
        let required: Vec<String> = properties.keys().cloned().collect();
        properties.extend(order_properties());
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    };
    let [quantity, fraction] = size_properties();
    json!({"anyOf": [variant(None), variant(Some(quantity)), variant(Some(fraction))]})
}

/// The fields every answer carries: `action`, `confidence`, `reasoning`.
pub fn decision_properties() -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert(
        "action".into(),
        json!({"type": "string", "enum": ["BUY", "SELL", "SHORT", "COVER", "HOLD"]}),
    );
    properties.insert(
        "confidence".into(),
        json!({"type": "number", "minimum": 0, "maximum": 1}),
    );
    properties.insert(
        "reasoning".into(),
        json!({"type": "string", "maxLength": 100}),
    );
    properties
}

/// The two ways an answer may size its order (one at most): `quantity` and `fraction`.
pub fn size_properties() -> [(&'static str, Value); 2] {
    [
        (
            "quantity",
            json!({
                "type": "string",
                "pattern": "^[0-9]{1,12}(\\.[0-9]{1,8})?$",
                "maxLength": 21,
                "description": "units to trade, a decimal string",
            }),
        ),
        (
            "fraction",
            json!({
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "share of available cash (BUY, SHORT) or of the position (SELL, COVER)",
            }),
        ),
    ]
}

/// Reads an action, case-insensitively, with the synonyms of the original system and the
/// obvious Chinese ones.
pub fn parse_action(text: &str) -> Option<TradeAction> {
    let normalised = text.trim().to_uppercase().replace([' ', '-'], "_");
    Some(match normalised.as_str() {
        "BUY" | "LONG" | "买入" | "买" | "做多" => TradeAction::Buy,
        "SELL" | "卖出" | "卖" | "平多" => TradeAction::Sell,
        "HOLD" | "WAIT" | "NONE" | "持有" | "观望" => TradeAction::Hold,
        "SHORT" | "SHORT_SELL" | "SELL_SHORT" | "做空" | "卖空" => TradeAction::ShortSell,
        "COVER" | "COVER_SHORT" | "BUY_TO_COVER" | "平空" | "买入平仓" => {
            TradeAction::CoverShort
        }
        _ => return None,
    })
}

/// The action as the answer schema spells it.
pub fn schema_action(action: TradeAction) -> &'static str {
    match action {
        TradeAction::Buy => "BUY",
        TradeAction::Sell => "SELL",
        TradeAction::Hold => "HOLD",
        TradeAction::ShortSell => "SHORT",
        TradeAction::CoverShort => "COVER",
    }
}

/// Finds the JSON object in `text`: the whole text, the inside of a ```json fence, or the
/// first balanced `{…}` in prose. Trailing commas before `}` or `]` are removed.
pub fn extract_json(text: &str) -> Result<Value, AnswerError> {
    let trimmed = text.trim();
    if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        return Ok(value);
    }
    let candidate = fenced(trimmed)
        .or_else(|| balanced_object(trimmed))
        .ok_or_else(|| {
            if trimmed.contains('{') {
                AnswerError::Truncated
            } else {
                AnswerError::NoJson
            }
        })?;
    let cleaned = strip_trailing_commas(candidate);
    match serde_json::from_str::<Value>(&cleaned) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(AnswerError::NoJson),
        Err(error) => Err(AnswerError::Malformed(error.to_string())),
    }
}

/// The content of the first Markdown code fence, if it holds an object.
fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n').map_or(0, |n| n + 1);
    let body = &after[body_start..];
    let end = body.find("```")?;
    let inner = body[..end].trim();
    balanced_object(inner)
        .or(Some(inner))
        .filter(|s| s.starts_with('{'))
}

/// The first `{…}` whose braces balance, skipping braces inside strings.
fn balanced_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, ch) in text[start..].char_indices() {
        if in_string {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + offset + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes commas that directly precede `}` or `]` (outside strings).
fn strip_trailing_commas(text: &str) -> Cow<'_, str> {
    if !text.contains(',') {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for (i, &ch) in chars.iter().enumerate() {
        if in_string {
            out.push(ch);
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if ch == '"' {
            in_string = true;
        }
        if ch == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(ch);
    }
    Cow::Owned(out)
}

fn decimal_of(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok(),
        _ => None,
    }
}

/// A field looked up case-insensitively.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// Reads a decision from the answer text.
pub fn parse_answer(text: &str) -> Result<Decision, AnswerError> {
    let value = extract_json(text)?;
    let Value::Object(object) = &value else {
        return Err(AnswerError::NoJson);
    };
    let action_text = field(object, "action")
        .or_else(|| field(object, "decision"))
        .ok_or_else(|| invalid("action", "missing"))?;
    let action = action_text.as_str().and_then(parse_action).ok_or_else(|| {
        invalid(
            "action",
            format!("{action_text} is not one of BUY, SELL, SHORT, COVER, HOLD"),
        )
    })?;
    let confidence_value =
        field(object, "confidence").ok_or_else(|| invalid("confidence", "missing"))?;
    let confidence = decimal_of(confidence_value)
        .ok_or_else(|| invalid("confidence", format!("{confidence_value} is not a number")))?;
    if confidence < Decimal::ZERO || confidence > Decimal::ONE {
        return Err(invalid(
            "confidence",
            format!("{confidence} is outside 0..1"),
        ));
    }
    let confidence = Rate::new(confidence).map_err(|e| invalid("confidence", e.to_string()))?;
    let reasoning = match field(object, "reasoning").or_else(|| field(object, "reason")) {
        Some(Value::String(text)) => text.trim().to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let quantity = field(object, "quantity");
    let fraction = field(object, "fraction");
    let size = match (quantity, fraction) {
        (Some(_), Some(_)) => {
            return Err(invalid("quantity", "give quantity or fraction, not both"));
        }
        (Some(quantity), None) => {
            let value = decimal_of(quantity)
                .ok_or_else(|| invalid("quantity", format!("{quantity} is not a number")))?;
            if value <= Decimal::ZERO {
                return Err(invalid("quantity", format!("{value} is not positive")));
            }
            OrderSize::Quantity(
                Quantity::new(value).map_err(|e| invalid("quantity", e.to_string()))?,
            )
        }
        (None, Some(fraction)) => {
            let value = decimal_of(fraction)
                .ok_or_else(|| invalid("fraction", format!("{fraction} is not a number")))?;
            if value <= Decimal::ZERO || value > Decimal::ONE {
                return Err(invalid("fraction", format!("{value} is outside (0, 1]")));
            }
            OrderSize::Fraction(Rate::new(value).map_err(|e| invalid("fraction", e.to_string()))?)
        }
        (None, None) => OrderSize::All,
    };
    Ok(Decision {
        action,
        size,
        confidence,
        reasoning: Cow::Owned(reasoning),
        orders: parse_order_terms(object, decimal_of)?,
    })
}

/// A decision as JSON for `local_decisions.parsed_decision`.
pub fn decision_json(decision: &Decision) -> Value {
    let (quantity, fraction) = match decision.size {
        OrderSize::All => (Value::Null, Value::Null),
        OrderSize::Quantity(q) => (json!(q.to_string()), Value::Null),
        OrderSize::Fraction(f) => (Value::Null, json!(f.to_string())),
    };
    let mut out = json!({
        "action": decision.action,
        "quantity": quantity,
        "fraction": fraction,
        "confidence": decision.confidence.to_string(),
        "reasoning": decision.reasoning,
    });
    if let Value::Object(fields) = &mut out {
        order_terms_json(&decision.orders, fields);
    }
    out
}

/// Reads back what [`decision_json`] wrote (for replays).
pub fn decision_from_json(value: &Value) -> Option<Decision> {
    let action: TradeAction = value.get("action")?.as_str()?.parse().ok()?;
    let size = match (value.get("quantity"), value.get("fraction")) {
        (Some(Value::String(q)), _) => OrderSize::Quantity(q.parse().ok()?),
        (_, Some(Value::String(f))) => OrderSize::Fraction(f.parse().ok()?),
        _ => OrderSize::All,
    };
    Some(Decision {
        action,
        size,
        orders: parse_order_terms(value.as_object()?, decimal_of).ok()?,
        confidence: value.get("confidence")?.as_str()?.parse().ok()?,
        reasoning: Cow::Owned(
            value
                .get("reasoning")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(text: &str) -> TradeAction {
        parse_answer(text).unwrap().action
    }

    #[test]
    fn a_bare_object_is_read() {
        let d =
            parse_answer(r#"{"action":"BUY","confidence":0.8,"reasoning":"trend up"}"#).unwrap();
        assert_eq!(d.action, TradeAction::Buy);
        assert_eq!(d.confidence.to_string(), "0.800000");
        assert_eq!(d.reasoning, "trend up");
        assert_eq!(d.size, OrderSize::All);
    }

    #[test]
    fn fences_prose_and_trailing_commas_are_tolerated() {
        assert_eq!(
            action(
                "```json\n{\"action\": \"sell\", \"confidence\": 0.6, \"reasoning\": \"x\",}\n```"
            ),
            TradeAction::Sell
        );
        assert_eq!(
            action(
                "Sure! Here is my decision:\n{\"action\": \"hold\", \"confidence\": \"0.5\", \"reasoning\": \"flat {market}\"}\nGood luck."
            ),
            TradeAction::Hold
        );
        assert_eq!(
            action("```\n{\"action\":\"short\",\"confidence\":1,\"reasoning\":\"a, b\",}\n```"),
            TradeAction::ShortSell
        );
    }

    #[test]
    fn synonyms_of_the_seed_and_chinese_are_accepted() {
        for (text, expected) in [
            ("买入", TradeAction::Buy),
            ("卖出", TradeAction::Sell),
            ("持有", TradeAction::Hold),
            ("SHORT_SELL", TradeAction::ShortSell),
            ("COVER_SHORT", TradeAction::CoverShort),
            ("Cover", TradeAction::CoverShort),
        ] {
            let answer =
                format!("{{\"action\": \"{text}\", \"confidence\": 0.5, \"reasoning\": \"\"}}");
            assert_eq!(action(&answer), expected, "{text}");
        }
    }

    #[test]
    fn sizes_are_read_and_checked() {
        let d =
            parse_answer(r#"{"action":"BUY","quantity":"12.5","confidence":0.5,"reasoning":""}"#)
                .unwrap();
        assert_eq!(
            d.size,
            OrderSize::Quantity(Quantity::parse("12.5").unwrap())
        );
        let d =
            parse_answer(r#"{"action":"SELL","fraction":0.25,"confidence":0.5,"reasoning":""}"#)
                .unwrap();
        assert_eq!(d.size, OrderSize::Fraction(Rate::parse("0.25").unwrap()));
        let d = parse_answer(
            r#"{"action":"SELL","fraction":null,"quantity":null,"confidence":0.5,"reasoning":""}"#,
        )
        .unwrap();
        assert_eq!(d.size, OrderSize::All);
        for bad in [
            r#"{"action":"BUY","quantity":"-1","confidence":0.5}"#,
            r#"{"action":"BUY","fraction":1.5,"confidence":0.5}"#,
            r#"{"action":"BUY","fraction":0.5,"quantity":"1","confidence":0.5}"#,
        ] {
            assert!(parse_answer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_answers_say_what_is_wrong() {
        assert_eq!(
            parse_answer("I think you should buy.").unwrap_err(),
            AnswerError::NoJson
        );
        let err = parse_answer(r#"{"action":"YOLO","confidence":0.5,"reasoning":""}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "action: \"YOLO\" is not one of BUY, SELL, SHORT, COVER, HOLD"
        );
        let err = parse_answer(r#"{"action":"BUY","confidence":1.2,"reasoning":""}"#).unwrap_err();
        assert_eq!(err.to_string(), "confidence: 1.2 is outside 0..1");
        let err = parse_answer(r#"{"action":"BUY","reasoning":""}"#).unwrap_err();
        assert_eq!(err.to_string(), "confidence: missing");
        // Cut off at the token limit: an unterminated object.
        let err =
            parse_answer(r#"{"action":"BUY","confidence":0.9,"reasoning":"because the moving av"#)
                .unwrap_err();
        assert_eq!(err, AnswerError::Truncated);
        assert!(matches!(
            parse_answer("{\"action\": BUY}").unwrap_err(),
            AnswerError::Malformed(_)
        ));
    }

    #[test]
    fn decisions_round_trip_through_their_json() {
        for text in [
            r#"{"action":"BUY","quantity":"3","confidence":0.5,"reasoning":"r"}"#,
            r#"{"action":"COVER","fraction":0.5,"confidence":0.25,"reasoning":"r"}"#,
            r#"{"action":"HOLD","confidence":1,"reasoning":""}"#,
        ] {
            let decision = parse_answer(text).unwrap();
            assert_eq!(
                decision_from_json(&decision_json(&decision)),
                Some(decision)
            );
        }
    }
}
