//! A task's records as JSON or CSV, written page by page so that a million snapshots never sit
//! in memory at once; and its equity curve, thinned for a chart. The CLI writes exports to a
//! file or standard output, the HTTP API streams them.

use aibt_core::Money;
use aibt_store::{RecordQuery, Store, Task};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{EngineError, Result};

/// Which records of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Records {
    Decisions,
    Trades,
    Snapshots,
}

impl Records {
    pub fn name(self) -> &'static str {
        match self {
            Records::Decisions => "decisions",
            Records::Trades => "trades",
            Records::Snapshots => "snapshots",
        }
    }
}

/// Where an export goes, a chunk at a time.
pub trait Sink {
    fn write(&mut self, chunk: Vec<u8>) -> impl std::future::Future<Output = Result<()>> + Send;
}

const PAGE: u32 = 2000;

/// Reads every record of one kind, in order, a page at a time.
struct Pager<'a> {
    store: &'a dyn Store,
    task_id: &'a str,
    records: Records,
    cursor: Option<String>,
    done: bool,
}

impl<'a> Pager<'a> {
    fn new(store: &'a dyn Store, task_id: &'a str, records: Records) -> Pager<'a> {
        Pager {
            store,
            task_id,
            records,
            cursor: None,
            done: false,
        }
    }

    /// The next page, or `None` after the last.
    async fn next(&mut self) -> Result<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        let query = RecordQuery {
            limit: PAGE,
            cursor: self.cursor.clone(),
            ..RecordQuery::default()
        };
        let (rows, next) = match self.records {
            Records::Decisions => {
                let page = self.store.list_decisions(self.task_id, &query).await?;
                (to_values(&page.items)?, page.next_cursor)
            }
            Records::Trades => {
                let page = self.store.list_trades(self.task_id, &query).await?;
                (to_values(&page.items)?, page.next_cursor)
            }
            Records::Snapshots => {
                let page = self.store.list_snapshots(self.task_id, &query).await?;
                (to_values(&page.items)?, page.next_cursor)
            }
        };
        self.done = next.is_none();
        self.cursor = next;
        Ok(Some(rows))
    }
}

fn to_values<T: Serialize>(rows: &[T]) -> Result<Vec<Value>> {
    rows.iter()
        .map(|row| serde_json::to_value(row).map_err(encoding))
        .collect()
}

fn encoding(error: impl std::fmt::Display) -> EngineError {
    EngineError::Run {
        task_id: String::new(),
        reason: format!("encoding an export: {error}"),
    }
}

/// `{"task": {...}, "decisions": [...], "trades": [...], "snapshots": [...]}`, or only the
/// kind `only` names.
pub async fn export_json(
    store: &dyn Store,
    task: &Task,
    only: Option<Records>,
    sink: &mut impl Sink,
) -> Result<()> {
    let head = format!(
        "{{\"task\":{}",
        serde_json::to_string(task).map_err(encoding)?
    );
    sink.write(head.into_bytes()).await?;
    let kinds = match only {
        Some(kind) => vec![kind],
        None => vec![Records::Decisions, Records::Trades, Records::Snapshots],
    };
    for kind in kinds {
        sink.write(format!(",\"{}\":[", kind.name()).into_bytes())
            .await?;
        let mut first = true;
        let mut pager = Pager::new(store, &task.task_id, kind);
        while let Some(rows) = pager.next().await? {
            let mut chunk = Vec::with_capacity(rows.len() * 512);
            for row in rows {
                if !first {
                    chunk.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut chunk, &row).map_err(encoding)?;
            }
            sink.write(chunk).await?;
        }
        sink.write(b"]".to_vec()).await?;
    }
    sink.write(b"}\n".to_vec()).await
}

/// One kind of record as CSV: a header of the column names, then a line per record. JSON
/// columns (lots, market data, parsed decisions) are written as their JSON text.
pub async fn export_csv(
    store: &dyn Store,
    task: &Task,
    records: Records,
    sink: &mut impl Sink,
) -> Result<()> {
    let mut header_written = false;
    let mut pager = Pager::new(store, &task.task_id, records);
    while let Some(rows) = pager.next().await? {
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
        for row in rows {
            let Value::Object(map) = row else {
                return Err(encoding("a record is not an object"));
            };
            if !header_written {
                writer
                    .write_record(map.keys().map(String::as_str))
                    .map_err(encoding)?;
                header_written = true;
            }
            writer
                .write_record(map.values().map(cell))
                .map_err(encoding)?;
        }
        let chunk = writer.into_inner().map_err(encoding)?;
        sink.write(chunk).await?;
    }
    Ok(())
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One point of an equity curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EquityPoint {
    pub timestamp: DateTime<Utc>,
    pub total_value: Money,
    /// The close of the bar, for a buy-and-hold line.
    pub stock_price: Money,
}

/// The equity curve of a task, at most `max_points` points: every bar of a short task, an even
/// thinning of a long one (the last bar always kept).
pub async fn equity_curve(
    store: &dyn Store,
    task_id: &str,
    max_points: usize,
) -> Result<Vec<EquityPoint>> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_snapshots(
                task_id,
                &RecordQuery {
                    limit: 10_000,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await?;
        all.extend(page.items.into_iter().map(|s| EquityPoint {
            timestamp: s.timestamp,
            total_value: s.total_value,
            stock_price: s.stock_price,
        }));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(thin(all, max_points.max(2)))
}

fn thin<T: Clone>(points: Vec<T>, max_points: usize) -> Vec<T> {
    if points.len() <= max_points {
        return points;
    }
    let stride = points.len().div_ceil(max_points - 1);
    let last_taken = (points.len() - 1).is_multiple_of(stride);
    let last = points.last().cloned();
    let mut out: Vec<T> = points.into_iter().step_by(stride).collect();
    if !last_taken {
        out.extend(last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thin;

    #[test]
    fn thinning_keeps_the_ends_and_the_bound() {
        let points: Vec<u32> = (0..1000).collect();
        let thinned = thin(points, 100);
        assert!(thinned.len() <= 101, "{}", thinned.len());
        assert_eq!(thinned.first(), Some(&0));
        assert_eq!(thinned.last(), Some(&999));
        assert_eq!(thin(vec![1, 2, 3], 100), vec![1, 2, 3]);
        // The last point once, also when the stride lands on it.
        assert_eq!(thin((0..7).collect(), 4), vec![0, 3, 6]);
    }
}
