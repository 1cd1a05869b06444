//! Opening the database file: one writer connection behind a mutex, a pool of reader
//! connections, and a checkpointer thread, each configured for WAL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aibt_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::codec::db_error;
use crate::migrations;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Checkpointer,
}

/// Copies committed pages from the write-ahead log into the database file on a thread of its
/// own, so the writer never does it on its commit path (a long backtest commits hundreds of
/// megabytes). PASSIVE checkpoints wait for nobody and block nobody; the writer's own
/// auto-checkpoint stays as a backstop at 1 GiB of log.
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
}

impl Checkpointer {
    fn start(path: PathBuf) -> Checkpointer {
        let (wake, requests) = std::sync::mpsc::sync_channel::<()>(1);
        let spawned = std::thread::Builder::new()
            .name("aibt-sqlite-checkpoint".into())
            .spawn(move || {
                let Ok(connection) = open_connection(&path, Role::Checkpointer) else {
                    return;
                };
                // Ends when the store is dropped (its sender with it).
                while requests.recv().is_ok() {
                    let _ = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            });
        if spawned.is_err() {
            // Without the thread the writer's auto-checkpoint still bounds the log.
        }
        Checkpointer { wake }
    }

    /// Asks for a checkpoint; a request already pending covers this one.
    fn nudge(&self) {
        let _ = self.wake.try_send(());
    }
}

/// A store on one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// The file a `sqlite://` URL names: `sqlite://relative.db`, `sqlite:///absolute.db` or
/// `sqlite:relative.db`.
pub fn path_from_url(url: &str) -> Result<PathBuf> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| invalid("expected sqlite://FILE"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(invalid("no file name after sqlite://"));
    }
    Ok(PathBuf::from(path))
}

/// Turns off SQLite's memory statistics before its first use: they take a process-wide mutex
/// on every allocation, and aibt never reads them.
fn configure_sqlite_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config may only run before SQLite initialises, which the Once
        // guarantees (every connection is opened after it); the option takes one int.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            );
        }
    });
}

/// What a connection is for; the writer gets the large page cache, since its appends revisit
/// the right edge of every index on every commit, while readers mostly stream.
#[derive(Clone, Copy)]
enum Role {
    Writer,
    Reader,
    Checkpointer,
}

fn open_connection(path: &Path, role: Role) -> Result<Connection> {
    configure_sqlite_once();
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Database(format!("opening {}: {e}", path.display())))?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
    // WAL keeps readers and the writer out of each other's way. NORMAL synchronisation in WAL
    // mode loses nothing when a process is killed; only a power cut can drop the last commits.
    // A new file gets 16 KiB pages: a snapshot row is about half a kilobyte, and fewer,
    // larger pages mean fewer B-tree splits on the append-heavy tables (ignored once the
    // file has tables).
    connection
        .execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = OFF;
             PRAGMA temp_store = MEMORY;
             PRAGMA wal_autocheckpoint = 65536;",
        )
        .map_err(db_error)?;
    let cache_kib = match role {
        Role::Writer => 32 * 1024,
        Role::Reader => 4 * 1024,
        Role::Checkpointer => 1024,
    };
    connection
        .execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))
        .map_err(db_error)?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// The size of a file in bytes, 0 when it cannot be read.
pub(crate) fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Creates `path` empty and readable by its owner only, unless it exists. SQLite gives the
/// `-wal` and `-shm` files it creates beside a database the database file's own permissions,
/// so creating the database this way keeps all three private (the seed's §9.2: only the
/// application's user may read the file). An existing file keeps the mode its owner chose.
pub(crate) fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!(
            "creating {}: {e}",
            path.display()
        ))),
    }
}

impl SqliteStore {
    /// Opens (creating if absent) the database of a `sqlite://` URL and migrates it.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let path = path_from_url(url)?;
        Self::open(path).await
    }

    /// Opens (creating if absent) a database file and migrates it.
    pub async fn open(path: impl Into<PathBuf>) -> Result<SqliteStore> {
        let path = path.into();
        tokio::task::spawn_blocking(move || {
            create_private(&path)?;
            let mut writer = open_connection(&path, Role::Writer)?;
            migrations::migrate(&mut writer)?;
            let checkpointer = Checkpointer::start(path.clone());
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    path,
                    writer: Mutex::new(writer),
                    readers: Mutex::new(Vec::new()),
                    checkpointer,
                }),
            })
        })
        .await
        .map_err(|e| StoreError::Database(format!("opening the database: {e}")))?
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Copies the whole write-ahead log into the database and truncates it to nothing, so a
    /// finished command leaves no log behind (a long run's log reaches hundreds of megabytes
    /// when readers kept the passive checkpoints from finishing). Waits for readers of other
    /// processes for up to the busy timeout; a log still in use stays as it is.
    pub async fn checkpoint_and_truncate(&self) -> Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let connection = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Database("the writer connection is poisoned".into()))?;
            // The checkpointer thread's own passive checkpoint may hold the log for a moment
            // (the answer's first column is then 1, "busy"): try again briefly.
            for _ in 0..100 {
                let busy: i64 = connection
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
                    .map_err(db_error)?;
                if busy == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Runs `work` in one IMMEDIATE transaction on the writer connection.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Database("the writer connection is poisoned".into()))?;
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let value = work(&transaction)?;
            transaction.commit().map_err(db_error)?;
            inner.checkpointer.nudge();
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Runs `work` on the writer connection outside any transaction (what `VACUUM` needs).
    pub(crate) async fn without_transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let connection = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Database("the writer connection is poisoned".into()))?;
            work(&connection)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Runs `work` on a reader connection (WAL: it sees the last committed state).
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map_err(|_| StoreError::Database("the reader pool is poisoned".into()))?
                .pop();
            let connection = match pooled {
                Some(connection) => connection,
                None => open_connection(&inner.path, Role::Reader)?,
            };
            let value = work(&connection);
            if let Ok(mut idle) = inner.readers.lock()
                && idle.len() < MAX_IDLE_READERS
            {
                idle.push(connection);
            }
            value
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }
}
