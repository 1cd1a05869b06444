//! Renewing a run's lease while it waits (on a slow model call, say), so that no other worker
//! takes over a task that is alive; and noticing when the lease was lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aibt_store::Store;

use super::RunConfig;

/// Renews the lease every third of its length until dropped.
pub(super) struct Heartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    pub(super) fn start(store: Arc<dyn Store>, task_id: String, config: &RunConfig) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let worker = config.worker_id.clone();
        let lease = config.lease;
        let every = lease.to_std().unwrap_or(Duration::from_secs(30)) / 3;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store
                    .renew_lease(&task_id, &worker, aibt_core::time::now() + lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A transient database error: try again next beat.
                    Err(_) => {}
                }
            }
        });
        Heartbeat { lost, task }
    }

    /// Whether another worker took the lease (or the task stopped being RUNNING here).
    pub(super) fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
