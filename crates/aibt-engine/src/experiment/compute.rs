//! The leaderboard from what the experiment's runs recorded: pure, so that the same records
//! always give the same board (the bootstrap and the random runs are seeded by the spec).
//! Every statistic is aibt-core's `experiment` module; docs/stats.md says how each is used.

use std::collections::{BTreeMap, HashMap};

use aibt_core::broker::AccountSettings;
use aibt_core::experiment::{
    BootstrapConfig, action_mix, consistency_share, deflated_sharpe_ratio, paired_bootstrap,
    percentile_rank, probabilistic_sharpe_ratio_of, random_positions_stream, sharpe_ratio,
    summarize_repeats, switch_probability,
};
use aibt_core::{Bar, TaskStatus, TradeAction};
use aibt_store::{ExperimentRun, RunRole};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::board::{Comparison, Cost, Leaderboard, Mix, RowKind, SplitRow, Spread, VariantRow};
use super::random_runs::random_run;
use super::spec::{ExperimentSpec, Split};

/// What the leaderboard reads of one run.
#[derive(Debug, Clone)]
pub struct RunData {
    pub run: ExperimentRun,
    pub status: TaskStatus,
    pub stats: Option<Value>,
    /// The run account's cash at the start.
    pub initial: f64,
    /// Equity at each bar's close, and the bar's time, oldest first.
    pub equity: Vec<f64>,
    pub times: Vec<DateTime<Utc>>,
    /// Bars on which the position changed (flat, long or short from one bar to the next).
    pub position_changes: u64,
    /// Actions of the recorded decisions, in step order (a model records every decision).
    pub actions: Vec<TradeAction>,
    /// Latency of each decision that called the model.
    pub latencies: Vec<i64>,
    /// What the run's model calls cost, by its AI config's prices.
    pub money: Option<aibt_core::Money>,
    pub memorisation_warning: Option<String>,
}

impl RunData {
    fn finished(&self) -> bool {
        self.status.is_completed() && !self.equity.is_empty()
    }

    fn stat(&self, key: &str) -> Option<f64> {
        let value = self.stats.as_ref()?.get(key)?;
        value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
    }

    /// Per-bar returns: the first bar against the starting cash, then bar over bar.
    fn returns(&self) -> Vec<f64> {
        let mut previous = self.initial;
        self.equity
            .iter()
            .map(|&equity| {
                let r = if previous > 0.0 {
                    equity / previous - 1.0
                } else {
                    0.0
                };
                previous = equity;
                r
            })
            .collect()
    }
}

/// The bars of one series in one period and the account the random runs trade on.
#[derive(Debug, Clone)]
pub struct PeriodBars {
    pub bars: Vec<Bar>,
    pub settings: AccountSettings,
}

/// Everything the leaderboard is computed from.
pub struct Inputs<'a> {
    pub experiment_id: &'a str,
    pub name: &'a str,
    pub status: TaskStatus,
    pub error_message: Option<String>,
    pub spec: &'a ExperimentSpec,
    pub splits: &'a [Split],
    pub runs: &'a [RunData],
    /// Keyed by (symbol, period).
    pub bars: &'a HashMap<(String, String), PeriodBars>,
    pub progress: super::board::Progress,
}

type Key = (String, String, String, bool);

fn key(run: &ExperimentRun) -> Key {
    (
        run.variant.clone(),
        run.stock_symbol.clone(),
        run.period.clone(),
        run.blind,
    )
}

/// A stable stream number for a name (FNV-1a), so each comparison draws its own resamples.
fn stream_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Bars per year of a series of bar times: (n − 1) over the span in years of 365.25 days.
fn bars_per_year(times: &[DateTime<Utc>]) -> Option<f64> {
    let (first, last) = (times.first()?, times.last()?);
    let years = (*last - *first).num_seconds() as f64 / (365.25 * 86_400.0);
    (times.len() > 1 && years > 0.0).then(|| (times.len() - 1) as f64 / years)
}

/// The mean, bar by bar, of several runs' returns (repeats pooled as one equal-weight run).
fn pooled(runs: &[&RunData]) -> Option<Vec<f64>> {
    let series: Vec<Vec<f64>> = runs.iter().map(|r| r.returns()).collect();
    let n = series.iter().map(Vec::len).min()?;
    (n > 0).then(|| {
        (0..n)
            .map(|t| series.iter().map(|s| s[t]).sum::<f64>() / series.len() as f64)
            .collect()
    })
}

fn finished<'a>(runs: &[&'a RunData]) -> Vec<&'a RunData> {
    runs.iter().copied().filter(|r| r.finished()).collect()
}

