//! Snapshots in their compact form (migration 9, `migrations/0009_compact_snapshots.sql`):
//! the seed's `account_snapshots` is a view over `snapshot_prefixes`, `snapshot_series`,
//! `snapshot_lots` and `snapshot_steps`. A run writes its steps here directly, as integer
//! mantissas and references to what repeats; everything reads the seed's columns back through
//! the `snapshot_rows` view, whose SQL is the only decoder.

use std::collections::HashMap;

use aibt_store::paging::{clamp_limit, into_page};
use aibt_store::sql::{SNAPSHOTS, TASKS, TableRow};
use aibt_store::{AccountSnapshot, Page, RecordQuery, Result, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::bulk::BulkInsert;
use crate::codec::{self, Reader, db_error, insert_error, mantissa_value};

/// Digits of the bar number at the end of a run's snapshot id, `<task id>-s<bar>`.
const BAR_DIGITS: usize = 9;

/// An id's stored parts: a run's id is its prefix (`<task id>-s`) and its bar number; any
/// other id is all prefix, with step -1. The migration's triggers split with the same rule
/// (`GLOB '*-s[0-9]…'` of nine digits), so both writers store one id the same way.
pub(crate) fn split_id(id: &str) -> (&str, i64) {
    let bytes = id.as_bytes();
    if bytes.len() >= BAR_DIGITS + 2 {
        let at = bytes.len() - BAR_DIGITS;
        let digits = &bytes[at..];
        if &bytes[at - 2..at] == b"-s" && digits.iter().all(u8::is_ascii_digit) {
            let step = digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return (&id[..at], step);
        }
    }
    (id, -1)
}

/// The columns a run repeats in every snapshot, stored once in `snapshot_series`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    task_id: Option<String>,
    account_id: String,
    market_type: &'static str,
    /// The mantissa at 8 places, as `initial_balance` is stored (its fixed text).
    initial_balance: i128,
    stock_symbol: String,
}

impl SeriesKey {
    fn of(s: &AccountSnapshot) -> SeriesKey {
        SeriesKey {
            task_id: s.task_id.clone(),
            account_id: s.account_id.clone(),
            market_type: s.market_type.as_str(),
            initial_balance: s.initial_balance.mantissa(),
            stock_symbol: s.stock_symbol.clone(),
        }
    }

    /// Whether `s` belongs to this series; compared field by field, so that a run's every
    /// snapshot allocates nothing to find its series.
    fn is_of(&self, s: &AccountSnapshot) -> bool {
        self.task_id.as_deref() == s.task_id.as_deref()
            && self.account_id == s.account_id
            && self.market_type == s.market_type.as_str()
            && self.stock_symbol == s.stock_symbol
            && self.initial_balance == s.initial_balance.mantissa()
    }
}

/// One snapshot rendered to what `snapshot_steps` binds; the keys index the batch's lists.
struct Step {
    prefix: usize,
    step: i64,
    series: usize,
    timestamp: Box<str>,
    decimals: [Value; 13],
    position_side: &'static str,
    short_lots: Option<usize>,
    long_lots: Option<usize>,
}

/// A batch's snapshots rendered before the write transaction starts: the distinct prefixes,
/// series and lot lists once each, and the steps pointing at them.
#[derive(Default)]
pub(crate) struct EncodedSnapshots {
    prefixes: Vec<String>,
    series: Vec<SeriesKey>,
    /// Non-empty lot lists as JSON, with the series they belong to.
    lots: Vec<(usize, String)>,
    steps: Vec<Step>,
}

