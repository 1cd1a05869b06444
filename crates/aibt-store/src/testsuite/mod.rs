//! One test suite for every backend: each backend's tests open a real, empty database and run
//! these functions against it, so SQLite and PostgreSQL are held to the same behaviour.

// Test support: a failed expectation here is a failed test, so it may panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod bars;
mod cache;
mod context;
mod experiments;
mod records;
mod samples;
mod schema;
mod snapshots;
mod tasks;
mod templates;

use crate::Store;

pub use accounts::*;
pub use bars::*;
pub use cache::*;
pub use context::*;
pub use experiments::*;
pub use records::*;
pub use samples::{sample_account, sample_run_account, sample_task, sample_trade};
pub use schema::*;
pub use snapshots::*;
pub use tasks::*;
pub use templates::*;

/// Runs every async case of the suite on one fresh database.
pub async fn run_all(store: &dyn Store) {
    every_table_round_trips_every_column(store).await;
    decimal_extremes_round_trip(store).await;
    commits_are_fenced_by_lease_and_status(store).await;
    a_repeated_batch_changes_nothing(store).await;
    claims_respect_leases(store).await;
    lists_page_with_cursors(store).await;
    deletes_keep_references_whole(store).await;
    a_task_is_deleted_only_outside_refused_statuses(store).await;
    bars_import_and_read_back(store).await;
    templates_and_configs_behave(store).await;
    cached_answers_round_trip(store).await;
    call_slots_hold_the_limit(store).await;
    context_items_round_trip_and_read_by_visibility(store).await;
    experiments_round_trip_every_column(store).await;
    an_experiment_is_created_whole_or_not_at_all(store).await;
    experiments_page_newest_first(store).await;
    an_experiment_status_changes_in_place(store).await;
    experiment_runs_list_in_grid_order(store).await;
    a_task_knows_its_experiment(store).await;
    deleting_a_task_removes_its_experiment_run(store).await;
    experiment_lookups_are_indexed(store).await;
    assert_eq!(
        store.schema_version().await.expect("version"),
        store.check().await.expect("check").latest_version
    );
}