fn spread(values: &[f64]) -> Option<Spread> {
    summarize_repeats(values).map(Spread::from)
}

fn compare(
    strategy: &[f64],
    other: &[f64],
    times: &[DateTime<Utc>],
    seed: u64,
    stream: u64,
) -> Option<Comparison> {
    let n = strategy.len().min(other.len());
    let mut config = BootstrapConfig::new(bars_per_year(times)?, seed);
    config.stream = stream;
    let result = paired_bootstrap(&strategy[..n], &other[..n], &config).ok()?;
    let as_percent = |d: aibt_core::experiment::BootstrapEstimate| super::board::Difference {
        estimate: d.estimate * 100.0,
        low: d.low * 100.0,
        high: d.high * 100.0,
        p_value: d.p_value,
    };
    Some(Comparison {
        return_pct: as_percent(result.mean_difference),
        sharpe: result.sharpe_difference.map(Into::into),
    })
}

/// Calls, tokens, money and latency of a set of runs.
fn cost_of(runs: &[&RunData]) -> Cost {
    let mut cost = Cost::default();
    let mut latencies: Vec<i64> = Vec::new();
    let mut money = Some(aibt_core::Money::ZERO);
    for run in runs {
        let int = |key: &str| run.stat(key).unwrap_or(0.0) as i64;
        cost.decisions += int("llm_decisions") as u64;
        cost.failed_decisions += int("failed_decisions") as u64;
        cost.llm_calls += int("llm_calls");
        cost.cache_hits += int("cache_hits") as u64;
        cost.prompt_tokens += int("prompt_tokens");
        cost.completion_tokens += int("completion_tokens");
        latencies.extend(&run.latencies);
        money = match (money, run.money) {
            (Some(total), Some(this)) => total.checked_add(this).ok(),
            _ => None,
        };
    }
    latencies.sort_unstable();
    if !latencies.is_empty() {
        cost.latency_mean_ms = Some(latencies.iter().sum::<i64>() as f64 / latencies.len() as f64);
        // Nearest rank, as a task's own statistics give it.
        let rank = ((latencies.len() as f64) * 0.95).ceil() as usize;
        cost.latency_p95_ms = Some(latencies[rank.clamp(1, latencies.len()) - 1]);
    }
    cost.money = money.map(|m| m.to_string());
    cost
}

