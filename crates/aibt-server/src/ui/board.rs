//! How an experiment reads, for its page and its report alike: every number of the engine's
//! `Leaderboard` written for people, baselines and periods named in the page's language, and
//! the runs of its grid. The engine computes; this only writes.

use aibt_engine::experiment::Leaderboard;
use aibt_engine::experiment::board::{
    Comparison, Cost, Difference, Progress, RowKind, SplitRow, Spread, VariantRow,
};
use aibt_store::{ExperimentRun, Task};

use crate::ui::format::{fixed, money, percent, share, short_id, signed, signed_class, thousands};
use crate::ui::i18n::Tr;

/// A number with up to two smaller lines under it (a spread, an interval and its p-value).
pub struct Cell {
    pub main: String,
    pub sub: String,
    pub note: String,
    pub class: &'static str,
}

impl Cell {
    fn new(main: String, sub: String, note: String) -> Cell {
        Cell {
            main,
            sub,
            note,
            class: "",
        }
    }

    fn empty() -> Cell {
        Cell::new("—".into(), String::new(), String::new())
    }

    fn plain(main: String) -> Cell {
        Cell::new(main, String::new(), String::new())
    }
}

/// One variant of the leaderboard.
pub struct RowView {
    pub variant: String,
    pub kind: &'static str,
    pub blind: bool,
    pub series: String,
    pub period: String,
    pub runs: String,
    pub return_pct: Cell,
    pub sharpe: Cell,
    pub drawdown: Cell,
    pub trades: Cell,
    pub beat: String,
    pub luck: String,
    pub vs_return: Cell,
    pub vs_sharpe: Cell,
    pub psr: String,
    pub dsr: String,
}

/// A strategy on a series, in sample beside out of sample.
pub struct SplitView {
    pub variant: String,
    pub blind: bool,
    pub series: String,
    pub periods: String,
    pub in_return: Cell,
    pub out_return: Cell,
    pub return_drop: Cell,
    pub in_sharpe: String,
    pub out_sharpe: String,
    pub sharpe_drop: Cell,
}

/// What a model's variant did besides its return: memory, consistency, actions and cost.
pub struct ModelView {
    pub variant: String,
    pub blind: bool,
    pub series: String,
    pub period: String,
    pub memory_gap: Cell,
    pub memory_gap_sharpe: Cell,
    pub warning: Option<String>,
    pub consistency: String,
    pub mix: String,
    pub degenerate: bool,
    /// Decisions, with the failed ones under them.
    pub decisions: Cell,
    /// Calls, with the cache's answers under them.
    pub calls: Cell,
    pub tokens: String,
    pub money: String,
    /// Mean latency, with the 95th percentile under it.
    pub latency: Cell,
}

pub struct CostView {
    pub decisions: String,
    pub failed: String,
    pub calls: String,
    pub cache_hits: String,
    pub prompt_tokens: String,
    pub completion_tokens: String,
    pub money: String,
    pub latency_mean: String,
    pub latency_p95: String,
}

/// An experiment's leaderboard as its page and its report show it.
pub struct BoardView {
    pub status: &'static str,
    /// Nothing runs (every task has ended, or the experiment is paused): the page stops
    /// refreshing, and a resume from it reloads it.
    pub ended: bool,
    pub error_message: Option<String>,
    pub progress_pct: f64,
    pub progress_text: String,
    pub rows: Vec<RowView>,
    pub splits: Vec<SplitView>,
    pub models: Vec<ModelView>,
    /// The whole experiment's model cost, when it asked a model.
    pub cost: Option<CostView>,
    pub notes: Vec<String>,
    /// Whether runs link to their task pages (a page) or not (a report read from a file).
    pub links: bool,
}

/// A baseline's or a period's name in the page's language; a strategy's as its spec names it.
pub fn variant_name(tr: Tr, variant: &str, kind: RowKind) -> String {
    match kind {
        RowKind::Strategy => variant.to_string(),
        RowKind::Baseline | RowKind::Random => tr.of("variant", variant),
    }
}

pub fn period_name(tr: Tr, period: &str) -> String {
    tr.of("period", period)
}

