//! Backtest statistics, computed in one pass with constant memory.
//!
//! Where a statistic shares its name with backtesting.py (0.6.6), the definition is
//! backtesting.py's, quirks included, so the two can be compared number for number
//! (`docs/stats.md` states each formula). A few are aibt's own and say so: profit factor is in
//! money, returns are measured on the initial balance, and `sharpe_ratio_simple` is the
//! textbook mean/std × √periods.
//!
//! The accumulator is serialisable, so a resumed task continues its statistics exactly where
//! the last committed step left them.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::broker::RoundTrip;
use crate::decimal::Money;
use crate::time::format_timestamp;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// backtesting.py infers the bar period from the median spacing of the last 100 bars.
const PERIOD_SAMPLE: usize = 100;

/// Daily returns (or weekly/monthly/yearly for such bars), accumulated per bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Resampled {
    /// Key and last equity of the bucket still open.
    current: Option<(i64, f64)>,
    /// Last equity of the previous complete bucket.
    previous: Option<f64>,
    returns: ReturnMoments,
}

impl Resampled {
    fn push(&mut self, key: i64, equity: f64) {
        match &mut self.current {
            Some((current_key, last)) if *current_key == key => *last = equity,
            _ => {
                self.close_bucket();
                self.current = Some((key, equity));
            }
        }
    }

    fn close_bucket(&mut self) {
        if let Some((_, last)) = self.current.take() {
            if let Some(previous) = self.previous
                && previous != 0.0
            {
                self.returns.push(last / previous - 1.0);
            }
            self.previous = Some(last);
        }
    }

    fn finished(&self) -> ReturnMoments {
        let mut copy = self.clone();
        copy.close_bucket();
        copy.returns
    }
}

/// Running moments of a series of returns: enough for the geometric mean, the sample
/// variance, the downside deviation and the simple mean.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct ReturnMoments {
    count: u64,
    mean: f64,
    m2: f64,
    sum_log_growth: f64,
    /// A return at or below −100%: backtesting.py's geometric mean is then 0.
    total_loss: bool,
    sum_squared_downside: f64,
}

impl ReturnMoments {
    fn push(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        if 1.0 + value <= 0.0 {
            self.total_loss = true;
        } else {
            self.sum_log_growth += (1.0 + value).ln();
        }
        if value < 0.0 {
            self.sum_squared_downside += value * value;
        }
    }

    /// backtesting.py's `geometric_mean`: 0 for an empty series or one with a total loss.
    fn geometric_mean(&self) -> f64 {
        if self.count == 0 || self.total_loss {
            return 0.0;
        }
        (self.sum_log_growth / self.count as f64).exp() - 1.0
    }

    /// Sample variance (ddof = 1); NaN below two values, as pandas gives.
    fn variance(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            self.m2 / (self.count - 1) as f64
        }
    }
}

/// Round-trip statistics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct TradeMoments {
    count: u64,
    wins: u64,
    best_return: Option<f64>,
    worst_return: Option<f64>,
    returns: ReturnMoments,
    pnl: ReturnMoments,
    sum_winning_pnl: f64,
    sum_losing_pnl: f64,
    losses: u64,
    max_duration_micros: i64,
    sum_duration_micros: i128,
}

/// Drawdown episodes as backtesting.py's `compute_drawdown_duration_peaks` finds them: a
/// stretch between two bars at the running peak (or the last bar) with bars below it between.
///
/// Within an episode the running peak does not change, so the deepest drawdown
/// `max(1 − v/peak)` is `1 − min(v)/peak` (the same float, as `x ↦ 1 − x/peak` is monotone):
/// one division per episode instead of one per bar.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Drawdowns {
    max: f64,
    peak: f64,
    last_peak_bar: u64,
    last_peak_time: i64,
    lowest_since_peak: Option<f64>,
    episodes: u64,
    sum_episode_depth: f64,
    max_duration_micros: i64,
    sum_duration_micros: i128,
}

impl Drawdowns {
    fn push(&mut self, bar: u64, time: i64, value: f64) {
        if bar == 0 || value >= self.peak {
            if bar > self.last_peak_bar + 1 {
                self.close_episode(time);
            }
            self.peak = value;
            self.last_peak_bar = bar;
            self.last_peak_time = time;
            self.lowest_since_peak = None;
        } else {
            self.lowest_since_peak =
                Some(self.lowest_since_peak.map_or(value, |low| low.min(value)));
        }
    }

