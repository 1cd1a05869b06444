//! The real server on 127.0.0.1:0 with a worker beside it, over a real SQLite file or a
//! PostgreSQL database of its own, and a client that speaks to it as any other would.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use aibt_engine::worker::{WorkerHandle, WorkerOptions, run_worker};
use aibt_server::{AppState, Limits};
use aibt_store::Store;
use aibt_store_postgres::PostgresStore;
use aibt_store_sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(aibt_testkit::postgres::TestDatabase),
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    token: Option<String>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    _backend: Backend,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

/// A response: its status and its JSON body (Null when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts an error answer: its status, code and field.
    pub fn error(&self, status: u16, code: &str, field: Option<&str>) -> &Reply {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        assert_eq!(self.body["error"]["field"].as_str(), field, "{}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            self.text
        );
        self
    }

    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.body
    }
}

pub async fn sqlite() -> (Arc<dyn Store>, Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("aibt.db"))
        .await
        .expect("open");
    (Arc::new(store), Backend::Sqlite(dir))
}

pub async fn postgres() -> (Arc<dyn Store>, Backend) {
    let db = aibt_testkit::postgres::TestDatabase::new("aibt_api");
    let store = PostgresStore::connect(&db.url()).await.expect("connect");
    (Arc::new(store), Backend::Postgres(db))
}

/// Runs each suite function named against a fresh server on each backend: a module per suite,
/// with a `sqlite` and a `postgres` test, so that both backends answer every route the same.
// Not every test file runs a suite on both backends; those that include this module without
// one would otherwise warn of an unused macro.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($suite:ident),+ $(,)?) => {
        $(
            mod $suite {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let backend = $crate::common::sqlite().await;
                    let server = $crate::common::Server::start(backend, None).await;
                    super::$suite(&server).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let backend = $crate::common::postgres().await;
                    let server = $crate::common::Server::start(backend, None).await;
                    super::$suite(&server).await;
                }
            }
        )+
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

impl Server {
    pub async fn start((store, backend): (Arc<dyn Store>, Backend), token: Option<&str>) -> Server {
        Server::start_with(store, backend, token, Limits::default()).await
    }

    pub async fn start_with(
        store: Arc<dyn Store>,
        backend: Backend,
        token: Option<&str>,
        limits: Limits,
    ) -> Server {
        // No test downloads through this one: its providers are the public ones, never asked.
        let fetch =
            aibt_fetch::FetchConfig::with_cache_dir(std::env::temp_dir().join("aibt-unused-cache"));
        Server::start_fetching(store, backend, token, limits, fetch).await
    }

    /// A server whose downloads go to `fetch`'s providers (a test's fake ones).
    pub async fn start_fetching(
        store: Arc<dyn Store>,
        backend: Backend,
        token: Option<&str>,
        limits: Limits,
        fetch: aibt_fetch::FetchConfig,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let handle = WorkerHandle::new();
        let state = AppState {
            store: store.clone(),
            worker: handle.clone(),
            api_token: token.map(Arc::from),
            sign_ins: Default::default(),
            fetcher: Arc::new(aibt_fetch::Fetcher::new(fetch).expect("fetcher")),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let router = aibt_server::router(state, limits);
        let mut serve_stop = stopped.clone();
        tokio::spawn(aibt_server::serve(listener, router, async move {
            let _ = serve_stop.wait_for(|s| *s).await;
        }));
        let mut options = WorkerOptions::new(format!("test-worker-{}", address.port()));
        options.poll = Duration::from_millis(50);
        let mut worker_stop = stopped.clone();
        tokio::spawn(run_worker(store.clone(), options, handle, async move {
            let _ = worker_stop.wait_for(|s| *s).await;
        }));
        Server {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            store,
            token: token.map(str::to_string),
            stop: Some(stop),
            _backend: backend,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.request(Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// POSTs a JSON body that declares `declared` bytes but sends only `sent` of them, then
    /// reads the answer: how a server refuses a body over its limit before reading it whole.
    /// (Sending the whole of it races the refusal: the server closes the connection with
    /// unread bytes in it, which resets it under the client before the answer is read.)
    pub async fn post_oversized(&self, path: &str, declared: usize, sent: usize) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let auth = self
            .token
            .as_ref()
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {declared}\r\n{auth}Connection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        let mut body = b"{\"stock_symbol\": \"".to_vec();
        body.resize(sent, b'x');
        stream.write_all(&body).await.expect("body");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer");
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let json = text
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    /// Polls a task until it reaches one of `statuses`.
    pub async fn wait_for(&self, task_id: &str, statuses: &[&str]) -> Value {
        for _ in 0..600 {
            let task = self.get(&format!("/api/v1/tasks/{task_id}")).await;
            let status = task.body["status"].as_str().unwrap_or_default().to_string();
            if statuses.contains(&status.as_str()) {
                return task.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("task {task_id} never reached {statuses:?}");
    }
}

pub fn sample_csv(file: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../aibt-data/sample/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample")
}

/// Imports the sample GOOG daily bars.
pub async fn import_goog(server: &Server) {
    server
        .post_raw(
            "/api/v1/market-data/import?symbol=GOOG&market_type=US&time_granularity=daily",
            "text/csv",
            sample_csv("GOOG_1d.csv"),
        )
        .await
        .ok(201);
}

/// A US user account with `cash` and a commission of 0.1 %; its id.
pub async fn new_account(server: &Server, cash: &str) -> String {
    let account = server
        .post(
            "/api/v1/accounts",
            json!({"market_type": "US", "initial_balance": cash, "commission_rate_buy": "0.001", "commission_rate_sell": "0.001"}),
        )
        .await;
    account.ok(201)["account_id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// A valid template that reads the close and the RSI, as the template and model-task suites
/// create it.
pub const RSI_TEMPLATE: &str =
    "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\nDecide.";