/// The leaderboard.
pub fn compute(inputs: &Inputs<'_>) -> Leaderboard {
    let spec = inputs.spec;
    let mut groups: BTreeMap<Key, Vec<&RunData>> = BTreeMap::new();
    for run in inputs.runs {
        groups.entry(key(&run.run)).or_default().push(run);
    }
    // Buy-and-hold of each series and period: the benchmark of every comparison.
    let buy_hold: HashMap<(String, String), &RunData> = inputs
        .runs
        .iter()
        .filter(|r| r.run.role == RunRole::Baseline && r.run.variant == "buy-and-hold")
        .filter(|r| r.finished())
        .map(|r| ((r.run.stock_symbol.clone(), r.run.period.clone()), r))
        .collect();

    // The random runs of each series and period, switching as often as the strategies do.
    let mut random_returns: HashMap<(String, String), Vec<f64>> = HashMap::new();
    let mut rows = Vec::new();
    for ((symbol, period), period_bars) in inputs.bars {
        let strategies: Vec<&RunData> = inputs
            .runs
            .iter()
            .filter(|r| r.run.role == RunRole::Strategy && r.finished())
            .filter(|r| &r.run.stock_symbol == symbol && &r.run.period == period)
            .collect();
        let (changes, steps) = strategies.iter().fold((0u64, 0u64), |(c, s), r| {
            (
                c + r.position_changes,
                s + r.stat("decisions").unwrap_or(0.0) as u64,
            )
        });
        let p = switch_probability(changes, steps).unwrap_or(0.0);
        let returns: Vec<f64> = (0..spec.baselines.random)
            .filter_map(|k| {
                let positions = random_positions_stream(
                    period_bars.bars.len(),
                    p,
                    spec.seed,
                    stream_of(&format!("random|{symbol}|{period}|{k}")),
                )?;
                random_run(
                    &period_bars.bars,
                    &positions,
                    &period_bars.settings,
                    spec.fill,
                    spec.decision_interval,
                )
            })
            .collect();
        if !returns.is_empty() {
            rows.push(VariantRow {
                variant: "random".into(),
                kind: RowKind::Random,
                blind: false,
                stock_symbol: symbol.clone(),
                period: period.clone(),
                finished: returns.len(),
                runs: returns.len(),
                task_ids: Vec::new(),
                return_pct: spread(&returns),
                sharpe: None,
                max_drawdown_pct: None,
                trades: None,
                beat_buy_hold: buy_hold
                    .get(&(symbol.clone(), period.clone()))
                    .and_then(|b| {
                        let bh = b.stat("return_pct")?;
                        Some(
                            returns.iter().filter(|r| **r > bh).count() as f64
                                / returns.len() as f64,
                        )
                    }),
                luck_percentile: None,
                vs_buy_hold: None,
                psr: None,
                dsr: None,
                memory_gap: None,
                memorisation_warning: None,
                consistency: None,
                action_mix: None,
                cost: None,
            });
        }
        random_returns.insert((symbol.clone(), period.clone()), returns);
    }

    // The trials of the Deflated Sharpe Ratio: every strategy variant of the same series and
    // period, with its per-bar Sharpe ratio.
    let mut trial_sharpes: HashMap<(String, String), Vec<f64>> = HashMap::new();
    let mut pooled_returns: HashMap<Key, Vec<f64>> = HashMap::new();
    for (key, runs) in &groups {
        let done = finished(runs);
        if done.is_empty() {
            continue;
        }
        if let Some(returns) = pooled(&done) {
            if done[0].run.role == RunRole::Strategy
                && let Some(sr) = sharpe_ratio(&returns)
            {
                trial_sharpes
                    .entry((key.1.clone(), key.2.clone()))
                    .or_default()
                    .push(sr);
            }
            pooled_returns.insert(key.clone(), returns);
        }
    }

    for (key, runs) in &groups {
        let (variant, symbol, period, blind) = key;
        let done = finished(runs);
        let is_strategy = runs[0].run.role == RunRole::Strategy;
        let values =
            |stat: &str| -> Vec<f64> { done.iter().filter_map(|r| r.stat(stat)).collect() };
        let returns_pct = values("return_pct");
        let benchmark = buy_hold.get(&(symbol.clone(), period.clone()));
        let pooled = pooled_returns.get(key);
        let times = done.first().map(|r| r.times.as_slice()).unwrap_or(&[]);
        let stream = stream_of(&format!("{variant}|{symbol}|{period}|{blind}"));
        let vs_buy_hold = match (pooled, benchmark) {
            (Some(ours), Some(bh)) if is_strategy => {
                compare(ours, &bh.returns(), times, spec.seed, stream)
            }
            _ => None,
        };
        let memory_gap = match (pooled, *blind) {
            (Some(named), false) => pooled_returns
                .get(&(variant.clone(), symbol.clone(), period.clone(), true))
                .and_then(|blind_returns| {
                    compare(named, blind_returns, times, spec.seed, stream ^ 1)
                }),
            _ => None,
        };
        let mean_return = returns_pct.iter().sum::<f64>() / returns_pct.len().max(1) as f64;
        let model_runs: Vec<&RunData> = done
            .iter()
            .copied()
            .filter(|r| {
                !r.actions.is_empty()
                    && r.stats
                        .as_ref()
                        .is_some_and(|s| s.get("llm_decisions").is_some())
            })
            .collect();
        let repeats_actions: Vec<&[TradeAction]> =
            model_runs.iter().map(|r| r.actions.as_slice()).collect();
        rows.push(VariantRow {
            variant: variant.clone(),
            kind: if is_strategy {
                RowKind::Strategy
            } else {
                RowKind::Baseline
            },
            blind: *blind,
            stock_symbol: symbol.clone(),
            period: period.clone(),
            finished: done.len(),
            runs: runs.len(),
            task_ids: runs.iter().map(|r| r.run.task_id.clone()).collect(),
            return_pct: spread(&returns_pct),
            sharpe: spread(&values("sharpe_ratio")),
            max_drawdown_pct: spread(&values("max_drawdown_pct")),
            trades: spread(&values("num_trades")),
            beat_buy_hold: benchmark.and_then(|bh| {
                let bh = bh.stat("return_pct")?;
                (!returns_pct.is_empty()).then(|| {
                    returns_pct.iter().filter(|r| **r > bh).count() as f64
                        / returns_pct.len() as f64
                })
            }),
            luck_percentile: random_returns
                .get(&(symbol.clone(), period.clone()))
                .filter(|_| !returns_pct.is_empty())
                .and_then(|population| percentile_rank(population, mean_return)),
            vs_buy_hold,
            psr: pooled.and_then(|r| probabilistic_sharpe_ratio_of(r, 0.0)),
            dsr: match (pooled, trial_sharpes.get(&(symbol.clone(), period.clone()))) {
                (Some(r), Some(trials)) if is_strategy => {
                    deflated_sharpe_ratio(r, trials).map(|d| d.dsr)
                }
                _ => None,
            },
            memory_gap,
            memorisation_warning: done.iter().find_map(|r| r.memorisation_warning.clone()),
            consistency: (repeats_actions.len() > 1)
                .then(|| consistency_share(&repeats_actions))
                .flatten(),
            action_mix: action_mix(model_runs.iter().flat_map(|r| r.actions.iter().copied()))
                .map(Mix::from),
            cost: (!model_runs.is_empty()).then(|| cost_of(&model_runs)),
        });
    }

    // Strategies first, ranked by their mean return (in sample when there is a split); then
    // the baselines and the random runs.
    let ranking_periods: Vec<&str> = inputs.splits.iter().map(|s| s.in_sample.as_str()).collect();
    rows.sort_by(|a, b| {
        let rank = |row: &VariantRow| match row.kind {
            RowKind::Strategy => 0,
            RowKind::Baseline => 1,
            RowKind::Random => 2,
        };
        let in_sample = |row: &VariantRow| {
            ranking_periods.is_empty() || ranking_periods.contains(&row.period.as_str())
        };
        let mean = |row: &VariantRow| row.return_pct.map_or(f64::NEG_INFINITY, |s| s.mean);
        rank(a)
            .cmp(&rank(b))
            .then(in_sample(b).cmp(&in_sample(a)))
            .then(mean(b).total_cmp(&mean(a)))
            .then(a.variant.cmp(&b.variant))
            .then(a.stock_symbol.cmp(&b.stock_symbol))
            .then(a.period.cmp(&b.period))
    });

    let splits = split_rows(&rows, inputs.splits);
    let all_model: Vec<&RunData> = inputs
        .runs
        .iter()
        .filter(|r| {
            r.stats
                .as_ref()
                .is_some_and(|s| s.get("llm_decisions").is_some())
        })
        .collect();
    Leaderboard {
        experiment_id: inputs.experiment_id.to_string(),
        name: inputs.name.to_string(),
        status: inputs.status,
        error_message: inputs.error_message.clone(),
        progress: inputs.progress.clone(),
        splits,
        cost: cost_of(&all_model),
        notes: notes(spec),
        rows,
    }
}

