//! The data the pages' charts draw, thinned on the server so that a 300,000-bar backtest
//! still sends a page a few thousand points; and the live progress of the listed tasks.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use aibt_core::{Bar, MarketType, TimeGranularity, TradeStatus};
use aibt_engine::export::equity_curve;
use aibt_store::{RecordQuery, SeriesKey, Store, Task};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::board::progress_view;
use super::format::progress_of;
use super::i18n::UiLang;
use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Candles drawn at most; longer series are aggregated into wider candles.
const MAX_CANDLES: usize = 1500;
/// Points of an equity line at most.
const MAX_POINTS: usize = 1500;
/// Trade markers at most.
const MAX_MARKERS: usize = 2000;

#[derive(Debug, Serialize)]
pub struct Candle {
    time: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Point {
    pub time: i64,
    pub value: f64,
}

#[derive(Debug, Serialize)]
pub struct Marker {
    time: i64,
    action: &'static str,
    price: f64,
    /// What closed the position, on an exit (`STOP_LOSS`, …).
    exit_reason: Option<&'static str>,
}

#[derive(Debug, Serialize, Default)]
pub struct ChartData {
    candles: Vec<Candle>,
    markers: Vec<Marker>,
    equity: Vec<Point>,
    buy_hold: Vec<Point>,
}

/// Candles of `bars`, each at most `MAX_CANDLES`-th of them wide; and for each bar time, the
/// time of the candle it fell into.
fn candles(bars: &[Bar]) -> (Vec<Candle>, usize) {
    let width = bars.len().div_ceil(MAX_CANDLES).max(1);
    let candles = bars
        .chunks(width)
        .map(|chunk| Candle {
            time: chunk[0].ts.timestamp(),
            open: chunk[0].open.to_f64(),
            high: chunk
                .iter()
                .map(|b| b.high.to_f64())
                .fold(f64::MIN, f64::max),
            low: chunk
                .iter()
                .map(|b| b.low.to_f64())
                .fold(f64::MAX, f64::min),
            close: chunk[chunk.len() - 1].close.to_f64(),
        })
        .collect();
    (candles, width)
}

/// The candle time a moment falls into.
fn bucket(bars: &[Bar], width: usize, ts: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let index = bars.partition_point(|b| b.ts <= ts).checked_sub(1)?;
    Some(bars[(index / width) * width].ts.timestamp())
}

fn series_of(task: &Task) -> ApiResult<SeriesKey> {
    Ok(aibt_engine::series::series_of(task)?)
}

pub async fn task_chart(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<ChartData>> {
    let task = state.store.get_task(&task_id).await?;
    let series = series_of(&task)?;
    let bars = aibt_engine::records::read_bars(
        state.store.as_ref(),
        &series,
        Some(task.start_date),
        Some(task.end_date),
    )
    .await?;
    let (candles, width) = candles(&bars);
    // One marker per action and candle: a wide candle may hold many trades.
    let mut markers: BTreeMap<(i64, &'static str), (f64, Option<&'static str>)> = BTreeMap::new();
    let mut cursor = None;
    'trades: loop {
        let page = state
            .store
            .list_trades(
                &task_id,
                &RecordQuery {
                    limit: 5000,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await?;
        for trade in &page.items {
            if trade.status != TradeStatus::Executed {
                continue;
            }
            if let Some(time) = bucket(&bars, width, trade.trade_time) {
                markers
                    .entry((time, trade.trade_action.as_str()))
                    .or_insert((
                        trade.price.to_f64(),
                        trade.exit_reason.map(|reason| reason.as_str()),
                    ));
                if markers.len() >= MAX_MARKERS {
                    break 'trades;
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let lines = equity_lines(state.store.as_ref(), &task_id, MAX_POINTS).await?;
    Ok(Json(ChartData {
        candles,
        markers: markers
            .into_iter()
            .map(|((time, action), (price, exit_reason))| Marker {
                time,
                action,
                price,
                exit_reason,
            })
            .collect(),
        equity: lines.equity,
        buy_hold: lines.buy_hold,
    }))
}

/// A task's equity and, beside it, its initial cash held in the stock from the first close.
pub struct EquityLines {
    pub initial: f64,
    pub equity: Vec<Point>,
    pub buy_hold: Vec<Point>,
}

/// A task's [`EquityLines`], thinned to at most `max_points` points, one a time.
pub async fn equity_lines(
    store: &dyn Store,
    task_id: &str,
    max_points: usize,
) -> aibt_engine::Result<EquityLines> {
    let curve = equity_curve(store, task_id, max_points).await?;
    let account = store.get_task_account(task_id).await?;
    let initial = account.initial_balance.to_f64();
    let first_close = curve.first().map(|p| p.stock_price.to_f64()).unwrap_or(0.0);
    let mut seen = std::collections::HashSet::new();
    let curve: Vec<_> = curve
        .into_iter()
        .filter(|p| seen.insert(p.timestamp.timestamp()))
        .collect();
    Ok(EquityLines {
        initial,
        equity: curve
            .iter()
            .map(|p| Point {
                time: p.timestamp.timestamp(),
                value: p.total_value.to_f64(),
            })
            .collect(),
        buy_hold: curve
            .iter()
            .filter(|_| first_close > 0.0)
            .map(|p| Point {
                time: p.timestamp.timestamp(),
                value: initial * p.stock_price.to_f64() / first_close,
            })
            .collect(),
    })
}

/// A stored series, as the market data page links to its chart.
#[derive(Deserialize)]
pub struct SeriesQuery {
    pub symbol: String,
    pub market_type: MarketType,
    pub time_granularity: TimeGranularity,
}

pub async fn series_candles(
    State(state): State<AppState>,
    Query(query): Query<SeriesQuery>,
) -> ApiResult<Json<ChartData>> {
    let series = SeriesKey {
        symbol: query.symbol,
        market_type: query.market_type,
        granularity: query.time_granularity,
    };
    let bars = aibt_engine::records::read_bars(state.store.as_ref(), &series, None, None).await?;
    if bars.is_empty() {
        return Err(ApiError::not_found(format!("no bars stored for {series}")));
    }
    Ok(Json(ChartData {
        candles: candles(&bars).0,
        ..ChartData::default()
    }))
}

#[derive(Deserialize)]
pub struct CompareQuery {
    task_ids: String,
}

/// Each task's return over time, in percent of its initial cash.
pub async fn compare_chart(
    State(state): State<AppState>,
    Query(query): Query<CompareQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let mut lines = Vec::new();
    for id in &aibt_engine::compare::compared_ids(&query.task_ids)? {
        let task = state.store.get_task(id).await?;
        let line = equity_lines(state.store.as_ref(), id, MAX_POINTS).await?;
        let points: Vec<Point> = line
            .equity
            .iter()
            .map(|p| Point {
                time: p.time,
                value: (p.value / line.initial - 1.0) * 100.0,
            })
            .collect();
        lines.push(json!({
            "task_id": task.task_id,
            "label": format!("{} · {}", task.stock_symbol, task.strategy),
            "points": points,
        }));
    }
    Ok(Json(json!({ "lines": lines })))
}

#[derive(Deserialize)]
pub struct LiveQuery {
    ids: String,
}

/// `progress` events of the listed tasks (one connection for a whole list page); `end` once
/// none of them can change any more.
pub async fn task_events(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<LiveQuery>,
) -> Response {
    live(&query.ids, move |id| {
        let state = state.clone();
        async move {
            let task = state.store.get_task(&id).await.ok()?;
            let (pct, text) = progress_of(&task);
            let data = json!({
                "task_id": task.task_id,
                "status": task.status,
                "status_label": tr.of("status", task.status.as_str()),
                "progress_pct": pct,
                "progress_text": text,
                "return_pct": task.stats.as_ref().and_then(|s| s["return_pct"].as_f64()),
            });
            Some((data.to_string(), task.status.is_live()))
        }
    })
}

/// The same for the listed experiments: each one's status and the progress of its tasks.
pub async fn experiment_events(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Query(query): Query<LiveQuery>,
) -> Response {
    live(&query.ids, move |id| {
        let state = state.clone();
        async move {
            let detail = crate::routes::experiments::detail(&state, &id).await.ok()?;
            let status = detail.experiment.status;
            let (pct, text) = progress_view(tr, &detail.progress);
            let data = json!({
                "experiment_id": id,
                "status": status,
                "status_label": tr.of("status", status.as_str()),
                "progress_pct": pct,
                "progress_text": text,
            });
            Some((data.to_string(), status.is_live()))
        }
    })
}

/// The events of the ids of a `?ids=a,b,c` query (at most 200): each read with `read` (an
/// event's data, and whether it may still change) every 400 ms, what changed sent as a
/// `progress` event, and `end` once nothing may change any more.
fn live<F, Fut>(ids: &str, read: F) -> Response
where
    F: Fn(String) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(String, bool)>> + Send + 'static,
{
    let ids: Vec<String> = ids
        .split(',')
        .filter(|id| !id.is_empty())
        .take(200)
        .map(str::to_string)
        .collect();
    Sse::new(changes(ids, read))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn changes<F, Fut>(ids: Vec<String>, read: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn(String) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(String, bool)>> + Send,
{
    let seen: BTreeMap<String, String> = BTreeMap::new();
    futures_util::stream::unfold(
        (read, ids, seen, true, false),
        move |(read, ids, mut seen, first, done)| async move {
            if done {
                return None;
            }
            if !first {
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            let mut events = Vec::new();
            let mut active = false;
            for id in &ids {
                let Some((data, is_live)) = read(id.clone()).await else {
                    continue;
                };
                if seen.get(id) != Some(&data) {
                    events.push(Event::default().event("progress").data(data.clone()));
                    seen.insert(id.clone(), data);
                }
                active |= is_live;
            }
            if !active {
                events.push(Event::default().event("end").data("{}"));
            }
            let batch = futures_util::stream::iter(events.into_iter().map(Ok));
            Some((batch, (read, ids, seen, false, !active)))
        },
    )
    .flatten()
}
