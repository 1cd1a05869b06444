//! A thin client for OpenAI-compatible chat completions (`POST {base}/chat/completions`).
//!
//! Deliberately small: servers that call themselves OpenAI-compatible (Ollama, vLLM, LM Studio,
//! llama.cpp, OpenAI, DeepSeek…) differ in details an SDK tends to assume away, so the answer is
//! read leniently: the content as a string or as text parts, usage when present, any extra
//! fields ignored. Every call has a timeout; 429, 5xx, timeouts and broken connections are
//! retried with exponential backoff and jitter, honouring `Retry-After`; other 4xx are not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aibt_core::ResponseFormat;
use serde_json::{Value, json};

use crate::gate::CallGate;

/// How to call one model.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The API root, usually ending in `/v1` (`http://127.0.0.1:11434/v1` for Ollama).
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub temperature: f64,
    pub max_tokens: u32,
    pub timeout: Duration,
    pub response_format: ResponseFormat,
    /// Retries of a failed call (so up to `max_retries + 1` calls).
    pub max_retries: u32,
    /// Sent as `seed` when set: with it, sampling at a temperature above 0 repeats.
    pub seed: Option<u64>,
    /// Sent as `reasoning_effort` when set (`low`, `medium` or `high`), for servers and
    /// models that think for as long as they are told.
    pub reasoning_effort: Option<String>,
}

/// A call that did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("the server's reply is not a chat completion: {0}")]
    Malformed(String),
    #[error("invalid client settings: {0}")]
    Settings(String),
}

impl CallError {
    /// Rate limits, server errors and network failures may pass; other refusals will not.
    fn retryable(&self) -> bool {
        match self {
            CallError::Timeout(_) | CallError::Connection(_) => true,
            CallError::Status { status, .. } => *status == 429 || *status >= 500,
            CallError::Malformed(_) | CallError::Settings(_) => false,
        }
    }
}

/// A model's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub content: String,
    /// A reasoning model's thinking, when the server sends it apart from the content
    /// (`reasoning_content` or `reasoning`).
    pub reasoning: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<i64>,
    /// Every token generated, thinking included.
    pub completion_tokens: Option<i64>,
    /// The thinking's share of `completion_tokens`, when the server reports it.
    pub reasoning_tokens: Option<i64>,
    /// The tools the model called, in its order (tool mode).
    pub tool_calls: Vec<ToolCall>,
}

/// One call of a tool, as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolCall {
    /// The server's id of the call, which its result must name (made up in order when the
    /// server sends none).
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text, possibly malformed.
    pub arguments: String,
}

/// The outcome of [`ChatClient::complete`]: the answer (or why there is none), and what it
/// took to get it.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub result: Result<Completion, CallError>,
    /// HTTP calls made, retries included.
    pub calls: u32,
    pub latency: Duration,
}

/// A client for one model.
#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    settings: Arc<ClientSettings>,
    gate: Arc<dyn CallGate>,
}

/// Retry-After as seconds or an HTTP date, bounded so a server cannot park a task for hours.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if let Ok(seconds) = value.parse::<f64>() {
        Duration::from_secs_f64(seconds.max(0.0))
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
        delta.to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(Duration::from_secs(120)))
}

/// Exponential backoff (0.5 s, 1 s, 2 s, … up to 20 s) with jitter of ±50%, so that tasks that
/// failed together do not retry together.
fn backoff(attempt: u32) -> Duration {
    let base = 0.5 * 2f64.powi(attempt.min(6) as i32);
    Duration::from_secs_f64(base.min(20.0) * (0.5 + fastrand::f64()))
}

