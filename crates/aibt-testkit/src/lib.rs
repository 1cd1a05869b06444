//! A fake OpenAI-compatible chat server for aibt's tests: a real HTTP/1.1 server on
//! 127.0.0.1 whose every reply a test programs, down to the failures a real endpoint has
//! (rate limits, server errors, hangs, dropped connections). It is written on a raw socket so
//! that it can drop a connection mid-request, which a framework would not let it do.

// Test support: a failed expectation here is a failed test, so it may panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod postgres;
pub mod providers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A completion whose message content is `content`, after `delay`.
    Answer {
        content: String,
        finish_reason: &'static str,
        delay: Duration,
    },
    /// An error status (e.g. 429 with `Retry-After`, or 500).
    Status {
        code: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// A 200 reply whose body is this JSON, exactly: a server's own completion format (a
    /// reasoning model's `reasoning_content`, `content: null`, usage details).
    Raw(Value),
    /// Reads the request, then sends nothing for this long.
    Hang(Duration),
    /// Reads the request and closes the connection without a reply.
    Drop,
}

impl Reply {
    /// An immediate completion with `content`.
    pub fn answer(content: impl Into<String>) -> Reply {
        Reply::Answer {
            content: content.into(),
            finish_reason: "stop",
            delay: Duration::ZERO,
        }
    }
}

/// A reasoning model's completion as vLLM, llama.cpp and DeepSeek send it: the thinking in
/// `reasoning_content`, its tokens in `usage.completion_tokens_details`.
pub fn reasoned(thinking: &str, content: Option<&str>, finish_reason: &str) -> Reply {
    let thinking_tokens = thinking.len() / 4 + 1;
    let answer_tokens = content.map_or(0, |c| c.len() / 4 + 1);
    Reply::Raw(json!({
        "id": "chatcmpl-reasoned",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                     "reasoning_content": thinking}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 120, "completion_tokens": thinking_tokens + answer_tokens,
                  "completion_tokens_details": {"reasoning_tokens": thinking_tokens}},
    }))
}

/// A model's turn in tool mode: it calls these tools (name and arguments) and writes no text,
/// as OpenAI, vLLM and llama.cpp send it.
pub fn tool_calls(calls: &[(&str, Value)]) -> Reply {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(n, (name, arguments))| {
            let arguments = match arguments {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            json!({"id": format!("call_{n}_{name}"), "type": "function",
                   "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    Reply::Raw(json!({
        "id": "chatcmpl-tools",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                     "tool_calls": calls}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 150, "completion_tokens": 20},
    }))
}

/// The results of tool calls a request carries back (`role: tool` messages), in order: the
/// id of the call each answers and its content, parsed.
pub fn tool_results(body: &Value) -> Vec<(String, Value)> {
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m["role"] == "tool")
                .map(|m| {
                    let content = m["content"].as_str().unwrap_or_default();
                    (
                        m["tool_call_id"].as_str().unwrap_or_default().to_string(),
                        serde_json::from_str(content).unwrap_or(Value::Null),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A decision as a model would write it.
pub fn decision(action: &str, confidence: f64, reasoning: &str) -> String {
    json!({"action": action, "confidence": confidence, "reasoning": reasoning}).to_string()
}

/// The user message (the rendered prompt) of a request body.
pub fn prompt_of(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// A deterministic answer for a prompt: the same prompt always gets the same action, and
/// different prompts get BUY, SELL and HOLD in roughly equal shares.
pub fn hashed_decision(prompt: &str) -> String {
    let hash = prompt.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let action = ["BUY", "SELL", "HOLD"][(hash % 3) as usize];
    decision(action, 0.5 + (hash % 50) as f64 / 100.0, "hashed")
}

type Behaviour = dyn Fn(usize, &Value) -> Reply + Send + Sync;

struct State {
    behaviour: Box<Behaviour>,
    /// Answers `POST /tokenize` at the server's root as llama.cpp does (one token per
    /// whitespace-separated word), or 404 as Ollama does.
    tokenizer: bool,
    tokenized: AtomicUsize,
    requests: Mutex<Vec<Value>>,
    served: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running fake server; it stops when dropped.
pub struct FakeLlm {
    port: u16,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    /// Starts a server whose reply to the `n`-th request (0-based) with body `b` is
    /// `behaviour(n, b)`.
    pub async fn start(
        behaviour: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
    ) -> FakeLlm {
        FakeLlm::start_with(behaviour, true).await
    }

    /// [`FakeLlm::start`], with or without a `/tokenize` endpoint.
    pub async fn start_with(
        behaviour: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
        tokenizer: bool,
    ) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State {
            behaviour: Box::new(behaviour),
            tokenizer,
            tokenized: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            served: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let accepting = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accepting.clone()));
            }
        });
        FakeLlm { port, state, task }
    }

    /// The API root to configure (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// `/tokenize` requests answered.
    pub fn tokenized(&self) -> usize {
        self.state.tokenized.load(Ordering::SeqCst)
    }

    /// The tokens the fake's tokenizer counts in `text`: one per whitespace-separated word.
    pub fn count_tokens(text: &str) -> usize {
        text.split_whitespace().count()
    }

    /// Chat completion request bodies received, in order of arrival.
    pub fn requests(&self) -> Vec<Value> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.state.served.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// The path and the JSON body of a request.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Value)> {
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    serde_json::from_slice(&buffer[header_end..header_end + length])
        .ok()
        .map(|body| (path, body))
}

fn http_reply(code: u16, payload: &str) -> String {
    format!(
        "HTTP/1.1 {code} Reply\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
        payload.len()
    )
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let Some((path, body)) = read_request(&mut stream).await else {
        return;
    };
    if path == "/tokenize" {
        let reply = if state.tokenizer {
            state.tokenized.fetch_add(1, Ordering::SeqCst);
            let text = body["content"].as_str().unwrap_or_default();
            let tokens: Vec<usize> = (0..FakeLlm::count_tokens(text)).collect();
            http_reply(200, &json!({ "tokens": tokens }).to_string())
        } else {
            http_reply(404, "{\"error\": \"not found\"}")
        };
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let index = state.served.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(body.clone());
    }
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = (state.behaviour)(index, &body);
    let response = match reply {
        Reply::Answer {
            content,
            finish_reason,
            delay,
        } => {
            tokio::time::sleep(delay).await;
            let payload = json!({
                "id": format!("chatcmpl-{index}"),
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
                "usage": {"prompt_tokens": prompt_of(&body).len() / 4 + 100, "completion_tokens": content.len() / 4 + 1},
            })
            .to_string();
            Some(format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                payload.len()
            ))
        }
        Reply::Raw(payload) => {
            let payload = payload.to_string();
            Some(format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                payload.len()
            ))
        }
        Reply::Status {
            code,
            retry_after,
            body,
        } => {
            let extra = retry_after
                .map(|r| format!("retry-after: {r}\r\n"))
                .unwrap_or_default();
            Some(format!(
                "HTTP/1.1 {code} Error\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ))
        }
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            None
        }
        Reply::Drop => None,
    };
    // Answered: no longer in flight. (Counted before the write: once the client has the
    // reply it may send the next request before this task runs again.)
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(response) = response {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}
