//! The report of an experiment: what it ran (series, periods, strategies, account), how far it
//! is, its whole leaderboard with a legend, in and out of sample, models and cost, notes, and
//! per series and period a chart of each variant's return against buy-and-hold and luck, and
//! the equity of each strategy's first repeat against buy-and-hold.

use aibt_engine::experiment::board::{RowKind, VariantRow};
use aibt_engine::experiment::create::spec_of;
use aibt_engine::experiment::spec::{ExperimentSpec, Period, StrategySpec};
use aibt_engine::experiment::{experiment_tasks, leaderboard};
use aibt_store::{ExperimentRun, RunRole, Store, Task};
use askama::Template;

use crate::report::page::{CSS, ReportError, account_rows, fill_text, generated_at};
use crate::report::svg::{self, Band, HOLD, Line, Mark, PALETTE, Range};
use crate::ui::board::{BoardView, RunView, board_view, period_name, runs_view, variant_name};
use crate::ui::charts::equity_lines;
use crate::ui::format::{StatRow, time};
use crate::ui::i18n::{Lang, Tr};

/// Points of each equity line: enough for the eye, little for the file.
const EQUITY_POINTS: usize = 500;

/// One strategy of the spec, as a line of its summary.
pub struct StrategyView {
    pub name: String,
    pub source: String,
    pub repeats: u32,
    pub temperature: Option<String>,
    pub blind_twin: bool,
    pub template: Option<String>,
}

/// The charts of one series in one period.
pub struct ChartGroup {
    pub title: String,
    pub returns: String,
    pub equity: String,
}

#[derive(Template)]
#[template(path = "report_experiment.html")]
pub struct ExperimentReport {
    tr: Tr,
    css: &'static str,
    generated: String,
    id: String,
    name: String,
    created: String,
    series: Vec<String>,
    periods: Vec<StatRow>,
    strategies: Vec<StrategyView>,
    settings: Vec<StatRow>,
    account: Vec<StatRow>,
    board: BoardView,
    runs: Vec<RunView>,
    charts: Vec<ChartGroup>,
}

fn strategy_view(tr: Tr, strategy: &StrategySpec) -> StrategyView {
    let source = match &strategy.builtin {
        Some(rule) => {
            let params: Vec<String> = strategy
                .params_text()
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            format!("builtin:{rule} {}", params.join(" "))
        }
        None => {
            let model = strategy
                .ai_config
                .clone()
                .or_else(|| strategy.model.clone())
                .unwrap_or_default();
            format!("{} · {model}", tr.t("field.template"))
        }
    };
    StrategyView {
        name: strategy.name.clone(),
        source: source.trim().to_string(),
        repeats: strategy.repeats(),
        temperature: strategy.temperature.clone(),
        blind_twin: strategy.blind_twin,
        template: strategy
            .template_content
            .clone()
            .or_else(|| strategy.user_prompt_id.clone()),
    }
}

fn settings(tr: Tr, spec: &ExperimentSpec) -> Vec<StatRow> {
    let row = |label: &str, value: String| StatRow {
        label: label.into(),
        value,
    };
    let mut rows = vec![
        row("field.interval", spec.decision_interval.to_string()),
        row("field.fill", fill_text(tr, spec.fill)),
        row(
            "report.baselines",
            tr.t("report.baselines_text")
                .replace("{random}", &spec.baselines.random.to_string()),
        ),
        row("report.seed", spec.seed.to_string()),
    ];
    if let Some(budget) = &spec.budget {
        rows.push(row("report.budget", budget.to_string()));
    }
    rows
}