impl EncodedSnapshots {
    pub(crate) fn new(snapshots: &[AccountSnapshot]) -> Result<EncodedSnapshots> {
        let mut out = EncodedSnapshots {
            steps: Vec::with_capacity(snapshots.len()),
            ..EncodedSnapshots::default()
        };
        let mut fixed = aibt_core::decimal::FixedText::new();
        let mut time = codec::TimeText::new();
        // The lot lists change only with a trade: the last ones seen are compared first.
        let mut last_short: Option<(usize, Vec<aibt_core::Lot>, usize)> = None;
        let mut last_long: Option<(usize, Vec<aibt_core::Lot>, usize)> = None;
        let mut lot_index: HashMap<(usize, String), usize> = HashMap::new();
        for s in snapshots {
            let (prefix_text, step) = split_id(&s.snapshot_id);
            let prefix = index_of(
                &mut out.prefixes,
                |p| p == prefix_text,
                || prefix_text.to_string(),
            );
            let series = index_of(&mut out.series, |k| k.is_of(s), || SeriesKey::of(s));
            let short_lots =
                out.lot_ref(&mut last_short, &mut lot_index, series, &s.short_positions)?;
            let long_lots =
                out.lot_ref(&mut last_long, &mut lot_index, series, &s.long_positions)?;
            let decimals = [
                mantissa_value(s.balance.mantissa(), 8, &mut fixed),
                mantissa_value(s.stock_quantity.mantissa(), 8, &mut fixed),
                mantissa_value(s.stock_price.mantissa(), 8, &mut fixed),
                mantissa_value(s.stock_market_value.mantissa(), 8, &mut fixed),
                mantissa_value(s.total_value.mantissa(), 8, &mut fixed),
                mantissa_value(s.profit_loss.mantissa(), 8, &mut fixed),
                mantissa_value(s.profit_loss_percent.mantissa(), 6, &mut fixed),
                mantissa_value(s.margin_used.mantissa(), 8, &mut fixed),
                mantissa_value(s.current_balance.mantissa(), 8, &mut fixed),
                mantissa_value(s.short_avg_price.mantissa(), 8, &mut fixed),
                mantissa_value(s.short_total_cost.mantissa(), 8, &mut fixed),
                mantissa_value(s.available_balance.mantissa(), 8, &mut fixed),
                mantissa_value(s.total_fees.mantissa(), 8, &mut fixed),
            ];
            out.steps.push(Step {
                prefix,
                step,
                series,
                timestamp: time.format(s.timestamp).into(),
                decimals,
                position_side: s.position_side.as_str(),
                short_lots,
                long_lots,
            });
        }
        Ok(out)
    }

    /// The batch's index of a lot list, `None` for an empty one (stored as NULL).
    fn lot_ref(
        &mut self,
        last: &mut Option<(usize, Vec<aibt_core::Lot>, usize)>,
        index: &mut HashMap<(usize, String), usize>,
        series: usize,
        lots: &[aibt_core::Lot],
    ) -> Result<Option<usize>> {
        if lots.is_empty() {
            return Ok(None);
        }
        if let Some((last_series, last_lots, at)) = last
            && *last_series == series
            && last_lots.as_slice() == lots
        {
            return Ok(Some(*at));
        }
        let json = codec::lots(lots)?;
        let at = *index.entry((series, json.clone())).or_insert_with(|| {
            self.lots.push((series, json));
            self.lots.len() - 1
        });
        *last = Some((series, lots.to_vec(), at));
        Ok(Some(at))
    }

    /// A step's snapshot id, put back together (for an error; the rows keep only its parts).
    fn id_of(&self, step: &Step) -> String {
        let prefix = &self.prefixes[step.prefix];
        if step.step < 0 {
            prefix.clone()
        } else {
            format!("{prefix}{:0width$}", step.step, width = BAR_DIGITS)
        }
    }

    /// Writes the steps in the caller's transaction; an id that is taken is a conflict.
    pub(crate) fn write(&self, tx: &Connection) -> Result<()> {
        if self.steps.is_empty() {
            return Ok(());
        }
        let prefixes = self
            .prefixes
            .iter()
            .map(|p| prefix_key(tx, p))
            .collect::<Result<Vec<i64>>>()?;
        let series = self
            .series
            .iter()
            .map(|s| series_key(tx, s))
            .collect::<Result<Vec<i64>>>()?;
        let lots = self
            .lots
            .iter()
            .map(|(s, json)| lots_key(tx, series[*s], json))
            .collect::<Result<Vec<i64>>>()?;
        STEPS.insert(
            tx,
            &self.steps,
            |insert, at, step| {
                insert.raw_bind_parameter(at, prefixes[step.prefix])?;
                insert.raw_bind_parameter(at + 1, step.step)?;
                insert.raw_bind_parameter(at + 2, series[step.series])?;
                insert.raw_bind_parameter(at + 3, &*step.timestamp)?;
                for (i, decimal) in step.decimals.iter().enumerate() {
                    insert.raw_bind_parameter(at + 4 + i, decimal)?;
                }
                insert.raw_bind_parameter(at + 17, step.position_side)?;
                insert.raw_bind_parameter(at + 18, step.short_lots.map(|i| lots[i]))?;
                insert.raw_bind_parameter(at + 19, step.long_lots.map(|i| lots[i]))
            },
            |error, step| snapshot_conflict(error, &self.id_of(step)),
        )
    }
}

/// The position of the first element matching `same`, pushing `make()` when none does; a batch
/// holds one or two distinct values, so a scan beats hashing.
fn index_of<T>(list: &mut Vec<T>, same: impl Fn(&T) -> bool, make: impl FnOnce() -> T) -> usize {
    match list.iter().position(same) {
        Some(at) => at,
        None => {
            list.push(make());
            list.len() - 1
        }
    }
}