impl ChatClient {
    pub fn new(settings: ClientSettings, gate: Arc<dyn CallGate>) -> Result<ChatClient, CallError> {
        if !(settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://"))
        {
            return Err(CallError::Settings(format!(
                "base URL {:?} must start with http:// or https://",
                settings.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| CallError::Settings(e.to_string()))?;
        Ok(ChatClient {
            http,
            settings: Arc::new(settings),
            gate,
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The request body for `messages`: exactly what is sent, and what the cache key hashes.
    pub fn request_body(&self, messages: &[Value], schema: &Value) -> Value {
        let s = &self.settings;
        let mut body = self.common_body(messages);
        match s.response_format {
            ResponseFormat::JsonSchema => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": {"name": "trading_decision", "strict": false, "schema": schema},
                });
            }
            ResponseFormat::JsonObject => body["response_format"] = json!({"type": "json_object"}),
            ResponseFormat::None => {}
        }
        body
    }

    /// The request body of a turn in tool mode: `tools` in place of a response format (servers
    /// refuse a grammar beside tools), and a tool call required, so every turn either looks
    /// something up or submits the decision.
    pub fn tool_request_body(&self, messages: &[Value], tools: &Value) -> Value {
        let mut body = self.common_body(messages);
        body["tools"] = tools.clone();
        body["tool_choice"] = json!("required");
        body
    }

    fn common_body(&self, messages: &[Value]) -> Value {
        let s = &self.settings;
        let mut body = json!({
            "model": s.model,
            "messages": messages,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "stream": false,
        });
        if let Some(seed) = s.seed {
            body["seed"] = json!(seed);
        }
        if let Some(effort) = &s.reasoning_effort {
            body["reasoning_effort"] = json!(effort);
        }
        body
    }

    fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        )
    }

    /// Counts the tokens of `text` with the server's own tokenizer, where it has one:
    /// llama.cpp's and vLLM's `POST /tokenize` at the server's root (the base URL without its
    /// `/v1`). `None` when the server has none (Ollama, hosted APIs) or does not answer: the
    /// caller then estimates. One attempt, no retries: this is for estimates only.
    pub async fn count_tokens(&self, text: &str) -> Option<u64> {
        let base = self.settings.base_url.trim_end_matches('/');
        let root = base.strip_suffix("/v1").unwrap_or(base);
        let body = json!({"model": self.settings.model, "content": text, "prompt": text});
        let mut request = self
            .http
            .post(format!("{root}/tokenize"))
            .timeout(self.settings.timeout.min(Duration::from_secs(30)))
            .json(&body);
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.json().await.ok()?;
        // vLLM gives a count; llama.cpp the token ids.
        value.get("count").and_then(Value::as_u64).or_else(|| {
            value
                .get("tokens")
                .and_then(Value::as_array)
                .map(|t| t.len() as u64)
        })
    }

    /// Sends `body`, retrying what may pass on a second try.
    pub async fn complete(&self, body: &Value) -> CallReport {
        let started = Instant::now();
        let mut calls = 0;
        loop {
            let (result, wait_hint) = self.call_once(body).await;
            calls += 1;
            match result {
                Err(error) if error.retryable() && calls <= self.settings.max_retries => {
                    let wait = wait_hint.unwrap_or_else(|| backoff(calls - 1));
                    tokio::time::sleep(wait).await;
                }
                result => {
                    return CallReport {
                        result,
                        calls,
                        latency: started.elapsed(),
                    };
                }
            }
        }
    }

    async fn call_once(&self, body: &Value) -> (Result<Completion, CallError>, Option<Duration>) {
        // The pass is held only while the request is in flight, not while backing off.
        let _pass = match self.gate.enter().await {
            Ok(pass) => pass,
            Err(error) => return (Err(CallError::Settings(error.to_string())), None),
        };
        let timeout = self.settings.timeout;
        let mut request = self.http.post(self.endpoint()).timeout(timeout).json(body);
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return (Err(CallError::Timeout(timeout)), None),
            Err(error) => return (Err(CallError::Connection(error_chain(&error))), None),
        };
        let status = response.status();
        let hint = retry_after(response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) if error.is_timeout() => return (Err(CallError::Timeout(timeout)), None),
            Err(error) => return (Err(CallError::Connection(error_chain(&error))), None),
        };
        if !status.is_success() {
            let body: String = text.chars().take(500).collect();
            return (
                Err(CallError::Status {
                    status: status.as_u16(),
                    body,
                }),
                hint,
            );
        }
        (parse_completion(&text), None)
    }
}

/// The error and its causes in one line (reqwest hides the useful part in the source chain).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads a chat completion, accepting the variations servers produce.
pub fn parse_completion(text: &str) -> Result<Completion, CallError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CallError::Malformed(format!("{e} in {:.200}", text)))?;
    let choice = value
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| CallError::Malformed(format!("no choices in {:.200}", text)))?;
    let message = choice.get("message");
    let tool_calls = tool_calls_of(message);
    let content = match message.and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        // A reasoning model that spent its tokens thinking, or a model calling tools, may
        // send no content at all.
        Some(Value::Null) | None if reasoning_of(message).is_some() || !tool_calls.is_empty() => {
            String::new()
        }
        // Some servers send content as a list of parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => match choice.get("text") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(CallError::Malformed(format!(
                    "no message content in {:.200}",
                    text
                )));
            }
        },
    };
    let usage = value.get("usage");
    let tokens = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| usage.and_then(|u| u.get(*name)).and_then(Value::as_i64))
    };
    Ok(Completion {
        content,
        reasoning: reasoning_of(message),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        prompt_tokens: tokens(&["prompt_tokens", "input_tokens"]),
        completion_tokens: tokens(&["completion_tokens", "output_tokens"]),
        reasoning_tokens: usage
            .and_then(|u| {
                u.pointer("/completion_tokens_details/reasoning_tokens")
                    .or_else(|| u.pointer("/output_tokens_details/reasoning_tokens"))
            })
            .and_then(Value::as_i64),
        tool_calls,
    })
}

