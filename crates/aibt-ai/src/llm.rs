//! Turning a rendered prompt into a decision with a model: the request (system rules, the
//! prompt, the answer schema), the decision cache, and the bounded re-asking of an answer
//! that cannot be used. A decision that still fails is a HOLD that carries the raw answer and
//! the error.

use std::sync::Arc;
use std::time::Duration;

use aibt_core::{Decision, Rate};
use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::answer::{AnswerError, answer_schema, decision_json, parse_answer};
use crate::client::{CallReport, ChatClient, Completion, ToolCall};
use crate::thinking::{join_thinking, split_thinking};
use crate::tools::{TOOL_SYSTEM_MESSAGE, tool_definitions};

/// The rules of the answer, sent as the system message of every decision.
pub const SYSTEM_MESSAGE: &str = "You are the decision engine of a trading backtest. You are given \
market data for one instrument up to the current bar and decide one action, carried out at the next \
bar's open. Answer with exactly one JSON object and nothing else:\n\
{\"action\": \"BUY\" | \"SELL\" | \"SHORT\" | \"COVER\" | \"HOLD\", \"quantity\": optional units as a \
decimal string, \"fraction\": optional share between 0 and 1, \"confidence\": a number between 0 and 1, \
\"reasoning\": one short sentence}\n\
BUY opens or adds to a long position (covering a short first); SELL closes a long position; SHORT \
opens or adds to a short position (selling a long first); COVER closes a short position; HOLD does \
nothing. Without quantity or fraction an order uses everything available.\n\
Optionally, to manage risk: \"stop_loss\" and \"take_profit\" (prices), or \"stop_loss_pct\" and \
\"take_profit_pct\" (percent away from the last close), and \"trailing_stop_pct\" (a stop that \
follows the best close); any decision may move them for the open position, and 0 removes one. \
\"limit_price\" makes an order fill only at that price or better, within \"order_ttl_bars\" bars \
(default 1).";

/// Whether the decision cache is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    #[default]
    ReadWrite,
    ReadOnly,
    Off,
}

impl std::str::FromStr for CacheMode {
    type Err = String;
    fn from_str(text: &str) -> Result<CacheMode, String> {
        match text {
            "read-write" => Ok(CacheMode::ReadWrite),
            "read-only" => Ok(CacheMode::ReadOnly),
            "off" => Ok(CacheMode::Off),
            other => Err(format!(
                "{other:?} is not a cache mode: expected read-write, read-only or off"
            )),
        }
    }
}

/// Where answers are kept between runs (the engine stores them in `llm_cache`).
#[async_trait]
pub trait AnswerCache: Send + Sync {
    async fn get(&self, key: &str) -> Option<Value>;
    async fn put(&self, key: &str, answer: Value);
}

/// Everything known about one decision of a model.
#[derive(Debug, Clone)]
pub struct DecisionOutcome {
    /// The decision; a HOLD with confidence 0 when the decision failed.
    pub decision: Decision,
    /// Why the decision failed, if it did.
    pub error: Option<String>,
    /// The last answer received, exactly as received.
    pub raw_answer: Option<String>,
    /// A reasoning model's thinking before its last answer: the separate reasoning field and
    /// any `<think>` blocks of the content. Never read for the decision.
    pub thinking: Option<String>,
    /// The decision read from the answer, as JSON.
    pub parsed: Option<Value>,
    /// SHA-256 of the first request's messages.
    pub prompt_hash: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    /// The thinking's share of `completion_tokens`, when the server reports it.
    pub reasoning_tokens: Option<i64>,
    /// Tool mode: every tool call and its result, in order (see `agent::Transcript`).
    pub transcript: Option<Value>,
    /// Set when this decision fell back from tool mode to the JSON path: why.
    pub fallback: Option<String>,
    /// True when every answer came from the cache.
    pub from_cache: bool,
    /// HTTP calls made, retries and re-asks included.
    pub calls: u32,
    pub latency: Duration,
}

