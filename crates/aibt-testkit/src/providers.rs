//! A fake market data server for aibt's download tests: Yahoo Finance's chart API
//! (`GET /v8/finance/chart/{symbol}`) and Binance's klines API (`GET /api/v3/klines`) on one
//! port of 127.0.0.1, both serving the same bars in each API's documented format, with any
//! reply replaceable by a canned one (a 429 with `Retry-After`, a 500, an error body).
//!
//! Every symbol is known except those starting with `BAD`, which each API answers with its own
//! error: Yahoo's 404 `{"chart": {"result": null, "error": {...}}}` and Binance's 400
//! `{"code": -1121, "msg": "Invalid symbol."}`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One bar as the providers hold it: decimal text, which each API renders its own way (Yahoo
/// as float32 values widened to JSON floats, Binance as the strings themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBar {
    /// Open time, unix seconds. Yahoo daily bars are stamped at the session's open.
    pub ts: i64,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    /// A whole number for Yahoo; any decimal for Binance.
    pub volume: String,
    /// Yahoo's adjusted close for daily bars; the close when absent.
    pub adjclose: Option<String>,
    /// Nothing traded: Yahoo sends the row with nulls, Binance leaves it out.
    pub no_trade: bool,
}

impl FakeBar {
    pub fn new(ts: i64, open: &str, high: &str, low: &str, close: &str, volume: &str) -> FakeBar {
        FakeBar {
            ts,
            open: open.into(),
            high: high.into(),
            low: low.into(),
            close: close.into(),
            volume: volume.into(),
            adjclose: None,
            no_trade: false,
        }
    }

    /// This bar with Yahoo's adjusted close.
    pub fn adjclose(mut self, value: &str) -> FakeBar {
        self.adjclose = Some(value.into());
        self
    }

    /// A time at which nothing traded.
    pub fn no_trade(ts: i64) -> FakeBar {
        FakeBar {
            no_trade: true,
            ..FakeBar::new(ts, "0", "0", "0", "0", "0")
        }
    }
}

#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

struct State {
    /// Ascending by time.
    bars: Vec<FakeBar>,
    gmtoffset: AtomicI64,
    price_hint: AtomicU32,
    served: AtomicUsize,
    requests: Mutex<Vec<String>>,
    next: Mutex<VecDeque<Canned>>,
    at: Mutex<HashMap<usize, Canned>>,
}

/// A running fake server; it stops when dropped.
pub struct FakeProviders {
    port: u16,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProviders {
    /// Serves `bars` (in any order) for every symbol not starting with `BAD`, with Yahoo's
    /// `meta.gmtoffset` -18000 (New York in winter) and `meta.priceHint` 2.
    pub async fn start(mut bars: Vec<FakeBar>) -> FakeProviders {
        bars.sort_by_key(|bar| bar.ts);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State {
            bars,
            gmtoffset: AtomicI64::new(-18_000),
            price_hint: AtomicU32::new(2),
            served: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            next: Mutex::new(VecDeque::new()),
            at: Mutex::new(HashMap::new()),
        });
        let accepting = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accepting.clone()));
            }
        });
        FakeProviders { port, state, task }
    }

    /// The root of both APIs (`http://127.0.0.1:PORT`), for `yahoo_url` and `binance_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The path and query of every request received, in order of arrival.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.state.served.load(Ordering::SeqCst)
    }

    /// Answers the next request not answered by [`FakeProviders::reply_at`] with this, instead
    /// of the API's reply; queued replies are served in order.
    pub fn reply_next(&self, status: u16, retry_after: Option<&str>, body: &str) {
        self.state.next.lock().unwrap().push_back(Canned {
            status,
            retry_after: retry_after.map(str::to_string),
            body: body.to_string(),
        });
    }

    /// Answers the request with this 0-based index (counting every request this server has
    /// received) with this, instead of the API's reply.
    pub fn reply_at(&self, index: usize, status: u16, retry_after: Option<&str>, body: &str) {
        self.state.at.lock().unwrap().insert(
            index,
            Canned {
                status,
                retry_after: retry_after.map(str::to_string),
                body: body.to_string(),
            },
        );
    }

    /// Yahoo's `meta.gmtoffset` from now on, in seconds east of UTC.
    pub fn set_gmtoffset(&self, seconds: i64) {
        self.state.gmtoffset.store(seconds, Ordering::SeqCst);
    }

    /// Yahoo's `meta.priceHint` from now on.
    pub fn set_price_hint(&self, places: u32) {
        self.state.price_hint.store(places, Ordering::SeqCst);
    }
}

/// The value of query parameter `name` in a request as [`FakeProviders::requests`] lists it.
pub fn query_param(request: &str, name: &str) -> Option<String> {
    let (_, query) = request.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The request target (path and query) of a GET, once its head has arrived.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buffer);
    head.split_whitespace().nth(1).map(str::to_string)
}