/// The tool calls of a message: `tool_calls[].function.{name, arguments}`, the arguments as
/// text (most servers) or as an object (some send it parsed).
fn tool_calls_of(message: Option<&Value>) -> Vec<ToolCall> {
    let Some(calls) = message
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    calls
        .iter()
        .enumerate()
        .map(|(n, call)| {
            let function = call.get("function");
            ToolCall {
                id: call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map_or_else(|| format!("call_{n}"), str::to_string),
                name: function
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: match function.and_then(|f| f.get("arguments")) {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
            }
        })
        .collect()
}

/// The thinking a server sends beside the content: `reasoning_content` (DeepSeek, vLLM,
/// llama.cpp) or `reasoning` (Ollama, OpenRouter, vLLM's newer releases).
fn reasoning_of(message: Option<&Value>) -> Option<String> {
    let message = message?;
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|name| message.get(*name).and_then(Value::as_str))
        .filter(|text| !text.trim().is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_sent_apart_and_its_tokens_are_read() {
        let c = parse_completion(r#"{"choices":[{"message":{"content":"{}","reasoning_content":"hmm"},"finish_reason":"stop"}],"usage":{"completion_tokens":40,"completion_tokens_details":{"reasoning_tokens":31}}}"#).unwrap();
        assert_eq!(c.reasoning.as_deref(), Some("hmm"));
        assert_eq!(
            (c.completion_tokens, c.reasoning_tokens),
            (Some(40), Some(31))
        );
        // Ollama's field name; and a model cut off while thinking sends no content.
        let c = parse_completion(r#"{"choices":[{"message":{"content":null,"reasoning":"still"},"finish_reason":"length"}]}"#).unwrap();
        assert_eq!(
            (c.content.as_str(), c.reasoning.as_deref()),
            ("", Some("still"))
        );
        // Without thinking, a missing content is still no completion.
        assert!(parse_completion(r#"{"choices":[{"message":{"content":null}}]}"#).is_err());
    }

    #[test]
    fn tool_calls_are_read_with_their_arguments_as_text() {
        let c = parse_completion(r#"{"choices":[{"message":{"content":null,"tool_calls":[
            {"id":"a1","type":"function","function":{"name":"get_bars","arguments":"{\"count\": 5}"}},
            {"type":"function","function":{"name":"get_position","arguments":{}}}]},"finish_reason":"tool_calls"}]}"#).unwrap();
        assert_eq!(c.content, "");
        assert_eq!(
            c.tool_calls,
            vec![
                ToolCall {
                    id: "a1".into(),
                    name: "get_bars".into(),
                    arguments: r#"{"count": 5}"#.into()
                },
                ToolCall {
                    id: "call_1".into(),
                    name: "get_position".into(),
                    arguments: "{}".into()
                },
            ]
        );
    }

    #[test]
    fn completions_are_read_leniently() {
        let c = parse_completion(r#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#).unwrap();
        assert_eq!(
            (c.content.as_str(), c.prompt_tokens, c.completion_tokens),
            ("hi", Some(5), Some(2))
        );
        let c = parse_completion(r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#).unwrap();
        assert_eq!((c.content.as_str(), c.prompt_tokens), ("ab", None));
        let c = parse_completion(r#"{"choices":[{"text":"legacy","finish_reason":"length"}],"usage":{"input_tokens":1,"output_tokens":9}}"#).unwrap();
        assert_eq!(
            (
                c.content.as_str(),
                c.finish_reason.as_deref(),
                c.completion_tokens
            ),
            ("legacy", Some("length"), Some(9))
        );
        assert!(matches!(
            parse_completion("<html>"),
            Err(CallError::Malformed(_))
        ));
        assert!(matches!(
            parse_completion(r#"{"choices":[]}"#),
            Err(CallError::Malformed(_))
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_bounded() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 0..10 {
            let wait = backoff(attempt);
            assert!(wait <= Duration::from_secs(30), "{wait:?}");
        }
        assert!(backoff(0) < Duration::from_secs(1));
    }
}