/// The SHA-256 of a JSON value's canonical text, in hex.
pub fn hash_json(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key of a request: what determines the answer is the endpoint, the model, the
/// messages, the answer schema and the sampling parameters, all of which are in the body.
pub fn cache_key(base_url: &str, body: &Value) -> String {
    hash_json(&json!({"base_url": base_url.trim_end_matches('/'), "request": body}))
}

/// Decides with a model.
pub struct LlmDecider {
    client: ChatClient,
    cache: Option<Arc<dyn AnswerCache>>,
    cache_mode: CacheMode,
    /// How often an unusable answer is asked again before the decision fails.
    answer_retries: u32,
    /// Tool mode: the most tool calls a decision may make, its submission included (`None`:
    /// the JSON path).
    tool_limit: Option<u32>,
    /// Why the server cannot take tools, once it has refused them (or the AI config says it
    /// did before): the decisions after it take the JSON path.
    tools_refused: std::sync::Mutex<Option<String>>,
}

/// Adds a count the server may not have reported.
pub(crate) fn add(total: &mut Option<i64>, more: Option<i64>) {
    if let Some(more) = more {
        *total = Some(total.unwrap_or(0) + more);
    }
}

impl LlmDecider {
    pub fn new(
        client: ChatClient,
        cache: Option<Arc<dyn AnswerCache>>,
        cache_mode: CacheMode,
        answer_retries: u32,
    ) -> LlmDecider {
        LlmDecider {
            client,
            cache,
            cache_mode,
            answer_retries,
            tool_limit: None,
            tools_refused: std::sync::Mutex::new(None),
        }
    }

    /// Tool mode: decisions are made by calling tools, at most `limit` calls each; `refused` is
    /// why the server refused tools before, if it did (its decisions take the JSON path).
    pub fn with_tools(mut self, limit: u32, refused: Option<String>) -> LlmDecider {
        self.tool_limit = Some(limit);
        self.tools_refused = std::sync::Mutex::new(refused);
        self
    }

    /// The most tool calls a decision may make, when tools are used (tool mode, and the
    /// server has not refused them).
    pub fn tool_limit(&self) -> Option<u32> {
        self.tool_limit.filter(|_| self.tools_refused().is_none())
    }

    /// The most calls a decision can make: 1, or in tool mode one more than its tool calls
    /// (the turn that passes the limit is made too).
    pub fn calls_per_decision(&self) -> u64 {
        self.tool_limit().map_or(1, |limit| u64::from(limit) + 1)
    }

    /// Why the server refused tools, if it has.
    pub fn tools_refused(&self) -> Option<String> {
        self.tools_refused
            .lock()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |r| r.clone())
    }

    /// Remembers that the server refused tools; the first reason is kept.
    pub(crate) fn refuse_tools(&self, reason: &str) {
        let mut refused = self
            .tools_refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        refused.get_or_insert_with(|| reason.to_string());
    }

    pub fn client(&self) -> &ChatClient {
        &self.client
    }

    /// The messages of a decision's first request.
    pub fn messages(prompt: &str) -> Vec<Value> {
        vec![
            json!({"role": "system", "content": SYSTEM_MESSAGE}),
            json!({"role": "user", "content": prompt}),
        ]
    }

    /// The messages of a decision's first request in tool mode.
    pub fn tool_messages(prompt: &str) -> Vec<Value> {
        vec![
            json!({"role": "system", "content": TOOL_SYSTEM_MESSAGE}),
            json!({"role": "user", "content": prompt}),
        ]
    }

    /// The cache key of the first request of a decision on `prompt` (what a plan looks up to
    /// count the calls a run would make).
    pub fn first_request_key(&self, prompt: &str) -> String {
        let body = match self.tool_limit() {
            Some(_) => self
                .client
                .tool_request_body(&Self::tool_messages(prompt), &tool_definitions()),
            None => self
                .client
                .request_body(&Self::messages(prompt), &answer_schema()),
        };
        cache_key(&self.client.settings().base_url, &body)
    }

    /// The system message a decision's first request carries.
    pub fn system_message(&self) -> &'static str {
        match self.tool_limit() {
            Some(_) => TOOL_SYSTEM_MESSAGE,
            None => SYSTEM_MESSAGE,
        }
    }

    /// Whether the cache holds the answer to `key` (and is read at all).
    pub async fn is_cached(&self, key: &str) -> bool {
        match &self.cache {
            Some(cache) if self.cache_mode != CacheMode::Off => cache.get(key).await.is_some(),
            _ => false,
        }
    }

    /// An answer from the cache, or from the model (and then cached).
    pub(crate) async fn answer(&self, body: &Value) -> (CallReport, bool) {
        let key = cache_key(&self.client.settings().base_url, body);
        let cache = self
            .cache
            .as_ref()
            .filter(|_| self.cache_mode != CacheMode::Off);
        if let Some(cache) = cache
            && let Some(cached) = cache.get(&key).await
            && let Ok(completion) = serde_json::from_value::<CachedCompletion>(cached)
        {
            return (
                CallReport {
                    result: Ok(completion.into()),
                    calls: 0,
                    latency: Duration::ZERO,
                },
                true,
            );
        }
        let report = self.client.complete(body).await;
        if let (Some(cache), Ok(completion)) = (cache, &report.result)
            && self.cache_mode == CacheMode::ReadWrite
            && let Ok(value) = serde_json::to_value(CachedCompletion::from(completion))
        {
            cache.put(&key, value).await;
        }
        (report, false)
    }

    /// Asks the model for a decision on `prompt`.
    pub async fn decide(&self, prompt: &str) -> DecisionOutcome {
        let schema = answer_schema();
        let mut messages = Self::messages(prompt);
        let mut outcome = DecisionOutcome::asked(&messages);
        for attempt in 0..=self.answer_retries {
            let body = self.client.request_body(&messages, &schema);
            let (report, cached) = self.answer(&body).await;
            let completion = match outcome.count(report, cached) {
                Ok(completion) => completion,
                Err(error) => {
                    return failed(outcome, format!("the call failed: {error}"));
                }
            };
            outcome.raw_answer = Some(completion.content.clone());
            let reading = read_completion(&completion, self.client.settings().max_tokens);
            outcome.thinking = reading.thinking;
            let parsed = reading.decision;
            match parsed {
                Ok(decision) => {
                    outcome.parsed = Some(decision_json(&decision));
                    outcome.decision = decision;
                    return outcome;
                }
                Err(error) if attempt < self.answer_retries => {
                    // The unusable answer goes back shortened: a rambling one would otherwise
                    // fill the context of a small model's server.
                    // Only the answer goes back: thinking would fill the context.
                    messages.push(
                        json!({"role": "assistant", "content": shorten(&reading.answer, 300)}),
                    );
                    messages.push(json!({
                        "role": "user",
                        "content": format!(
                            "That answer cannot be used ({error}). Answer again with only the JSON object, \
                             confidence between 0 and 1 and reasoning of at most one short sentence."
                        ),
                    }));
                }
                Err(error) => return failed(outcome, format!("unusable answer: {error}")),
            }
        }
        outcome
    }
}

