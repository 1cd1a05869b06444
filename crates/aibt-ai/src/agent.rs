//! A decision in tool mode: the model looks things up with tools, as many times as the limit
//! allows, and answers by calling `submit_decision`. Every turn goes through the decision
//! cache, whose key is the whole request, so a re-run replays the same transcript without a
//! call. A server that refuses tools (an error naming them, or an answer with no tool call)
//! turns the decider to the JSON path for good, and this decision is asked that way.

use serde_json::{Value, json};

use crate::answer::{AnswerError, decision_json, parse_answer};
use crate::client::{CallError, Completion, ToolCall};
use crate::llm::{DecisionOutcome, LlmDecider, add, failed, read_completion, shorten};
use crate::tools::{SUBMIT_DECISION, ToolDesk, read_call, tool_definitions};

/// Asks for a decision on `prompt` with tools answered by `desk`; the JSON path when the
/// decider does not use tools (the JSON mode, or a server that refused them).
pub async fn decide_with_tools(
    decider: &LlmDecider,
    prompt: &str,
    desk: &dyn ToolDesk,
) -> DecisionOutcome {
    let Some(limit) = decider.tool_limit() else {
        return decider.decide(prompt).await;
    };
    let tools = tool_definitions();
    let max_tokens = decider.client().settings().max_tokens;
    let mut messages = LlmDecider::tool_messages(prompt);
    let mut outcome = DecisionOutcome::asked(&messages);
    let mut transcript = Transcript::default();
    let mut tool_calls = 0u32;
    loop {
        let first_turn = transcript.0.is_empty();
        let body = decider.client().tool_request_body(&messages, &tools);
        let (report, cached) = decider.answer(&body).await;
        let completion = match outcome.count(report, cached) {
            Ok(completion) => completion,
            Err(error) => {
                if first_turn && let Some(reason) = refusal(&error) {
                    return fall_back(decider, prompt, outcome, reason).await;
                }
                return transcript.ends(failed(outcome, format!("the call failed: {error}")));
            }
        };
        outcome.raw_answer = Some(raw_answer(&completion));
        let reading = read_completion(&completion, max_tokens);
        outcome.thinking = match (outcome.thinking.take(), reading.thinking.clone()) {
            (Some(before), Some(now)) => Some(format!("{before}\n\n{now}")),
            (before, now) => now.or(before),
        };
        if completion.tool_calls.is_empty() {
            // A model cut off while still thinking may yet have called a tool; one that wrote
            // text instead, cut off or not, did not take the tools.
            let cut_while_thinking =
                matches!(reading.decision, Err(AnswerError::TruncatedThinking { .. }));
            if first_turn && !cut_while_thinking {
                let reason = "the model answered without calling a tool".to_string();
                return fall_back(decider, prompt, outcome, reason).await;
            }
            // After its lookups, a model may write its decision out instead of submitting it:
            // read as the JSON path reads an answer.
            let done = match reading.decision {
                Ok(decision) => accepted(outcome, decision),
                Err(error) => failed(
                    outcome,
                    format!("the model answered without calling {SUBMIT_DECISION}: {error}"),
                ),
            };
            return transcript.ends(done);
        }
        messages.push(json!({
            "role": "assistant",
            "content": (!reading.answer.is_empty()).then(|| shorten(&reading.answer, 300)),
            "tool_calls": completion.tool_calls.iter().map(|call| json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })).collect::<Vec<_>>(),
        }));
        for call in &completion.tool_calls {
            if tool_calls == limit {
                let error = format!(
                    "the model made {limit} tool calls without a usable {SUBMIT_DECISION} \
                     (the limit of a decision)"
                );
                return transcript.ends(failed(outcome, error));
            }
            tool_calls += 1;
            let result = if call.name == SUBMIT_DECISION {
                match parse_answer(&call.arguments) {
                    Ok(decision) => {
                        transcript.record(call, json!({"accepted": true}));
                        return transcript.ends(accepted(outcome, decision));
                    }
                    Err(error) => json!({"error": format!("the decision cannot be used: {error}")}),
                }
            } else {
                match read_call(call) {
                    Ok(request) => desk.answer(&request),
                    Err(error) => json!({ "error": error }),
                }
            };
            messages.push(json!({
                "role": "tool",
                "tool_call_id": call.id,
                "name": call.name,
                "content": result.to_string(),
            }));
            transcript.record(call, result);
        }
    }
}

/// A decision's tool calls and their results, in order, as stored with it:
/// `[{"tool", "arguments", "result"}]` (arguments parsed when they are JSON, else the text).
#[derive(Debug, Default)]
struct Transcript(Vec<Value>);

impl Transcript {
    fn record(&mut self, call: &ToolCall, result: Value) {
        let arguments = serde_json::from_str::<Value>(&call.arguments)
            .unwrap_or_else(|_| Value::String(call.arguments.clone()));
        self.0
            .push(json!({"tool": call.name, "arguments": arguments, "result": result}));
    }

    fn ends(self, mut outcome: DecisionOutcome) -> DecisionOutcome {
        outcome.transcript = Some(Value::Array(self.0));
        outcome
    }
}

fn accepted(mut outcome: DecisionOutcome, decision: aibt_core::Decision) -> DecisionOutcome {
    outcome.parsed = Some(decision_json(&decision));
    outcome.decision = decision;
    outcome
}

/// What the model sent: its text, or its tool calls when it sent no text.
fn raw_answer(completion: &Completion) -> String {
    if completion.content.is_empty() && !completion.tool_calls.is_empty() {
        serde_json::to_string(&completion.tool_calls).unwrap_or_default()
    } else {
        completion.content.clone()
    }
}

/// Whether an error says the server takes no tools: a refusal of the request as such (400,
/// 422, 501), or any error that names tools. Rate limits and server failures are not.
fn refusal(error: &CallError) -> Option<String> {
    match error {
        CallError::Status { status, body }
            if matches!(status, 400 | 422 | 501) || body.to_lowercase().contains("tool") =>
        {
            Some(format!(
                "the server refused tools (HTTP {status}: {})",
                shorten(body.trim(), 200)
            ))
        }
        _ => None,
    }
}

/// Asks this decision the JSON way, after the server refused tools; the decider remembers it.
async fn fall_back(
    decider: &LlmDecider,
    prompt: &str,
    refused: DecisionOutcome,
    reason: String,
) -> DecisionOutcome {
    decider.refuse_tools(&reason);
    let mut outcome = decider.decide(prompt).await;
    outcome.calls += refused.calls;
    outcome.latency += refused.latency;
    outcome.from_cache &= refused.from_cache;
    add(&mut outcome.prompt_tokens, refused.prompt_tokens);
    add(&mut outcome.completion_tokens, refused.completion_tokens);
    add(&mut outcome.reasoning_tokens, refused.reasoning_tokens);
    outcome.fallback = Some(reason);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_from_failures() {
        let status = |status: u16, body: &str| CallError::Status {
            status,
            body: body.into(),
        };
        assert!(refusal(&status(400, "bad request")).is_some());
        assert!(refusal(&status(500, "tools param requires --jinja flag")).is_some());
        assert!(refusal(&status(500, "out of memory")).is_none());
        assert!(refusal(&status(429, "slow down")).is_none());
        assert!(refusal(&CallError::Connection("refused".into())).is_none());
    }
}
