//! A PostgreSQL database of a test's own on the machine's server, dropped when the test ends.
//! The server is `AIBT_TEST_POSTGRES`, by default `postgres://postgres@127.0.0.1:5432` (trust
//! auth). aibt creates the database itself on first connection, as it would in production.

use std::sync::atomic::{AtomicU64, Ordering};

/// The server the tests use.
pub fn server() -> String {
    std::env::var("AIBT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// A uniquely named database (process id, time, counter), dropped on drop.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// A new name; `prefix` tells which suite made it if one is left behind.
    pub fn new(prefix: &str) -> TestDatabase {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        TestDatabase {
            name: format!(
                "{prefix}_{}_{nanos:x}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// A plain connection to the database, for checks below aibt's own interface.
    pub async fn raw(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("raw connection");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = format!("{}/postgres", server());
        // Its own runtime on its own thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
