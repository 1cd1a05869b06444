//! The model's side of a finished task: calls, cache hits, failures, tokens, latency, what it
//! cost, and the mix of its actions.

use aibt_core::Money;
use aibt_core::experiment::action_mix;
use aibt_store::Store;
use serde_json::{Value, json};

use crate::error::Result;

/// The model's side of a task, from its stored decisions: calls, cache hits, failures, tokens
/// and latency (mean and 95th percentile of the decisions that called the model); the cost
/// by the AI config's prices (the sum of the decisions' costs, and per decision); and the
/// action mix, `degenerate` when one action is at least 95 % of the decisions (a model that
/// answers the same whatever it is shown).
pub async fn ai_stats(store: &dyn Store, task_id: &str) -> Result<Value> {
    let (mut decisions, mut failed, mut calls, mut hits) = (0u64, 0u64, 0i64, 0u64);
    let (mut prompt_tokens, mut completion_tokens, mut reasoning_tokens) = (0i64, 0i64, 0i64);
    let mut thinking_decisions = 0u64;
    let (mut tool_decisions, mut tool_calls) = (0u64, 0u64);
    let mut cost: Option<aibt_core::Decimal> = None;
    let mut latencies: Vec<i64> = Vec::new();
    let mut actions = Vec::new();
    for row in crate::records::all_decisions(store, task_id).await? {
        decisions += 1;
        failed += u64::from(row.failed());
        calls += row.llm_calls;
        hits += u64::from(row.from_cache);
        prompt_tokens += row.prompt_tokens.unwrap_or(0);
        completion_tokens += row.completion_tokens.unwrap_or(0);
        reasoning_tokens += row.reasoning_tokens.unwrap_or(0);
        thinking_decisions += u64::from(row.thinking.is_some());
        if let Some(Value::Array(calls)) = &row.tool_transcript {
            tool_decisions += 1;
            tool_calls += calls.len() as u64;
        }
        if let Some(spent) = row.cost {
            cost = Some(cost.unwrap_or_default() + spent.get());
        }
        if row.llm_calls > 0 {
            latencies.push(row.execution_time_ms.unwrap_or(0));
        }
        actions.push(row.decision_result);
    }
    latencies.sort_unstable();
    let mean = (!latencies.is_empty())
        .then(|| latencies.iter().sum::<i64>() as f64 / latencies.len() as f64);
    // Nearest-rank percentile: the smallest latency with at least 95% of the calls at or below.
    let p95 = (!latencies.is_empty()).then(|| {
        let rank = ((latencies.len() as f64) * 0.95).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    });
    let money = |amount: aibt_core::Decimal| {
        Money::new(amount.round_dp(Money::SCALE))
            .ok()
            .map(|m| m.to_string())
    };
    let per_decision = cost
        .filter(|_| decisions > 0)
        .and_then(|total| money(total / aibt_core::Decimal::from(decisions)));
    let mix = action_mix(actions);
    Ok(json!({
        "llm_decisions": decisions,
        "failed_decisions": failed,
        "llm_calls": calls,
        "cache_hits": hits,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        // The thinking's share of completion_tokens, as far as the server reported it.
        "reasoning_tokens": reasoning_tokens,
        "thinking_decisions": thinking_decisions,
        // Tool mode: decisions made with tools, and their tool calls (submissions included).
        "tool_decisions": tool_decisions,
        "tool_calls": tool_calls,
        "cost": cost.and_then(money),
        "cost_per_decision": per_decision,
        "latency_mean_ms": mean,
        "latency_p95_ms": p95,
        "action_mix": mix,
        "degenerate": mix.is_some_and(|m| m.degenerate),
    }))
}
