//! What a call to a model waits for before it goes out: an AI config allows at most
//! `max_concurrency` calls in flight. [`LocalGate`] holds that within one process; a gate
//! shared by every process on one database (the engine's, over the store) holds it across
//! workers. A call holds its pass only while its request is in flight, not while it backs off.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use tokio::sync::Semaphore;

/// Held while a call is in flight; dropping it lets the next call go.
pub type Pass = Box<dyn Send + Sync>;

/// Why a call cannot be let through at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GateError(pub String);

/// Admits calls to one model.
#[async_trait]
pub trait CallGate: Send + Sync {
    /// Waits until a call may go out.
    async fn enter(&self) -> Result<Pass, GateError>;
}

/// One semaphore per AI config, shared by every task of the process that uses the config.
static LIMITERS: LazyLock<Mutex<HashMap<String, Arc<Semaphore>>>> = LazyLock::new(Default::default);

/// The process's semaphore for `key` (an AI config id), created with `permits` on first use.
pub fn limiter_for(key: &str, permits: usize) -> Arc<Semaphore> {
    let mut limiters = match LIMITERS.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    limiters
        .entry(key.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(permits.max(1))))
        .clone()
}

/// The limit within this process only.
pub struct LocalGate(pub Arc<Semaphore>);

impl LocalGate {
    /// The gate of an AI config in this process.
    pub fn of(key: &str, permits: usize) -> Arc<dyn CallGate> {
        Arc::new(LocalGate(limiter_for(key, permits)))
    }
}

#[async_trait]
impl CallGate for LocalGate {
    async fn enter(&self) -> Result<Pass, GateError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GateError("the call limiter was closed".into()))?;
        Ok(Box::new(permit))
    }
}
