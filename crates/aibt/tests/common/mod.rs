//! Running the real `aibt` binary against a temporary database, as a user would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub database_url: String,
}

impl Env {
    /// A fresh directory with its own SQLite database.
    pub fn sqlite() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}", dir.path().join("aibt.db").display());
        Env { dir, database_url }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write file");
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aibt"));
        command
            .args(args)
            .env("AIBT_DATABASE_URL", &self.database_url)
            // API keys are sealed with a key of this directory, not the user's.
            .env("AIBT_SECRET_KEY_FILE", self.path("secret.key"))
            .env_remove("AIBT_SECRET_KEY")
            .current_dir(self.dir.path());
        command
    }

    /// Runs `aibt ARGS` in the temp directory with this database.
    pub fn aibt(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("run aibt"))
    }

    /// Runs `aibt ARGS` with `input` on its standard input.
    pub fn aibt_with_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run aibt");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        Run(child.wait_with_output().expect("wait"))
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    pub fn success(self) -> Run {
        assert!(
            self.0.status.success(),
            "aibt failed ({}):\nstdout: {}\nstderr: {}",
            self.0.status,
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn failure(self) -> Run {
        assert!(
            !self.0.status.success(),
            "aibt unexpectedly succeeded:\nstdout: {}",
            self.stdout()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout()))
    }
}

/// The sample data directory of the repository.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aibt-data/sample")
}

/// A PostgreSQL database of its own (created by aibt on first use), dropped on drop.
/// `AIBT_TEST_POSTGRES` names the server.
pub struct PostgresDatabase {
    name: String,
}

fn postgres_server() -> String {
    std::env::var("AIBT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

impl PostgresDatabase {
    pub fn new() -> PostgresDatabase {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        PostgresDatabase {
            name: format!(
                "aibt_cli_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", postgres_server(), self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = format!("{}/postgres", postgres_server());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
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