/// What one completion says: the model's thinking, its answer, and the decision the answer
/// holds (or why it holds none).
#[derive(Debug, Clone)]
pub struct Reading {
    pub thinking: Option<String>,
    /// The content without its thinking.
    pub answer: String,
    pub decision: Result<Decision, AnswerError>,
}

/// Reads a completion: thinking drafts decisions and rejects them, so the decision is read
/// only from the answer after it. `max_tokens` is the limit the request carried.
pub fn read_completion(completion: &Completion, max_tokens: u32) -> Reading {
    let split = split_thinking(&completion.content);
    let thinking = join_thinking(completion.reasoning.as_deref(), split.thinking.as_deref());
    let cut_off = completion.finish_reason.as_deref() == Some("length");
    let decision =
        if cut_off && (split.unfinished || (split.answer.is_empty() && thinking.is_some())) {
            Err(AnswerError::TruncatedThinking { max_tokens })
        } else {
            parse_answer(&split.answer).map_err(|error| {
                // An answer stopped by the token limit is reported as such, whatever its
                // half-written JSON looks like.
                if cut_off {
                    AnswerError::Truncated
                } else {
                    error
                }
            })
        };
    Reading {
        thinking,
        answer: split.answer,
        decision,
    }
}

impl DecisionOutcome {
    /// A decision about to be asked with `messages`: a HOLD until an answer says otherwise.
    pub(crate) fn asked(messages: &[Value]) -> DecisionOutcome {
        DecisionOutcome {
            decision: Decision::hold(""),
            error: None,
            raw_answer: None,
            thinking: None,
            parsed: None,
            prompt_hash: hash_json(&Value::Array(messages.to_vec())),
            prompt_tokens: None,
            completion_tokens: None,
            reasoning_tokens: None,
            transcript: None,
            fallback: None,
            from_cache: true,
            calls: 0,
            latency: Duration::ZERO,
        }
    }

    /// Adds what a call took (its HTTP calls, latency, tokens) and gives its completion.
    pub(crate) fn count(
        &mut self,
        report: CallReport,
        cached: bool,
    ) -> Result<Completion, crate::client::CallError> {
        self.calls += report.calls;
        self.latency += report.latency;
        self.from_cache &= cached;
        let completion = report.result?;
        add(&mut self.prompt_tokens, completion.prompt_tokens);
        add(&mut self.completion_tokens, completion.completion_tokens);
        add(&mut self.reasoning_tokens, completion.reasoning_tokens);
        Ok(completion)
    }
}

/// The first `limit` characters of `text`, marked when cut.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

pub(crate) fn failed(mut outcome: DecisionOutcome, error: String) -> DecisionOutcome {
    outcome.decision = Decision {
        confidence: Rate::ZERO,
        ..Decision::hold(format!("failed decision: {error}"))
    };
    outcome.error = Some(error);
    outcome
}

/// What the cache keeps of a completion.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CachedCompletion {
    content: String,
    /// Absent from answers cached before thinking was kept apart.
    #[serde(default)]
    reasoning: Option<String>,
    finish_reason: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    #[serde(default)]
    reasoning_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
}

impl From<&Completion> for CachedCompletion {
    fn from(c: &Completion) -> Self {
        CachedCompletion {
            content: c.content.clone(),
            reasoning: c.reasoning.clone(),
            finish_reason: c.finish_reason.clone(),
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            reasoning_tokens: c.reasoning_tokens,
            tool_calls: c.tool_calls.clone(),
        }
    }
}

impl From<CachedCompletion> for Completion {
    fn from(c: CachedCompletion) -> Self {
        Completion {
            content: c.content,
            reasoning: c.reasoning,
            finish_reason: c.finish_reason,
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            reasoning_tokens: c.reasoning_tokens,
            tool_calls: c.tool_calls,
        }
    }
}
