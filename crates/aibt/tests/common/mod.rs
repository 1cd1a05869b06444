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

/// `aibt serve` as its own process on a free port of 127.0.0.1, with its worker or without
/// (`--no-worker`: tasks it starts stay RUNNING for other processes); killed on drop, as a
/// crash would kill it.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base: String,
}

impl Served {
    pub fn start(database_url: &str, dir: &Path, worker: bool) -> Served {
        use std::io::BufRead;
        let mut args = vec!["serve", "--addr", "127.0.0.1:0"];
        if !worker {
            args.push("--no-worker");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_aibt"))
            .args(&args)
            .env("AIBT_DATABASE_URL", database_url)
            .env("AIBT_SECRET_KEY_FILE", dir.join("secret.key"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("aibt serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server's address");
        Served {
            child,
            base: line.trim().to_string(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sample data directory of the repository.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aibt-data/sample")
}
