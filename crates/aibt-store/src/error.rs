//! The errors every backend reports the same way, and the wording of each, so that SQLite and
//! PostgreSQL tell a person the same thing.

use aibt_core::TaskStatus;
use chrono::{DateTime, Utc};

/// Failures of a store operation, phrased for the person who has to act on them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id:?} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// A stored value that does not parse back (written by hand or by another program).
    #[error("{table}.{column} holds {value:?}, which aibt cannot read: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "database schema version {found} is newer than this aibt understands ({supported}); upgrade aibt"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("{0} is not supported by this backend")]
    Unsupported(&'static str),
    /// A request value the store cannot use (a malformed cursor, say).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("database error: {0}")]
    Database(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// An insert whose key (or unique name) is taken.
    pub fn exists(entity: &'static str, id: &str) -> StoreError {
        StoreError::Conflict(format!("{entity} {id:?} already exists"))
    }

    /// A delete refused because tasks still refer to the row.
    pub fn in_use(what: &str, id: &str, tasks: i64) -> StoreError {
        StoreError::Conflict(format!(
            "{what} {id:?} is used by {tasks} task(s); delete those tasks first"
        ))
    }

    /// AI configs are named on the command line, so a name belongs to one config.
    pub fn name_taken(name: &str) -> StoreError {
        StoreError::Conflict(format!("an AI config named {name:?} already exists"))
    }

    /// A status change whose expected status is no longer the task's.
    pub fn wrong_status(task_id: &str, found: TaskStatus, expected: TaskStatus) -> StoreError {
        StoreError::Conflict(format!("task {task_id} is {found}, not {expected}"))
    }

    /// A lifecycle change that found the task not as expected: another status, or (when
    /// fenced by `holder`) a lease that is no longer the holder's.
    pub fn refused_change(
        task_id: &str,
        found: TaskStatus,
        owner: Option<&str>,
        expected: TaskStatus,
        holder: Option<&str>,
    ) -> StoreError {
        match holder {
            Some(holder) if found == expected && owner != Some(holder) => {
                StoreError::Conflict(format!(
                    "task {task_id}'s lease is {}, not {holder}'s",
                    owner.map_or("nobody's".to_string(), |o| format!("{o}'s"))
                ))
            }
            _ => StoreError::wrong_status(task_id, found, expected),
        }
    }

    /// An import that would silently change a stored bar.
    pub fn bar_changed(series: impl std::fmt::Display, at: DateTime<Utc>) -> StoreError {
        StoreError::Conflict(format!(
            "series {series} already has a different bar at {}; nothing was imported \
             (re-import with --replace to overwrite stored bars)",
            aibt_core::time::format_timestamp(at)
        ))
    }

    /// A stored value that does not read back as its type.
    pub fn corrupt(
        table: &'static str,
        column: &'static str,
        value: impl Into<String>,
        reason: impl ToString,
    ) -> StoreError {
        StoreError::Corrupt {
            table,
            column,
            value: value.into(),
            reason: reason.to_string(),
        }
    }
}

/// The error of a batch whose predecessor did not commit.
pub fn predecessor_failed(task_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "the previous batch of task {task_id} did not commit, so this one was not written"
    ))
}
