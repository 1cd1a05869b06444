//! An AI config's limit of calls in flight across every process on the database. Each call
//! first takes a permit of the process's own semaphore (so a process never asks the database
//! for more slots than the limit), then one of the config's slots in the `ai_call_slots`
//! table; it deletes the slot when its answer is in. A slot's lease runs for the call's
//! timeout and a margin, so the slots of a worker killed mid-call free themselves.

use std::sync::Arc;
use std::time::Duration;

use aibt_ai::gate::{CallGate, GateError, Pass, limiter_for};
use aibt_store::{AiConfig, Store};
use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a slot outlives its call's timeout before another process may take it: the call
/// itself cannot last longer than its timeout, so this covers only a slow release and clocks
/// a little apart.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Waits between tries for a slot while all are held: from the first to the longest.
const FIRST_WAIT: Duration = Duration::from_millis(20);
const LONGEST_WAIT: Duration = Duration::from_millis(500);

/// The limit of one AI config, shared through the store.
pub struct SharedGate {
    local: Arc<Semaphore>,
    store: Arc<dyn Store>,
    config_id: String,
    limit: u32,
    lease: Duration,
}

impl SharedGate {
    pub fn of(store: &Arc<dyn Store>, config: &AiConfig) -> Arc<dyn CallGate> {
        let limit = u32::try_from(config.max_concurrency.max(1)).unwrap_or(1);
        let timeout = Duration::from_secs(u64::try_from(config.timeout_seconds).unwrap_or(60));
        Arc::new(SharedGate {
            local: limiter_for(&config.config_id, limit as usize),
            store: store.clone(),
            config_id: config.config_id.clone(),
            limit,
            lease: timeout + LEASE_MARGIN,
        })
    }
}

/// A held slot: freed when the call ends (dropped), in the background.
struct SlotPass {
    permit: Option<OwnedSemaphorePermit>,
    store: Arc<dyn Store>,
    config_id: String,
    slot: u32,
    holder: String,
}

impl Drop for SlotPass {
    fn drop(&mut self) {
        let store = self.store.clone();
        let (config_id, slot, holder) = (
            std::mem::take(&mut self.config_id),
            self.slot,
            std::mem::take(&mut self.holder),
        );
        let permit = self.permit.take();
        // Outside a runtime (a process shutting down) the lease frees the slot instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.release_call_slot(&config_id, slot, &holder).await {
                    tracing::warn!(%config_id, slot, %error, "releasing a call slot; its lease will");
                }
                // The process's next call goes only once the slot is free in the database, so
                // it finds the slot there rather than waiting a poll for it.
                drop(permit);
            });
        }
    }
}

#[async_trait]
impl CallGate for SharedGate {
    async fn enter(&self) -> Result<Pass, GateError> {
        let permit = self
            .local
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GateError("the call limiter was closed".into()))?;
        // Unique to this call, so that a release frees only the slot this call claimed.
        let holder = format!("{}-{}", std::process::id(), aibt_store::new_id());
        let mut wait = FIRST_WAIT;
        loop {
            let now = aibt_core::time::now();
            let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            match self
                .store
                .claim_call_slot(&self.config_id, self.limit, &holder, now, until)
                .await
            {
                Ok(Some(slot)) => {
                    return Ok(Box::new(SlotPass {
                        permit: Some(permit),
                        store: self.store.clone(),
                        config_id: self.config_id.clone(),
                        slot,
                        holder,
                    }));
                }
                Ok(None) => {}
                // A busy or briefly unreachable database: try again, as for a held slot.
                Err(error) => {
                    tracing::warn!(config_id = %self.config_id, %error, "claiming a call slot");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }
}