/// An experiment's progress: the bar's width (decisions taken of those planned) and its text.
pub fn progress_view(tr: Tr, p: &Progress) -> (f64, String) {
    let pct = if p.total_items > 0 {
        (p.processed_items as f64 / p.total_items as f64 * 100.0).min(100.0)
    } else if p.tasks > 0 {
        p.finished as f64 / p.tasks as f64 * 100.0
    } else {
        0.0
    };
    let mut text = tr
        .t("experiment.progress_text")
        .replace("{finished}", &p.finished.to_string())
        .replace("{tasks}", &p.tasks.to_string())
        .replace("{pct}", &format!("{pct:.0}"));
    if p.failed > 0 {
        text.push_str(" · ");
        text.push_str(
            &tr.t("experiment.failed_tasks")
                .replace("{failed}", &p.failed.to_string()),
        );
    }
    (pct, text)
}

fn spread_cell(spread: Option<Spread>, main: impl Fn(f64) -> String, places: usize) -> Cell {
    let Some(s) = spread else {
        return Cell::empty();
    };
    let range = if s.max > s.min {
        format!("{:.*} … {:.*}", places, s.min + 0.0, places, s.max + 0.0)
    } else {
        String::new()
    };
    let std = s
        .std
        .map(|std| format!("σ {:.*}", places, std + 0.0))
        .unwrap_or_default();
    Cell::new(main(s.mean), range, std)
}

fn difference_cell(d: Option<Difference>, places: usize) -> Cell {
    let Some(d) = d else {
        return Cell::empty();
    };
    let mut cell = Cell::new(
        signed(Some(d.estimate), places),
        format!(
            "[{}, {}]",
            signed(Some(d.low), places),
            signed(Some(d.high), places)
        ),
        format!("p {:.2}", d.p_value + 0.0),
    );
    // Coloured only when the interval leaves out zero.
    cell.class = if d.low > 0.0 {
        "up"
    } else if d.high < 0.0 {
        "down"
    } else {
        ""
    };
    cell
}

fn comparison_cells(c: Option<Comparison>) -> (Cell, Cell) {
    (
        difference_cell(c.map(|c| c.return_pct), 1),
        difference_cell(c.and_then(|c| c.sharpe), 2),
    )
}

fn row_view(tr: Tr, row: &VariantRow) -> RowView {
    let (vs_return, vs_sharpe) = comparison_cells(row.vs_buy_hold);
    let mut return_pct = spread_cell(row.return_pct, |m| percent(Some(m)), 1);
    return_pct.class = signed_class(row.return_pct.map(|s| s.mean));
    RowView {
        variant: variant_name(tr, &row.variant, row.kind),
        kind: match row.kind {
            RowKind::Strategy => "strategy",
            RowKind::Baseline => "baseline",
            RowKind::Random => "random",
        },
        blind: row.blind,
        series: row.stock_symbol.clone(),
        period: period_name(tr, &row.period),
        runs: format!("{}/{}", row.finished, row.runs),
        return_pct,
        sharpe: spread_cell(row.sharpe, |m| fixed(Some(m), 2), 2),
        drawdown: spread_cell(row.max_drawdown_pct, |m| fixed(Some(m), 1), 1),
        trades: spread_cell(row.trades, |m| fixed(Some(m), 1), 0),
        beat: share(row.beat_buy_hold),
        luck: fixed(row.luck_percentile, 0),
        vs_return,
        vs_sharpe,
        psr: fixed(row.psr, 2),
        dsr: fixed(row.dsr, 2),
    }
}

fn split_view(tr: Tr, s: &SplitRow) -> SplitView {
    let cell = |v: Option<f64>| Cell {
        class: signed_class(v),
        ..Cell::plain(v.map_or_else(|| "—".into(), |v| percent(Some(v))))
    };
    SplitView {
        variant: s.variant.clone(),
        blind: s.blind,
        series: s.stock_symbol.clone(),
        periods: format!(
            "{} → {}",
            period_name(tr, &s.in_sample),
            period_name(tr, &s.out_of_sample)
        ),
        in_return: cell(s.in_sample_return_pct),
        out_return: cell(s.out_of_sample_return_pct),
        return_drop: cell(s.return_drop_pct),
        in_sharpe: fixed(s.in_sample_sharpe, 2),
        out_sharpe: fixed(s.out_of_sample_sharpe, 2),
        sharpe_drop: Cell {
            class: signed_class(s.sharpe_drop),
            ..Cell::plain(signed(s.sharpe_drop, 2))
        },
    }
}

