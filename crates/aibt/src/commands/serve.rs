//! `aibt serve` and `aibt worker`: the long-running processes.

use std::sync::Arc;

use aibt_engine::worker::{WorkerHandle, WorkerOptions, run_worker};
use aibt_server::{AppState, Limits};
use aibt_store::Store;
use anyhow::{Context, Result};
use tokio::sync::watch;

use crate::cli::{ServeArgs, WorkerArgs};

/// Logs to stderr; `RUST_LOG` (e.g. `aibt=debug,info`) chooses what.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves once Ctrl-C or SIGTERM arrives.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down");
        let _ = sender.send(true);
    });
    receiver
}

async fn until_true(mut receiver: watch::Receiver<bool>) {
    let _ = receiver.wait_for(|stop| *stop).await;
}

fn worker_options(args: &WorkerArgs) -> WorkerOptions {
    let id = args.worker_id.clone().unwrap_or_else(|| {
        let host = hostname();
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}-{}-{}", std::process::id(), &random[..8])
    });
    let mut options = WorkerOptions::new(id);
    if let Some(slots) = args.cpu_slots {
        options.cpu_slots = slots.max(1);
    }
    options.model_slots = args.model_slots.max(1);
    options.poll = std::time::Duration::from_millis(args.poll_ms.max(10));
    options.run.lease = chrono::Duration::seconds(args.lease_seconds.max(1));
    options
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

pub async fn serve(store: Arc<dyn Store>, args: ServeArgs) -> Result<()> {
    init_logging();
    let token = args
        .api_token
        .filter(|t| !t.trim().is_empty())
        .map(|t| Arc::<str>::from(t.trim()));
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("--addr: cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() && token.is_none() {
        tracing::warn!(
            %local,
            "listening beyond this machine without an API token: anyone who can reach it can run tasks (set AIBT_API_TOKEN)"
        );
    }
    let handle = WorkerHandle::new();
    let state = AppState {
        store: store.clone(),
        worker: handle.clone(),
        api_token: token,
        sign_ins: Default::default(),
        fetcher: Arc::new(aibt_fetch::Fetcher::new(args.providers.config())?),
    };
    let router = aibt_server::router(state, Limits::default());
    let stop = shutdown_signal();
    let worker = (!args.no_worker).then(|| {
        let options = worker_options(&args.worker);
        let stop = stop.clone();
        tokio::spawn(run_worker(store.clone(), options, handle, until_true(stop)))
    });
    // The address on stdout (and only it), so that scripts can read the port of --addr :0.
    println!("http://{local}");
    tracing::info!(%local, "aibt serving: the API under /api/v1, its description at /api/docs");
    aibt_server::serve(listener, router, until_true(stop))
        .await
        .context("serving HTTP")?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    Ok(())
}

pub async fn worker(store: Arc<dyn Store>, args: WorkerArgs) -> Result<()> {
    init_logging();
    let options = worker_options(&args);
    println!("{}", options.run.worker_id);
    run_worker(
        store,
        options,
        WorkerHandle::new(),
        until_true(shutdown_signal()),
    )
    .await;
    Ok(())
}