    fn depth(&self) -> f64 {
        match self.lowest_since_peak {
            Some(low) if self.peak > 0.0 => 1.0 - low / self.peak,
            _ => 0.0,
        }
    }

    fn close_episode(&mut self, time: i64) {
        let depth = self.depth();
        let duration = time - self.last_peak_time;
        self.max = self.max.max(depth);
        self.episodes += 1;
        self.sum_episode_depth += depth;
        self.max_duration_micros = self.max_duration_micros.max(duration);
        self.sum_duration_micros += i128::from(duration);
    }

    /// The last bar ends an open episode, as backtesting.py appends `len(dd) - 1`.
    fn finished(&self, last_bar: u64, last_time: i64) -> Drawdowns {
        let mut copy = self.clone();
        if last_bar > copy.last_peak_bar {
            if last_bar > copy.last_peak_bar + 1 {
                copy.close_episode(last_time);
            } else {
                // One bar below the peak is no episode, but still the deepest drawdown seen.
                copy.max = copy.max.max(copy.depth());
            }
        }
        copy
    }
}

/// Accumulates a task's statistics from its per-bar equity and its round trips.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatsAccumulator {
    initial_balance: Money,
    bars: u64,
    weekend_bars: u64,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    recent_times: VecDeque<i64>,
    equity_final: Money,
    equity_peak: Money,
    drawdowns: Drawdowns,
    /// Buckets by day, week (ending Sunday), month and year; the bar period picks one at the end.
    daily: Resampled,
    weekly: Resampled,
    monthly: Resampled,
    yearly: Resampled,
    current_day: Option<i64>,
    /// Calendar keys of the current day, computed once per day rather than per bar.
    week_key: i64,
    month_key: i64,
    year_key: i64,
    weekend_day: bool,
    first_close: Option<Money>,
    last_close: Option<Money>,
    buy_hold_reference: Option<Money>,
    trades: TradeMoments,
    exposure_bars: u64,
    covered_until: Option<u64>,
}

impl StatsAccumulator {
    pub fn new(initial_balance: Money) -> StatsAccumulator {
        StatsAccumulator {
            initial_balance,
            bars: 0,
            weekend_bars: 0,
            start: None,
            end: None,
            recent_times: VecDeque::with_capacity(PERIOD_SAMPLE + 1),
            equity_final: initial_balance,
            equity_peak: initial_balance,
            drawdowns: Drawdowns::default(),
            daily: Resampled::default(),
            weekly: Resampled::default(),
            monthly: Resampled::default(),
            yearly: Resampled::default(),
            current_day: None,
            week_key: 0,
            month_key: 0,
            year_key: 0,
            weekend_day: false,
            first_close: None,
            last_close: None,
            buy_hold_reference: None,
            trades: TradeMoments::default(),
            exposure_bars: 0,
            covered_until: None,
        }
    }

    /// Bars pushed so far (the index the next bar will have).
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// Records the first decision, called at the decision bar before that bar is pushed:
    /// buy & hold is measured from the close of the bar before it, as backtesting.py measures
    /// it from the bar before its first `next()`. When the first decision falls on the
    /// period's first bar there is none, and the first close serves (see `finish`).
    pub fn mark_first_decision(&mut self) {
        if self.buy_hold_reference.is_none() {
            self.buy_hold_reference = self.last_close;
        }
    }

    /// One bar of the period, after every fill of the bar, with the equity at its close.
    pub fn push_bar(&mut self, time: DateTime<Utc>, close: Money, equity: Money) {
        let bar = self.bars;
        let micros = time.timestamp_micros();
        self.bars += 1;
        if self.start.is_none() {
            self.start = Some(time);
        }
        self.end = Some(time);
        if self.recent_times.len() == PERIOD_SAMPLE {
            self.recent_times.pop_front();
        }
        self.recent_times.push_back(micros);

        if self.first_close.is_none() {
            self.first_close = Some(close);
        }
        self.last_close = Some(close);

        self.equity_final = equity;
        if bar == 0 || equity > self.equity_peak {
            self.equity_peak = equity;
        }
        // Every statistic of the curve is a ratio, so equity enters in units of 10^-8 (its
        // mantissa), which spares a division per bar.
        let value = equity.mantissa_f64();
        self.drawdowns.push(bar, micros, value);

        let day = micros.div_euclid(MICROS_PER_DAY);
        if self.current_day != Some(day) {
            // The last equity of the day that ended is the one the weekly, monthly and yearly
            // buckets keep: updating them once per day is enough.
            if let Some((_, last_of_day)) = self.daily.current {
                self.weekly.push(self.week_key, last_of_day);
                self.monthly.push(self.month_key, last_of_day);
                self.yearly.push(self.year_key, last_of_day);
            }
            self.current_day = Some(day);
            let date = time.date_naive();
            let weekday = i64::from(date.weekday().num_days_from_monday());
            // pandas' "W" bins end on Sunday; "ME" and "YE" at the calendar month and year.
            self.week_key = day + (6 - weekday);
            self.month_key = i64::from(date.year()) * 12 + i64::from(date.month0());
            self.year_key = i64::from(date.year());
            self.weekend_day = weekday >= 5;
        }
        if self.weekend_day {
            self.weekend_bars += 1;
        }
        self.daily.push(day, value);
    }