/// In sample beside out of sample, for every strategy row that has both.
fn split_rows(rows: &[VariantRow], splits: &[Split]) -> Vec<SplitRow> {
    let find = |variant: &str, symbol: &str, period: &str, blind: bool| {
        rows.iter().find(|r| {
            r.kind == RowKind::Strategy
                && r.variant == variant
                && r.stock_symbol == symbol
                && r.period == period
                && r.blind == blind
        })
    };
    let mut out = Vec::new();
    for split in splits {
        for row in rows
            .iter()
            .filter(|r| r.kind == RowKind::Strategy && r.period == split.in_sample)
        {
            let oos = find(
                &row.variant,
                &row.stock_symbol,
                &split.out_of_sample,
                row.blind,
            );
            let mean = |r: Option<&VariantRow>, pick: fn(&VariantRow) -> Option<Spread>| {
                r.and_then(pick).map(|s| s.mean)
            };
            let is_return = mean(Some(row), |r| r.return_pct);
            let oos_return = mean(oos, |r| r.return_pct);
            let is_sharpe = mean(Some(row), |r| r.sharpe);
            let oos_sharpe = mean(oos, |r| r.sharpe);
            out.push(SplitRow {
                variant: row.variant.clone(),
                blind: row.blind,
                stock_symbol: row.stock_symbol.clone(),
                in_sample: split.in_sample.clone(),
                out_of_sample: split.out_of_sample.clone(),
                in_sample_return_pct: is_return,
                out_of_sample_return_pct: oos_return,
                return_drop_pct: is_return.zip(oos_return).map(|(a, b)| b - a),
                in_sample_sharpe: is_sharpe,
                out_of_sample_sharpe: oos_sharpe,
                sharpe_drop: is_sharpe.zip(oos_sharpe).map(|(a, b)| b - a),
            });
        }
    }
    out
}

/// What the spec itself says a reader should know.
pub(super) fn notes(spec: &ExperimentSpec) -> Vec<String> {
    let mut notes = Vec::new();
    for strategy in &spec.strategies {
        let zero = strategy
            .temperature
            .as_deref()
            .is_none_or(|t| t.trim().parse::<f64>().is_ok_and(|t| t == 0.0));
        if strategy.uses_model() && strategy.repeats() > 1 && zero {
            notes.push(format!(
                "{}: {} repeats at temperature 0 (or the AI config's) may be the same run; give \
                 temperature > 0 to sample",
                strategy.name,
                strategy.repeats()
            ));
        }
    }
    notes
}
