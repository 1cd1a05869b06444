//! The data the pages' charts draw, thinned on the server so that a 300,000-bar backtest
//! still sends a page a few thousand points; and the live progress of the listed tasks.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use aibt_core::{Bar, MarketType, TimeGranularity, TradeStatus};
use aibt_engine::export::equity_curve;
use aibt_store::{RecordQuery, SeriesKey, Task};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

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

#[derive(Debug, Serialize)]
pub struct Point {
    time: i64,
    value: f64,
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
    let curve = equity_curve(state.store.as_ref(), &task_id, MAX_POINTS).await?;
    let account = state.store.get_task_account(&task_id).await?;
    let initial = account.initial_balance.to_f64();
    let first_close = curve.first().map(|p| p.stock_price.to_f64()).unwrap_or(0.0);
    let mut seen = std::collections::HashSet::new();
    let curve: Vec<_> = curve
        .into_iter()
        .filter(|p| seen.insert(p.timestamp.timestamp()))
        .collect();
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
    }))
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
        let account = state.store.get_task_account(id).await?;
        let initial = account.initial_balance.to_f64();
        let curve = equity_curve(state.store.as_ref(), id, MAX_POINTS).await?;
        let mut seen = std::collections::HashSet::new();
        let points: Vec<Point> = curve
            .into_iter()
            .filter(|p| seen.insert(p.timestamp.timestamp()))
            .map(|p| Point {
                time: p.timestamp.timestamp(),
                value: (p.total_value.to_f64() / initial - 1.0) * 100.0,
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
    let ids: Vec<String> = query
        .ids
        .split(',')
        .filter(|id| !id.is_empty())
        .take(200)
        .map(str::to_string)
        .collect();
    let stream = live(state, ids, tr);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn live(
    state: AppState,
    ids: Vec<String>,
    tr: super::i18n::Tr,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let seen: BTreeMap<String, String> = BTreeMap::new();
    futures_util::stream::unfold(
        (state, ids, seen, true, false),
        move |(state, ids, mut seen, first, done)| async move {
            if done {
                return None;
            }
            if !first {
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            let mut events = Vec::new();
            let mut active = false;
            for id in &ids {
                let Ok(task) = state.store.get_task(id).await else {
                    continue;
                };
                let (pct, text) = progress_of(&task);
                let data = json!({
                    "task_id": task.task_id,
                    "status": task.status,
                    "status_label": tr.of("status", task.status.as_str()),
                    "progress_pct": pct,
                    "progress_text": text,
                    "return_pct": task.stats.as_ref().and_then(|s| s["return_pct"].as_f64()),
                })
                .to_string();
                if seen.get(id) != Some(&data) {
                    events.push(Event::default().event("progress").data(data.clone()));
                    seen.insert(id.clone(), data);
                }
                active |= task.status.is_live();
            }
            if !active {
                events.push(Event::default().event("end").data("{}"));
            }
            let batch = futures_util::stream::iter(events.into_iter().map(Ok));
            Some((batch, (state, ids, seen, false, !active)))
        },
    )
    .flatten()
}