const STEPS: BulkInsert<'static> = BulkInsert {
    table: "snapshot_steps",
    columns: &[
        "prefix",
        "step",
        "series",
        "timestamp",
        "balance",
        "stock_quantity",
        "stock_price",
        "stock_market_value",
        "total_value",
        "profit_loss",
        "profit_loss_percent",
        "margin_used",
        "current_balance",
        "short_avg_price",
        "short_total_cost",
        "available_balance",
        "total_fees",
        "position_side",
        "short_positions",
        "long_positions",
    ],
};

/// A taken `(prefix, step)` is a taken snapshot id.
fn snapshot_conflict(error: rusqlite::Error, snapshot_id: &str) -> StoreError {
    insert_error("snapshot", snapshot_id)(error)
}

fn prefix_key(tx: &Connection, id_prefix: &str) -> Result<i64> {
    tx.prepare_cached("INSERT OR IGNORE INTO snapshot_prefixes (id_prefix) VALUES (?1)")
        .map_err(db_error)?
        .execute(params![id_prefix])
        .map_err(db_error)?;
    tx.prepare_cached("SELECT prefix FROM snapshot_prefixes WHERE id_prefix = ?1")
        .map_err(db_error)?
        .query_row(params![id_prefix], |row| row.get(0))
        .map_err(db_error)
}

fn series_key(tx: &Connection, key: &SeriesKey) -> Result<i64> {
    let initial_balance = aibt_core::decimal::FixedText::new()
        .format(key.initial_balance, 8)
        .to_string();
    let values: [&dyn rusqlite::ToSql; 5] = [
        &key.task_id,
        &key.account_id,
        &key.market_type,
        &initial_balance,
        &key.stock_symbol,
    ];
    let found: Option<i64> = tx
        .prepare_cached(
            "SELECT series FROM snapshot_series WHERE task_id IS ?1 AND account_id = ?2 \
             AND market_type = ?3 AND initial_balance = ?4 AND stock_symbol = ?5 \
             ORDER BY series LIMIT 1",
        )
        .map_err(db_error)?
        .query_row(&values[..], |row| row.get(0))
        .optional()
        .map_err(db_error)?;
    if let Some(series) = found {
        return Ok(series);
    }
    tx.prepare_cached(
        "INSERT INTO snapshot_series (task_id, account_id, market_type, initial_balance, \
         stock_symbol) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING series",
    )
    .map_err(db_error)?
    .query_row(&values[..], |row| row.get(0))
    .map_err(db_error)
}

fn lots_key(tx: &Connection, series: i64, json: &str) -> Result<i64> {
    tx.prepare_cached("INSERT OR IGNORE INTO snapshot_lots (series, json) VALUES (?1, ?2)")
        .map_err(db_error)?
        .execute(params![series, json])
        .map_err(db_error)?;
    tx.prepare_cached("SELECT lots FROM snapshot_lots WHERE series = ?1 AND json = ?2")
        .map_err(db_error)?
        .query_row(params![series, json], |row| row.get(0))
        .map_err(db_error)
}

/// The seed's columns, in the order `AccountSnapshot`'s reader expects.
const SEED_COLUMNS: &str = "snapshot_id, task_id, account_id, balance, stock_quantity, \
     stock_price, stock_market_value, total_value, profit_loss, profit_loss_percent, timestamp, \
     margin_used, market_type, initial_balance, stock_symbol, current_balance, position_side, \
     short_avg_price, short_total_cost, short_positions, long_positions, available_balance, \
     total_fees";

