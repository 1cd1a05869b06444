//! Dated context: a file imported for a symbol, and what a decision may see of it. When an
//! item becomes visible is `aibt_core::context`'s one rule; this module applies it to a
//! task's prompts.

use aibt_core::context::visible_count;
use aibt_store::{ContextItem, Store};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{EngineError, Result};

/// Items a prompt shows at most: the latest visible ones.
pub const CONTEXT_ITEMS: usize = 10;

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContextImport {
    pub stock_symbol: String,
    /// Items stored (each replacing a stored item of its day).
    pub items: u64,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// The columns the items carry besides their date.
    pub columns: Vec<String>,
}

/// Reads a context file (CSV or Excel) and stores it for `symbol`, whole or not at all.
/// `file` names the file in errors, which give its line.
pub async fn import_context(
    store: &dyn Store,
    symbol: &str,
    file: &str,
    bytes: &[u8],
) -> Result<ContextImport> {
    let symbol = symbol.trim();
    if symbol.is_empty() {
        return Err(EngineError::invalid("stock_symbol", "must not be empty"));
    }
    let rows = aibt_data::parse_context(file, bytes)
        .map_err(|e| EngineError::invalid("file", e.to_string()))?;
    let now = aibt_core::time::now();
    let mut columns: Vec<String> = Vec::new();
    let items: Vec<ContextItem> = rows
        .into_iter()
        .map(|row| {
            for name in row.fields.keys() {
                if !columns.contains(name) {
                    columns.push(name.clone());
                }
            }
            ContextItem::new(
                symbol,
                row.date,
                row.published_at,
                Value::Object(row.fields),
                now,
            )
        })
        .collect();
    let stored = store.import_context(&items).await?;
    Ok(ContextImport {
        stock_symbol: symbol.to_string(),
        items: stored,
        first: items.first().map(|i| i.item_date).unwrap_or_default(),
        last: items.last().map(|i| i.item_date).unwrap_or_default(),
        columns,
    })
}

/// A task's context: its symbol's items up to its end, in the order they become visible.
#[derive(Debug, Clone, Default)]
pub struct ContextWindow {
    items: Vec<ContextItem>,
    visible_at: Vec<DateTime<Utc>>,
}

impl ContextWindow {
    /// The items of `symbol` visible by `until`.
    pub async fn load(store: &dyn Store, symbol: &str, until: DateTime<Utc>) -> Result<Self> {
        let items = store.context_items(symbol, Some(until)).await?;
        let visible_at = items.iter().map(|item| item.visible_at).collect();
        Ok(ContextWindow { items, visible_at })
    }

    /// What a decision on the bar at `bar_time` sees: the latest `count` visible items
    /// (a prompt shows [`CONTEXT_ITEMS`]), oldest first, each its columns with its `date`
    /// first (no date in blind mode, where dates would name the period).
    pub fn latest(&self, bar_time: DateTime<Utc>, blind: bool, count: usize) -> Vec<Value> {
        let visible = visible_count(&self.visible_at, bar_time);
        self.items[visible.saturating_sub(count)..visible]
            .iter()
            .map(|item| {
                let mut shown = Map::new();
                if !blind {
                    shown.insert("date".into(), Value::String(item.item_date.to_string()));
                }
                if let Value::Object(fields) = &item.data {
                    for (name, value) in fields {
                        shown.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
                Value::Object(shown)
            })
            .collect()
    }
}
