//! What both backends' migrations share: the numbered steps, the `schema_migrations` table
//! that records them, and the refusal of a database that a newer aibt has migrated.

use std::fmt::Display;

use super::dialect::Dialect;
use crate::error::{Result, StoreError};

/// One numbered schema change, embedded from a backend's `migrations/*.sql`. A released
/// migration is never edited: a change to the schema is a new file.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The newest version of `migrations` (listed oldest first).
    pub const fn latest(migrations: &[Migration]) -> i64 {
        match migrations.last() {
            Some(last) => last.version as i64,
            None => 0,
        }
    }

    /// The migrations a database at version `current` still needs, oldest first; a database
    /// newer than every one of them is refused, since this aibt cannot know its schema.
    pub fn pending(
        migrations: &'static [Migration],
        current: i64,
    ) -> Result<impl Iterator<Item = &'static Migration>> {
        let latest = Migration::latest(migrations);
        if current > latest {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: latest,
            });
        }
        Ok(migrations
            .iter()
            .filter(move |m| i64::from(m.version) > current))
    }

    /// The error of a migration whose SQL failed.
    pub fn failed(&self, error: impl Display) -> StoreError {
        StoreError::Database(format!(
            "migration {} ({}) failed: {error}",
            self.version, self.name
        ))
    }

    /// Records an applied migration: `(version, name)`.
    pub fn record(dialect: Dialect) -> String {
        let m = dialect.marker();
        format!("INSERT INTO schema_migrations (version, name) VALUES ({m}1, {m}2)")
    }
}

/// The newest migration applied (0 for an empty `schema_migrations`).
pub const CURRENT_VERSION: &str = "SELECT coalesce(max(version), 0) FROM schema_migrations";