pub fn cost_view(cost: &Cost) -> CostView {
    let count = |n: u64| thousands(i64::try_from(n).unwrap_or(i64::MAX));
    CostView {
        decisions: count(cost.decisions),
        failed: count(cost.failed_decisions),
        calls: thousands(cost.llm_calls),
        cache_hits: count(cost.cache_hits),
        prompt_tokens: thousands(cost.prompt_tokens),
        completion_tokens: thousands(cost.completion_tokens),
        money: cost.money.as_deref().map_or_else(|| "—".into(), money),
        latency_mean: fixed(cost.latency_mean_ms, 0),
        latency_p95: cost
            .latency_p95_ms
            .map_or_else(|| "—".into(), |l| l.to_string()),
    }
}

fn model_view(tr: Tr, row: &VariantRow, cost: &Cost) -> ModelView {
    let (memory_gap, memory_gap_sharpe) = comparison_cells(row.memory_gap);
    let c = cost_view(cost);
    ModelView {
        variant: row.variant.clone(),
        blind: row.blind,
        series: row.stock_symbol.clone(),
        period: period_name(tr, &row.period),
        memory_gap,
        memory_gap_sharpe,
        warning: row.memorisation_warning.clone(),
        consistency: share(row.consistency),
        mix: row.action_mix.map_or_else(
            || "—".into(),
            |m| {
                format!(
                    "{:.0} / {:.0} / {:.0} / {:.0} / {:.0}",
                    m.buy * 100.0,
                    m.sell * 100.0,
                    m.short * 100.0,
                    m.cover * 100.0,
                    m.hold * 100.0
                )
            },
        ),
        degenerate: row.action_mix.is_some_and(|m| m.degenerate),
        decisions: Cell::new(
            c.decisions,
            format!("{} {}", c.failed, tr.t("cost.failed")),
            String::new(),
        ),
        calls: Cell::new(
            c.calls,
            format!("{} {}", c.cache_hits, tr.t("cost.cached")),
            String::new(),
        ),
        tokens: format!("{} + {}", c.prompt_tokens, c.completion_tokens),
        money: c.money,
        latency: Cell::new(
            c.latency_mean,
            format!("p95 {}", c.latency_p95),
            String::new(),
        ),
    }
}

/// The leaderboard as people read it.
pub fn board_view(tr: Tr, board: &Leaderboard, links: bool) -> BoardView {
    let (progress_pct, progress_text) = progress_view(tr, &board.progress);
    let status = board.status;
    BoardView {
        status: status.as_str(),
        ended: !status.is_live(),
        error_message: board.error_message.clone(),
        progress_pct,
        progress_text,
        rows: board.rows.iter().map(|r| row_view(tr, r)).collect(),
        splits: board.splits.iter().map(|s| split_view(tr, s)).collect(),
        models: board
            .rows
            .iter()
            .filter_map(|r| Some(model_view(tr, r, r.cost.as_ref()?)))
            .collect(),
        cost: board
            .rows
            .iter()
            .any(|r| r.cost.is_some())
            .then(|| cost_view(&board.cost)),
        notes: board.notes.clone(),
        links,
    }
}

/// One task of the grid.
pub struct RunView {
    pub task_id: String,
    pub short_id: String,
    pub variant: String,
    pub blind: bool,
    pub series: String,
    pub period: String,
    pub repeat: i64,
    pub status: &'static str,
    pub progress: String,
    pub return_pct: String,
    pub return_class: &'static str,
}

/// The experiment's runs with their tasks, in the order the store lists them.
pub fn runs_view(tr: Tr, runs: &[ExperimentRun], tasks: &[Task]) -> Vec<RunView> {
    runs.iter()
        .zip(tasks)
        .map(|(run, task)| {
            let kind = match run.role {
                aibt_store::RunRole::Strategy => RowKind::Strategy,
                aibt_store::RunRole::Baseline => RowKind::Baseline,
            };
            let return_pct = task.stats.as_ref().and_then(|s| s["return_pct"].as_f64());
            RunView {
                task_id: task.task_id.clone(),
                short_id: short_id(&task.task_id),
                variant: variant_name(tr, &run.variant, kind),
                blind: run.blind,
                series: run.stock_symbol.clone(),
                period: period_name(tr, &run.period),
                repeat: run.repeat_index + 1,
                status: task.status.as_str(),
                progress: format!("{:.0}%", task.progress_pct()),
                return_pct: percent(return_pct),
                return_class: signed_class(return_pct),
            }
        })
        .collect()
}