/// The distinct series the runs trade, as `GOOG · US · daily`.
fn series_of(runs: &[ExperimentRun]) -> Vec<String> {
    let mut seen = Vec::new();
    for run in runs {
        let text = format!(
            "{} · {} · {}",
            run.stock_symbol, run.market_type, run.time_granularity
        );
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    seen
}

fn shown_name(tr: Tr, row: &VariantRow) -> String {
    let name = variant_name(tr, &row.variant, row.kind);
    if row.blind {
        format!("{name} ({})", tr.t("board.blind"))
    } else {
        name
    }
}

/// A strategy's colour, the same in every chart: by its place in the spec.
fn color_of(strategies: &[String], variant: &str) -> &'static str {
    let index = strategies.iter().position(|s| s == variant).unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

/// The returns chart of one series in one period: each strategy's mean with its min–max,
/// buy-and-hold's return marked, the random runs' spread shaded.
fn returns_chart(tr: Tr, strategies: &[String], title: &str, rows: &[&VariantRow]) -> String {
    let ranges: Vec<Range> = rows
        .iter()
        .filter(|r| r.kind == RowKind::Strategy)
        .filter_map(|r| {
            let s = r.return_pct?;
            Some(Range {
                label: shown_name(tr, r),
                color: color_of(strategies, &r.variant),
                mean: s.mean,
                min: s.min,
                max: s.max,
            })
        })
        .collect();
    let mark = rows
        .iter()
        .find(|r| r.kind == RowKind::Baseline && r.variant == "buy-and-hold")
        .and_then(|r| {
            Some(Mark {
                label: variant_name(tr, &r.variant, r.kind),
                value: r.return_pct?.mean,
            })
        });
    let band = rows
        .iter()
        .find(|r| r.kind == RowKind::Random)
        .and_then(|r| {
            let s = r.return_pct?;
            Some(Band {
                label: tr.t("report.random_band").to_string(),
                min: s.min,
                max: s.max,
                mean: s.mean,
            })
        });
    svg::range_chart(title, &ranges, mark.as_ref(), band.as_ref(), "%")
}

/// The equity of each strategy's first repeat (and its blind twin's) against buy-and-hold.
async fn equity_chart(
    store: &dyn Store,
    tr: Tr,
    strategies: &[String],
    title: &str,
    runs: &[(&ExperimentRun, &Task)],
) -> Result<String, ReportError> {
    let mut lines = Vec::new();
    let mut hold = None;
    for (run, task) in runs {
        let is_hold = run.role == RunRole::Baseline && run.variant == "buy-and-hold";
        if !(is_hold || run.role == RunRole::Strategy && run.repeat_index == 0) {
            continue;
        }
        let points: Vec<(i64, f64)> = equity_lines(store, &task.task_id, EQUITY_POINTS)
            .await?
            .equity
            .iter()
            .map(|p| (p.time, p.value))
            .collect();
        if is_hold {
            hold = Some(Line {
                label: variant_name(tr, &run.variant, RowKind::Baseline),
                color: HOLD,
                dashed: true,
                points,
            });
            continue;
        }
        let label = if run.blind {
            format!("{} ({})", run.variant, tr.t("board.blind"))
        } else {
            run.variant.clone()
        };
        lines.push(Line {
            label,
            color: color_of(strategies, &run.variant),
            dashed: run.blind,
            points,
        });
    }
    lines.extend(hold);
    Ok(svg::line_chart(title, &lines, "", false))
}

/// The charts of each series in each period, in the leaderboard's order.
async fn charts(
    store: &dyn Store,
    tr: Tr,
    rows: &[VariantRow],
    runs: &[ExperimentRun],
    tasks: &[Task],
    periods: &[Period],
    strategies: &[String],
) -> Result<Vec<ChartGroup>, ReportError> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        let key = (row.stock_symbol.as_str(), row.period.as_str());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    let mut charts = Vec::new();
    for (symbol, period) in groups {
        let span = periods
            .iter()
            .find(|p| p.name == period)
            .map(|p| {
                let granularity = aibt_core::TimeGranularity::Daily;
                format!(
                    " ({} → {})",
                    time(p.start, granularity),
                    time(p.end, granularity)
                )
            })
            .unwrap_or_default();
        let title = format!("{symbol} · {}{span}", period_name(tr, period));
        let in_group: Vec<&VariantRow> = rows
            .iter()
            .filter(|r| r.stock_symbol == symbol && r.period == period)
            .collect();
        let group_runs: Vec<(&ExperimentRun, &Task)> = runs
            .iter()
            .zip(tasks)
            .filter(|(run, _)| run.stock_symbol == symbol && run.period == period)
            .collect();
        charts.push(ChartGroup {
            returns: returns_chart(tr, strategies, &title, &in_group),
            equity: equity_chart(store, tr, strategies, &title, &group_runs).await?,
            title,
        });
    }
    Ok(charts)
}

/// The report of an experiment, as one self-contained HTML page.
pub async fn experiment_report(
    store: &dyn Store,
    experiment_id: &str,
    lang: Lang,
) -> Result<String, ReportError> {
    let tr = Tr { lang };
    let board = leaderboard(store, experiment_id).await?;
    let (experiment, runs, tasks) = experiment_tasks(store, experiment_id).await?;
    let spec = spec_of(&experiment)?;
    let (periods, _) = spec.periods()?;
    let account = match tasks.first() {
        Some(task) => account_rows(tr, &store.get_task_account(&task.task_id).await?),
        None => Vec::new(),
    };
    let strategies: Vec<String> = spec.strategies.iter().map(|s| s.name.clone()).collect();
    let charts = charts(store, tr, &board.rows, &runs, &tasks, &periods, &strategies).await?;
    let daily = aibt_core::TimeGranularity::Daily;
    let report = ExperimentReport {
        tr,
        css: CSS,
        generated: generated_at(tr),
        id: experiment.experiment_id.clone(),
        name: experiment.name.clone(),
        created: experiment
            .created_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        series: series_of(&runs),
        periods: periods
            .iter()
            .map(|p| StatRow {
                label: period_name(tr, &p.name),
                value: format!("{} → {}", time(p.start, daily), time(p.end, daily)),
            })
            .collect(),
        strategies: spec
            .strategies
            .iter()
            .map(|s| strategy_view(tr, s))
            .collect(),
        settings: settings(tr, &spec),
        account,
        board: board_view(tr, &board, false),
        runs: runs_view(tr, &runs, &tasks),
        charts,
    };
    Ok(report.render()?)
}
