//! What pages list for a person to choose from: the user's accounts, and the series (the
//! stored ones, then the bundled samples, imported the first time one is chosen).

use aibt_store::{AccountQuery, SeriesInfo, SeriesKey, VirtualAccount};

use super::form::series_value;
use super::i18n::Tr;
use crate::AppState;
use crate::error::ApiError;

/// An `<option>`.
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The user's accounts (not the run accounts of tasks), as many as a page lists.
pub async fn user_accounts(state: &AppState) -> Result<Vec<VirtualAccount>, ApiError> {
    let page = state
        .store
        .list_accounts(&AccountQuery {
            include_task_accounts: false,
            limit: 500,
            cursor: None,
        })
        .await?;
    Ok(page.items)
}

/// The stored series, then the bundled samples not yet stored (imported when chosen).
pub async fn series_choices(state: &AppState, tr: Tr) -> Result<Vec<Choice>, ApiError> {
    let stored: Vec<SeriesInfo> = state.store.list_series().await?;
    let mut choices: Vec<Choice> = stored
        .iter()
        .map(|s| Choice {
            value: series_value(&s.key),
            label: format!(
                "{} · {} · {} ({} {})",
                s.key.symbol,
                s.key.market_type,
                s.key.granularity,
                s.bars,
                tr.t("field.bars")
            ),
        })
        .collect();
    for sample in aibt_data::SAMPLES {
        let key = SeriesKey {
            symbol: sample.symbol.to_string(),
            market_type: sample.market_type,
            granularity: sample.granularity,
        };
        if !stored.iter().any(|s| s.key == key) {
            choices.push(Choice {
                value: series_value(&key),
                label: format!(
                    "{} · {} · {} ({})",
                    key.symbol,
                    key.market_type,
                    key.granularity,
                    tr.t("new.sample")
                ),
            });
        }
    }
    Ok(choices)
}

/// Imports a bundled sample the first time it is chosen.
pub async fn ensure_series(state: &AppState, key: &SeriesKey) -> Result<(), ApiError> {
    aibt_engine::series::ensure_series(
        state.store.as_ref(),
        &key.symbol,
        Some(key.market_type),
        key.granularity,
        None,
    )
    .await?;
    Ok(())
}
