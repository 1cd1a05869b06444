//! Tool mode's tools: what a model may look up before it decides, as the request's `tools`
//! describe them, and the reading of a call's arguments. The answers come from a
//! [`ToolDesk`], which the engine serves from the decision's point-in-time window, so no tool
//! can see past the decision bar.

use serde_json::{Map, Value, json};

use crate::answer::{decision_properties, size_properties};
use crate::client::ToolCall;
use crate::order_terms::order_properties;

/// The tool that ends a decision: its arguments are the decision.
pub const SUBMIT_DECISION: &str = "submit_decision";
/// Tool calls a decision may make, its submission included, when the task does not say.
pub const DEFAULT_TOOL_LIMIT: u32 = 8;
/// The most tool calls a task may allow a decision.
pub const MAX_TOOL_LIMIT: u32 = 64;
/// The most bars `get_bars` returns, and the longest period `get_indicator` takes.
pub const MAX_TOOL_BARS: u32 = 200;
/// The most earlier decisions or context items a call returns.
pub const MAX_TOOL_ITEMS: u32 = 50;
/// The indicators `get_indicator` computes.
pub const INDICATORS: &[&str] = &["sma", "ema", "rsi", "atr", "bollinger", "macd"];

/// The system message of a decision in tool mode.
pub const TOOL_SYSTEM_MESSAGE: &str = "You are the decision engine of a trading backtest. You \
are given market data for one instrument up to the current bar and decide one action, carried out \
at the next bar's open. You may call the tools to look up more bars, indicators, the account, your \
earlier decisions, dated context, or whether an order would be accepted; they only know what was \
known at the current bar. Then call submit_decision exactly once with your decision.\n\
BUY opens or adds to a long position (covering a short first); SELL closes a long position; SHORT \
opens or adds to a short position (selling a long first); COVER closes a short position; HOLD does \
nothing. Without quantity or fraction an order uses everything available. confidence is between 0 \
and 1; reasoning is one short sentence.";

/// A lookup a model asked for, its arguments read and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolRequest {
    /// The last `count` bars, the decision bar last, with the prompt's indicators.
    Bars { count: u32 },
    /// An indicator at the decision bar: `name` is one of [`INDICATORS`].
    Indicator { name: String, period: u32 },
    /// The account: position, cash, equity, orders waiting, what each order could trade.
    Position,
    /// The task's last `count` decisions, oldest first.
    Decisions { count: u32 },
    /// The last `count` dated context items visible at the decision bar, oldest first.
    Context { count: u32 },
    /// The broker's verdict on an order at the decision bar's close, executing nothing.
    ValidateOrder {
        action: String,
        /// Units (in blind mode, in the prompt's units); `None`: everything available.
        quantity: Option<String>,
    },
}

/// Answers a decision's lookups from what was known at its bar.
pub trait ToolDesk: Send + Sync {
    /// The result the model receives: JSON, or `{"error": …}` saying why there is none.
    fn answer(&self, request: &ToolRequest) -> Value;
}

fn function(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            },
        },
    })
}

fn count(max: u32, what: &str) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": max, "description": what})
}

/// The arguments of `submit_decision`: the answer schema's fields as one object (a
/// function's parameters must be an object, not the answer schema's `anyOf`).
pub fn submit_decision_schema() -> Value {
    let mut properties = decision_properties();
    for (name, schema) in size_properties() {
        properties.insert(name.into(), schema);
    }
    properties.extend(order_properties());
    json!({
        "type": "object",
        "properties": properties,
        "required": ["action", "confidence", "reasoning"],
        "additionalProperties": false,
    })
}

/// The `tools` of every request in tool mode.
pub fn tool_definitions() -> Value {
    let submit = json!({
        "type": "function",
        "function": {
            "name": SUBMIT_DECISION,
            "description": "Submit the decision for the current bar. Call it once, last.",
            "parameters": submit_decision_schema(),
        },
    });
    json!([
        function(
            "get_bars",
            "The last bars up to the current one (oldest first) with their indicators.",
            json!({"count": count(MAX_TOOL_BARS, "how many bars")}),
            &["count"],
        ),
        function(
            "get_indicator",
            "An indicator at the current bar, computed over the closes known then.",
            json!({
                "name": {"type": "string", "enum": INDICATORS},
                "period": count(MAX_TOOL_BARS, "bars it looks back (ignored by macd: 12, 26, 9)"),
            }),
            &["name", "period"],
        ),
        function(
            "get_position",
            "The account now: position, cash, equity, fees, orders waiting, and the most each action could trade.",
            json!({}),
            &[],
        ),
        function(
            "get_decisions",
            "Your earlier decisions in this backtest, oldest first.",
            json!({"count": count(MAX_TOOL_ITEMS, "how many decisions")}),
            &["count"],
        ),
        function(
            "get_context",
            "Dated context items (labels, scores, headlines) known at the current bar, oldest first.",
            json!({"count": count(MAX_TOOL_ITEMS, "how many items")}),
            &["count"],
        ),
        function(
            "validate_order",
            "Whether the broker would accept an order now, and what it would trade; executes nothing.",
            json!({
                "action": {"type": "string", "enum": ["BUY", "SELL", "SHORT", "COVER", "HOLD"]},
                "quantity": {"type": "string", "description": "units, a decimal string; omit for everything available"},
            }),
            &["action"],
        ),
        submit,
    ])
}