    /// One closed part of a lot.
    pub fn push_round_trip(&mut self, trip: &RoundTrip) {
        let trades = &mut self.trades;
        let ret = trip.return_fraction();
        let pnl = trip.pnl.to_f64();
        trades.count += 1;
        if trip.pnl.is_positive() {
            trades.wins += 1;
            trades.sum_winning_pnl += pnl;
        } else if trip.pnl.is_negative() {
            trades.losses += 1;
            trades.sum_losing_pnl += pnl;
        }
        trades.best_return = Some(trades.best_return.map_or(ret, |best| best.max(ret)));
        trades.worst_return = Some(trades.worst_return.map_or(ret, |worst| worst.min(ret)));
        trades.returns.push(ret);
        trades.pnl.push(pnl);
        let duration = (trip.exit_time - trip.entry_time)
            .num_microseconds()
            .unwrap_or(0);
        trades.max_duration_micros = trades.max_duration_micros.max(duration);
        trades.sum_duration_micros += i128::from(duration);

        // Exposure counts the bars from entry to exit of closed round trips. Trips arrive in
        // exit order and, with FIFO lots and no hedging, each overlaps the bars already
        // counted only in one stretch ending at the latest exit so far.
        let first_new = match self.covered_until {
            Some(covered) => trip.entry_bar.max(covered + 1),
            None => trip.entry_bar,
        };
        if trip.exit_bar >= first_new {
            self.exposure_bars += trip.exit_bar - first_new + 1;
        }
        self.covered_until = Some(
            self.covered_until
                .map_or(trip.exit_bar, |c| c.max(trip.exit_bar)),
        );
    }