fn response(canned: &Canned) -> String {
    let reason = if canned.status == 200 { "OK" } else { "Error" };
    let retry_after = canned
        .retry_after
        .as_ref()
        .map(|r| format!("retry-after: {r}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\n{retry_after}content-length: {}\r\nconnection: close\r\n\r\n{}",
        canned.status,
        canned.body.len(),
        canned.body
    )
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let Some(target) = read_target(&mut stream).await else {
        return;
    };
    let index = state.served.fetch_add(1, Ordering::SeqCst);
    state.requests.lock().unwrap().push(target.clone());
    let canned = state.at.lock().unwrap().remove(&index);
    let canned = canned.or_else(|| state.next.lock().unwrap().pop_front());
    let reply = canned.unwrap_or_else(|| answer(&state, &target));
    let _ = stream.write_all(response(&reply).as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn ok(body: Value) -> Canned {
    Canned {
        status: 200,
        retry_after: None,
        body: body.to_string(),
    }
}

fn answer(state: &State, target: &str) -> Canned {
    let path = target.split('?').next().unwrap_or_default();
    let number = |name: &str| query_param(target, name).and_then(|v| v.parse::<i64>().ok());
    if let Some(symbol) = path.strip_prefix("/v8/finance/chart/") {
        let symbol = percent_decode(symbol);
        if symbol.to_ascii_uppercase().starts_with("BAD") {
            return Canned {
                status: 404,
                retry_after: None,
                body: json!({"chart": {"result": null, "error": {"code": "Not Found",
                    "description": "No data found, symbol may be delisted"}}})
                .to_string(),
            };
        }
        let from = number("period1").unwrap_or(0);
        let to = number("period2").unwrap_or(i64::MAX);
        let interval = query_param(target, "interval").unwrap_or_default();
        return ok(yahoo_chart(state, &symbol, &interval, from, to));
    }
    if path == "/api/v3/klines" {
        let symbol = query_param(target, "symbol").unwrap_or_default();
        if symbol.is_empty() || symbol.to_ascii_uppercase().starts_with("BAD") {
            return Canned {
                status: 400,
                retry_after: None,
                body: json!({"code": -1121, "msg": "Invalid symbol."}).to_string(),
            };
        }
        let from = number("startTime").unwrap_or(0);
        let to = number("endTime").unwrap_or(i64::MAX);
        let limit = number("limit").unwrap_or(500).clamp(1, 1000) as usize;
        let interval = query_param(target, "interval").unwrap_or_default();
        return ok(binance_klines(state, &interval, from, to, limit));
    }
    Canned {
        status: 404,
        retry_after: None,
        body: json!({"error": format!("no route {path}")}).to_string(),
    }
}

/// Decimal text as Yahoo's floats look: float32 values widened (171.48 is 171.47999572753906).
fn yahoo_float(text: &str) -> Value {
    text.parse::<f32>()
        .map(|v| json!(f64::from(v)))
        .unwrap_or(Value::Null)
}

fn yahoo_chart(state: &State, symbol: &str, interval: &str, from: i64, to: i64) -> Value {
    let rows: Vec<&FakeBar> = state
        .bars
        .iter()
        .filter(|bar| from <= bar.ts && bar.ts < to)
        .collect();
    let meta = json!({
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": "NMS",
        "instrumentType": "EQUITY",
        "exchangeTimezoneName": "America/New_York",
        "timezone": "EST",
        "gmtoffset": state.gmtoffset.load(Ordering::SeqCst),
        "priceHint": state.price_hint.load(Ordering::SeqCst),
        "dataGranularity": interval,
    });
    // Yahoo gives an adjusted close for daily bars only.
    let daily = interval == "1d";
    if rows.is_empty() {
        let mut indicators = json!({"quote": [{}]});
        if daily {
            indicators["adjclose"] = json!([{}]);
        }
        return json!({"chart": {"result": [{"meta": meta, "indicators": indicators}], "error": null}});
    }
    let column = |pick: &dyn Fn(&FakeBar) -> Value| -> Vec<Value> {
        rows.iter()
            .map(|bar| if bar.no_trade { Value::Null } else { pick(bar) })
            .collect()
    };
    let quote = json!({
        "open": column(&|b| yahoo_float(&b.open)),
        "high": column(&|b| yahoo_float(&b.high)),
        "low": column(&|b| yahoo_float(&b.low)),
        "close": column(&|b| yahoo_float(&b.close)),
        "volume": column(&|b| b.volume.parse::<u64>().map(|v| json!(v)).unwrap_or(Value::Null)),
    });
    let mut indicators = json!({"quote": [quote]});
    if daily {
        let adjclose = column(&|b| {
            let text = b.adjclose.as_deref().unwrap_or(&b.close);
            text.parse::<f64>().map(|v| json!(v)).unwrap_or(Value::Null)
        });
        indicators["adjclose"] = json!([{"adjclose": adjclose}]);
    }
    let timestamps: Vec<i64> = rows.iter().map(|bar| bar.ts).collect();
    json!({"chart": {"result": [{"meta": meta, "timestamp": timestamps,
        "indicators": indicators}], "error": null}})
}

fn binance_klines(state: &State, interval: &str, from: i64, to: i64, limit: usize) -> Value {
    let period_ms: i64 = match interval {
        "1d" => 86_400_000,
        "1h" => 3_600_000,
        _ => 60_000,
    };
    let rows: Vec<Value> = state
        .bars
        .iter()
        .filter(|bar| !bar.no_trade)
        .map(|bar| (bar.ts * 1000, bar))
        .filter(|(open_ms, _)| from <= *open_ms && *open_ms <= to)
        .take(limit)
        .map(|(open_ms, bar)| {
            json!([
                open_ms,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                open_ms + period_ms - 1,
                "0",
                0,
                "0",
                "0",
                "0"
            ])
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let request = "/v8/finance/chart/%5EGSPC?period1=1&events=div%2Csplit";
        assert_eq!(query_param(request, "events").as_deref(), Some("div,split"));
        assert_eq!(query_param(request, "period1").as_deref(), Some("1"));
        assert_eq!(query_param(request, "period2"), None);
    }

    #[test]
    fn yahoo_floats_look_like_float32_values() {
        assert_eq!(yahoo_float("171.48").to_string(), "171.47999572753906");
    }
}