/// A page of a task's snapshots: the ids between `<task id>-s` and `<task id>-s\x7f`, as the
/// other backend pages them, in the order of their stored parts (prefix, then bar number),
/// which is the order of the ids for every id a run writes. The cursor (the last id of the
/// previous page, or any text) is split as an id is; the rows after it on the cursor's own
/// prefix come first, then those of later prefixes in the task's range. Each part walks an
/// index from its starting point, so a page costs the same deep in ten million rows.
pub(crate) fn page(
    connection: &Connection,
    task_id: &str,
    query: &RecordQuery,
) -> Result<Page<AccountSnapshot>> {
    let prefix = format!("{task_id}-s");
    let lower = match &query.cursor {
        Some(cursor) if cursor.as_str() > prefix.as_str() => cursor.clone(),
        _ => prefix.clone(),
    };
    let upper = format!("{prefix}\u{7f}");
    let limit = clamp_limit(query.limit);
    let wanted = i64::from(limit) + 1;
    let (from, to) = (query.from.map(codec::ts), query.to.map(codec::ts));
    let window = "(?3 IS NULL OR timestamp >= ?3) AND (?4 IS NULL OR timestamp <= ?4)";
    let (cursor_prefix, cursor_step) = split_id(&lower);
    let mut rows = Vec::new();
    if cursor_prefix < upper.as_str() {
        let same_prefix = format!(
            "SELECT {SEED_COLUMNS} FROM snapshot_rows WHERE id_prefix = ?1 AND step > ?2 \
             AND {window} ORDER BY step LIMIT ?5"
        );
        read_rows(
            connection,
            &same_prefix,
            params![cursor_prefix, cursor_step, from, to, wanted],
            &mut rows,
        )?;
    }
    let remaining = wanted - rows.len() as i64;
    if remaining > 0 {
        let later_prefixes = format!(
            "SELECT {SEED_COLUMNS} FROM snapshot_rows WHERE id_prefix > ?1 AND id_prefix < ?2 \
             AND {window} ORDER BY id_prefix, step LIMIT ?5"
        );
        read_rows(
            connection,
            &later_prefixes,
            params![cursor_prefix, upper, from, to, remaining],
            &mut rows,
        )?;
    }
    Ok(into_page(rows, limit, |s: &AccountSnapshot| {
        s.snapshot_id.clone()
    }))
}

fn read_rows(
    connection: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    out: &mut Vec<AccountSnapshot>,
) -> Result<()> {
    let mut statement = connection.prepare_cached(sql).map_err(db_error)?;
    let mut rows = statement.query(params).map_err(db_error)?;
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(AccountSnapshot::read(&Reader {
            row,
            table: &SNAPSHOTS,
        })?);
    }
    Ok(())
}

/// Deletes at most `limit` snapshots of a task that is gone, newest first; once none is left,
/// its series and lot lists and any prefix no step uses go too. The number of snapshots
/// deleted.
pub(crate) fn purge(tx: &Connection, task_id: &str, limit: u32) -> Result<usize> {
    let gone = format!(
        "NOT EXISTS (SELECT 1 FROM {} WHERE task_id = ?1)",
        TASKS.name
    );
    let removed = tx
        .prepare_cached(&format!(
            "DELETE FROM snapshot_steps WHERE (prefix, step) IN (SELECT s.prefix, s.step \
             FROM snapshot_series r JOIN snapshot_steps s ON s.series = r.series \
             WHERE r.task_id = ?1 AND {gone} LIMIT ?2)"
        ))
        .map_err(db_error)?
        .execute(params![task_id, limit])
        .map_err(db_error)?;
    if removed < limit as usize {
        let empty = format!(
            "SELECT r.series FROM snapshot_series r WHERE r.task_id = ?1 AND {gone} \
             AND NOT EXISTS (SELECT 1 FROM snapshot_steps s WHERE s.series = r.series)"
        );
        for statement in [
            format!("DELETE FROM snapshot_lots WHERE series IN ({empty})"),
            format!("DELETE FROM snapshot_series WHERE series IN ({empty})"),
        ] {
            tx.prepare_cached(&statement)
                .map_err(db_error)?
                .execute(params![task_id])
                .map_err(db_error)?;
        }
        tx.execute(
            "DELETE FROM snapshot_prefixes WHERE NOT EXISTS \
             (SELECT 1 FROM snapshot_steps s WHERE s.prefix = snapshot_prefixes.prefix)",
            [],
        )
        .map_err(db_error)?;
    }
    Ok(removed)
}

/// Tasks that are gone but left snapshots behind.
pub(crate) const ORPHANED_TASKS: &str = "SELECT DISTINCT r.task_id FROM snapshot_series r \
     WHERE r.task_id NOT IN (SELECT task_id FROM tasks) \
     AND EXISTS (SELECT 1 FROM snapshot_steps s WHERE s.series = r.series)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_ids_split_into_prefix_and_bar() {
        assert_eq!(split_id("01ABC-s000000042"), ("01ABC-s", 42));
        assert_eq!(split_id("t-s-s000000000"), ("t-s-s", 0));
        assert_eq!(split_id("-s999999999"), ("-s", 999_999_999));
    }

    #[test]
    fn other_ids_are_all_prefix() {
        for id in [
            "odd",
            "t-s00000004",
            "t-s0000000042",
            "t-x000000042",
            "t-s00000004a",
            "",
        ] {
            assert_eq!(split_id(id), (id, -1), "{id}");
        }
    }
}