    /// The statistics of everything pushed so far.
    pub fn finish(&self, total_fees: Money) -> Stats {
        let period = self.bar_period_micros();
        let period_days = period.map(|p| p.div_euclid(MICROS_PER_DAY));
        let have_weekends =
            self.bars > 0 && (self.weekend_bars as f64 / self.bars as f64) > 2.0 / 7.0 * 0.6;
        let with_last_day = |bucket: &Resampled, key: i64| {
            let mut bucket = bucket.clone();
            if let Some((_, last_of_day)) = self.daily.current {
                bucket.push(key, last_of_day);
            }
            bucket.finished()
        };
        let (periods_per_year, returns) = match period_days {
            Some(7) => (52.0, with_last_day(&self.weekly, self.week_key)),
            Some(31) => (12.0, with_last_day(&self.monthly, self.month_key)),
            Some(365) => (1.0, with_last_day(&self.yearly, self.year_key)),
            _ => (
                if have_weekends { 365.0 } else { 252.0 },
                self.daily.finished(),
            ),
        };
        let resolution = period.map(resolution_micros).unwrap_or(1);

        let initial = self.initial_balance.to_f64();
        let final_equity = self.equity_final.to_f64();
        let return_fraction = if initial != 0.0 {
            (final_equity - initial) / initial
        } else {
            f64::NAN
        };
        let buy_hold = match (
            self.buy_hold_reference.or(self.first_close),
            self.last_close,
        ) {
            (Some(reference), Some(last)) if reference.is_positive() => {
                (last.to_f64() - reference.to_f64()) / reference.to_f64() * 100.0
            }
            _ => f64::NAN,
        };

        let gmean = returns.geometric_mean();
        let annual_return = (1.0 + gmean).powf(periods_per_year) - 1.0;
        let variance = returns.variance();
        let volatility = ((variance + (1.0 + gmean).powi(2)).powf(periods_per_year)
            - (1.0 + gmean).powf(2.0 * periods_per_year))
        .sqrt();
        let sharpe = nonzero_ratio(annual_return * 100.0, volatility * 100.0);
        let downside = if returns.count > 0 {
            (returns.sum_squared_downside / returns.count as f64).sqrt() * periods_per_year.sqrt()
        } else {
            f64::NAN
        };
        let sortino = annual_return / downside;
        let sharpe_simple = returns.mean / variance.sqrt() * periods_per_year.sqrt();

        let drawdowns = match (self.end, self.bars) {
            (Some(end), bars) if bars > 0 => {
                self.drawdowns.finished(bars - 1, end.timestamp_micros())
            }
            _ => self.drawdowns.clone(),
        };
        let max_drawdown = drawdowns.max;
        let calmar = nonzero_ratio(annual_return, max_drawdown);
        let (avg_drawdown, max_dd_duration, avg_dd_duration) = if drawdowns.episodes > 0 {
            let count = drawdowns.episodes as f64;
            (
                drawdowns.sum_episode_depth / count,
                Some(ceil_to(drawdowns.max_duration_micros, resolution)),
                Some(ceil_to(
                    mean_micros(drawdowns.sum_duration_micros, drawdowns.episodes),
                    resolution,
                )),
            )
        } else {
            (f64::NAN, None, None)
        };

        let duration = match (self.start, self.end) {
            (Some(start), Some(end)) => (end - start).num_microseconds().unwrap_or(0),
            _ => 0,
        };
        let years = duration as f64 / MICROS_PER_DAY as f64 / 365.25;
        let cagr = if years > 0.0 && initial != 0.0 {
            (final_equity / initial).powf(1.0 / years) - 1.0
        } else {
            f64::NAN
        };

        let trades = &self.trades;
        let count = trades.count as f64;
        let win_rate = if trades.count > 0 {
            trades.wins as f64 / count
        } else {
            f64::NAN
        };
        let pnl_std = trades.pnl.variance().sqrt();
        let sqn = if pnl_std > 0.0 {
            count.sqrt() * trades.pnl.mean / pnl_std
        } else {
            f64::NAN
        };
        let average_win = trades.sum_winning_pnl / trades.wins as f64;
        let average_loss = trades.sum_losing_pnl / trades.losses as f64;
        let kelly = win_rate - (1.0 - win_rate) / (average_win / -average_loss);
        // Gross profit over gross loss in money (backtesting.py divides summed returns).
        let profit_factor = if trades.sum_losing_pnl < 0.0 {
            Some(trades.sum_winning_pnl / -trades.sum_losing_pnl)
        } else {
            None
        };
        let (max_trade_duration, avg_trade_duration) = if trades.count > 0 {
            (
                Some(ceil_to(trades.max_duration_micros, resolution)),
                Some(ceil_to(
                    mean_micros(trades.sum_duration_micros, trades.count),
                    resolution,
                )),
            )
        } else {
            (None, None)
        };

        Stats {
            start: self.start.map(format_timestamp),
            end: self.end.map(format_timestamp),
            duration: Some(format_duration(duration)),
            num_bars: self.bars,
            periods_per_year,
            exposure_time_pct: finite(if self.bars > 0 {
                self.exposure_bars as f64 / self.bars as f64 * 100.0
            } else {
                f64::NAN
            }),
            equity_final: self.equity_final,
            equity_peak: self.equity_peak,
            total_fees,
            return_pct: finite(return_fraction * 100.0),
            buy_hold_return_pct: finite(buy_hold),
            return_ann_pct: finite(annual_return * 100.0),
            volatility_ann_pct: finite(volatility * 100.0),
            cagr_pct: finite(cagr * 100.0),
            sharpe_ratio: finite(sharpe),
            sharpe_ratio_simple: finite(sharpe_simple),
            sortino_ratio: finite(sortino),
            calmar_ratio: finite(calmar),
            max_drawdown_pct: finite(-max_drawdown * 100.0),
            avg_drawdown_pct: finite(-avg_drawdown * 100.0),
            max_drawdown_duration: max_dd_duration.map(format_duration),
            avg_drawdown_duration: avg_dd_duration.map(format_duration),
            max_drawdown_duration_seconds: max_dd_duration.map(micros_to_seconds),
            avg_drawdown_duration_seconds: avg_dd_duration.map(micros_to_seconds),
            num_trades: trades.count,
            win_rate_pct: finite(win_rate * 100.0),
            best_trade_pct: trades.best_return.map(|r| r * 100.0).and_then(finite),
            worst_trade_pct: trades.worst_return.map(|r| r * 100.0).and_then(finite),
            avg_trade_pct: if trades.count > 0 {
                finite(trades.returns.geometric_mean() * 100.0)
            } else {
                None
            },
            max_trade_duration: max_trade_duration.map(format_duration),
            avg_trade_duration: avg_trade_duration.map(format_duration),
            profit_factor: profit_factor.and_then(finite),
            expectancy_pct: if trades.count > 0 {
                finite(trades.returns.mean * 100.0)
            } else {
                None
            },
            sqn: finite(sqn),
            kelly_criterion: finite(kelly),
        }
    }