/// Reads a lookup: its tool's name and its arguments, checked against the tool's
/// parameters. The error is what the model is told.
pub fn read_call(call: &ToolCall) -> Result<ToolRequest, String> {
    let arguments = if call.arguments.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(&call.arguments)
            .map_err(|e| format!("the arguments of {} are not JSON: {e}", call.name))?
    };
    let Value::Object(arguments) = arguments else {
        return Err(format!("the arguments of {} must be an object", call.name));
    };
    let number = |field: &str, max: u32| -> Result<u32, String> {
        let value = arguments
            .get(field)
            .ok_or_else(|| format!("{} needs `{field}`", call.name))?;
        // Some models quote numbers.
        let number = match value {
            Value::String(text) => text.trim().parse::<u64>().ok(),
            other => other.as_u64(),
        };
        match number {
            Some(n) if (1..=u64::from(max)).contains(&n) => Ok(n as u32),
            _ => Err(format!(
                "`{field}` of {} must be a whole number from 1 to {max}, not {value}",
                call.name
            )),
        }
    };
    let text = |field: &str| -> Option<String> {
        match arguments.get(field) {
            Some(Value::String(text)) => Some(text.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    match call.name.as_str() {
        "get_bars" => Ok(ToolRequest::Bars {
            count: number("count", MAX_TOOL_BARS)?,
        }),
        "get_indicator" => {
            let name = text("name")
                .map(|n| n.to_lowercase())
                .filter(|n| INDICATORS.contains(&n.as_str()))
                .ok_or_else(|| {
                    format!(
                        "`name` of get_indicator must be one of {}",
                        INDICATORS.join(", ")
                    )
                })?;
            let period = if name == "macd" {
                26
            } else {
                number("period", MAX_TOOL_BARS)?
            };
            Ok(ToolRequest::Indicator { name, period })
        }
        "get_position" => Ok(ToolRequest::Position),
        "get_decisions" => Ok(ToolRequest::Decisions {
            count: number("count", MAX_TOOL_ITEMS)?,
        }),
        "get_context" => Ok(ToolRequest::Context {
            count: number("count", MAX_TOOL_ITEMS)?,
        }),
        "validate_order" => Ok(ToolRequest::ValidateOrder {
            action: text("action").ok_or_else(|| "validate_order needs `action`".to_string())?,
            quantity: text("quantity").filter(|q| !q.is_empty()),
        }),
        other => Err(format!(
            "there is no tool {other:?}: the tools are get_bars, get_indicator, get_position, \
             get_decisions, get_context, validate_order and {SUBMIT_DECISION}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn calls_are_read_and_checked() {
        assert_eq!(
            read_call(&call("get_bars", r#"{"count": 12}"#)),
            Ok(ToolRequest::Bars { count: 12 })
        );
        assert_eq!(
            read_call(&call("get_bars", r#"{"count": "3"}"#)),
            Ok(ToolRequest::Bars { count: 3 })
        );
        assert_eq!(
            read_call(&call("get_position", "")),
            Ok(ToolRequest::Position)
        );
        assert_eq!(
            read_call(&call("get_indicator", r#"{"name": "RSI", "period": 7}"#)),
            Ok(ToolRequest::Indicator {
                name: "rsi".into(),
                period: 7
            })
        );
        assert_eq!(
            read_call(&call(
                "validate_order",
                r#"{"action": "BUY", "quantity": 5}"#
            )),
            Ok(ToolRequest::ValidateOrder {
                action: "BUY".into(),
                quantity: Some("5".into())
            })
        );
        for (name, arguments, says) in [
            ("get_bars", r#"{"count": 0}"#, "from 1 to 200"),
            ("get_bars", r#"{"count": 201}"#, "from 1 to 200"),
            ("get_bars", "{count: 5", "not JSON"),
            ("get_bars", "[5]", "must be an object"),
            ("get_decisions", "{}", "needs `count`"),
            (
                "get_indicator",
                r#"{"name": "vwap", "period": 5}"#,
                "one of sma",
            ),
            ("get_news", "{}", "there is no tool \"get_news\""),
        ] {
            let error = read_call(&call(name, arguments)).unwrap_err();
            assert!(error.contains(says), "{name} {arguments}: {error}");
        }
    }

    #[test]
    fn every_tool_is_a_function_whose_parameters_are_an_object() {
        let tools = tool_definitions();
        let names: Vec<&str> = tools
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                assert_eq!(t["function"]["parameters"]["type"], "object");
                t["function"]["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "get_bars",
                "get_indicator",
                "get_position",
                "get_decisions",
                "get_context",
                "validate_order",
                SUBMIT_DECISION
            ]
        );
    }
}