    /// Median spacing of the last (up to) 100 bars, as backtesting.py's `_data_period`.
    fn bar_period_micros(&self) -> Option<i64> {
        let times: Vec<i64> = self.recent_times.iter().copied().collect();
        let mut diffs: Vec<i64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
        if diffs.is_empty() {
            return None;
        }
        diffs.sort_unstable();
        let middle = diffs.len() / 2;
        Some(if diffs.len() % 2 == 1 {
            diffs[middle]
        } else {
            // pandas' median of timedeltas averages the two middle values.
            (diffs[middle - 1] + diffs[middle]) / 2
        })
    }
}

/// The statistics of a task, as stored in `tasks.stats` and printed by the CLI.
/// Ratios that are undefined (no trades, no volatility) are `null`, never a made-up zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration: Option<String>,
    pub num_bars: u64,
    /// Annualisation base: 252 or 365 by the share of weekend bars (52, 12 or 1 for weekly,
    /// monthly or yearly bars).
    pub periods_per_year: f64,
    pub exposure_time_pct: Option<f64>,
    pub equity_final: Money,
    pub equity_peak: Money,
    pub total_fees: Money,
    pub return_pct: Option<f64>,
    pub buy_hold_return_pct: Option<f64>,
    pub return_ann_pct: Option<f64>,
    pub volatility_ann_pct: Option<f64>,
    pub cagr_pct: Option<f64>,
    pub sharpe_ratio: Option<f64>,
    pub sharpe_ratio_simple: Option<f64>,
    pub sortino_ratio: Option<f64>,
    pub calmar_ratio: Option<f64>,
    pub max_drawdown_pct: Option<f64>,
    pub avg_drawdown_pct: Option<f64>,
    pub max_drawdown_duration: Option<String>,
    pub avg_drawdown_duration: Option<String>,
    pub max_drawdown_duration_seconds: Option<f64>,
    pub avg_drawdown_duration_seconds: Option<f64>,
    pub num_trades: u64,
    pub win_rate_pct: Option<f64>,
    pub best_trade_pct: Option<f64>,
    pub worst_trade_pct: Option<f64>,
    pub avg_trade_pct: Option<f64>,
    pub max_trade_duration: Option<String>,
    pub avg_trade_duration: Option<String>,
    pub profit_factor: Option<f64>,
    pub expectancy_pct: Option<f64>,
    pub sqn: Option<f64>,
    pub kelly_criterion: Option<f64>,
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// `a / b`, NaN when `b` is zero (backtesting.py's `x / (y or np.nan)`).
fn nonzero_ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}

fn mean_micros(sum: i128, count: u64) -> i64 {
    if count == 0 {
        return 0;
    }
    i64::try_from(sum / i128::from(count)).unwrap_or(i64::MAX)
}

/// pandas' `Timedelta.resolution_string`: the finest unit the period needs.
fn resolution_micros(period: i64) -> i64 {
    for unit in [
        MICROS_PER_DAY,
        3_600_000_000,
        60_000_000,
        1_000_000,
        1_000,
        1,
    ] {
        if period % unit == 0 {
            return unit;
        }
    }
    1
}

/// Rounds up to a whole number of `unit`s, as backtesting.py's `_round_timedelta`.
fn ceil_to(micros: i64, unit: i64) -> i64 {
    if unit <= 1 {
        return micros;
    }
    micros.div_euclid(unit) * unit + if micros.rem_euclid(unit) > 0 { unit } else { 0 }
}

fn micros_to_seconds(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// pandas' `str(Timedelta)`: `584 days 00:00:00`, with microseconds when present.
pub fn format_duration(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let days = micros / MICROS_PER_DAY as u64;
    let rest = micros % MICROS_PER_DAY as u64;
    let seconds = rest / 1_000_000;
    let fraction = rest % 1_000_000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction == 0 {
        format!("{sign}{days} days {h:02}:{m:02}:{s:02}")
    } else {
        format!("{sign}{days} days {h:02}:{m:02}:{s:02}.{fraction:06}")
    }
}
