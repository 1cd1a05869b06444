//! The report of one backtest: its settings, every statistic (the task page's lists), what its
//! model cost, equity against buy-and-hold and the drawdown, and its first trades and
//! decisions, bounded so that a long rule backtest still makes a file of a few hundred
//! kilobytes (the exports hold every record).

use aibt_engine::TaskOptions;
use aibt_engine::experiment::load::money_of;
use aibt_engine::task::task_detail;
use aibt_store::{RecordQuery, Store, Task};
use askama::Template;
use serde_json::Value;

use crate::report::page::{CSS, ReportError, account_rows, fill_text, generated_at, yes_no};
use crate::report::svg::{self, HOLD, Line, PALETTE};
use crate::ui::charts::equity_lines;
use crate::ui::format::{
    self, MODEL_STATS, STATS, StatRow, action_mix_row, degenerate_text, period, stat_rows,
    strategy_label, thousands,
};
use crate::ui::i18n::{Lang, Tr};
use crate::ui::records::{DecisionRow, TradeRows, decision_row, trade_row};

/// Points of the equity and drawdown lines.
const EQUITY_POINTS: usize = 1000;
/// Trades and decisions a report lists at most.
const MAX_TRADES: u32 = 500;
const MAX_DECISIONS: u32 = 300;

#[derive(Template)]
#[template(path = "report_task.html")]
pub struct TaskReport {
    tr: Tr,
    css: &'static str,
    generated: String,
    task: Task,
    title: String,
    settings: Vec<StatRow>,
    account: Vec<StatRow>,
    memorisation_warning: Option<String>,
    /// One action is at least 95 % of the decisions: `HOLD 97 %`.
    degenerate: Option<String>,
    stats: Vec<StatRow>,
    model_stats: Vec<StatRow>,
    equity_chart: String,
    drawdown_chart: String,
    trades: String,
    more_trades: Option<String>,
    decisions: Vec<DecisionRow>,
    more_decisions: Option<String>,
    template: Option<String>,
}

/// The settings a task ran with, and for a model's task which model and template.
async fn settings(
    store: &dyn Store,
    tr: Tr,
    task: &Task,
    options: &TaskOptions,
) -> Result<(Vec<StatRow>, Option<String>), ReportError> {
    let row = |label: &str, value: String| StatRow {
        label: label.into(),
        value,
    };
    let mut rows = vec![
        row("field.strategy", strategy_label(task)),
        row(
            "field.series",
            format!(
                "{} · {} · {}",
                task.stock_symbol,
                task.market_type.map(|m| m.to_string()).unwrap_or_default(),
                task.time_granularity
            ),
        ),
        row(
            "field.period",
            period(task.start_date, task.end_date, task.time_granularity),
        ),
        row("field.interval", task.decision_interval.to_string()),
        row("field.fill", fill_text(tr, options.fill)),
        row("field.status", tr.of("status", task.status.as_str())),
        row(
            "field.created",
            task.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ];
    if let Some(done) = task.completed_at {
        rows.push(row(
            "report.completed",
            done.format("%Y-%m-%d %H:%M UTC").to_string(),
        ));
    }
    let mut template = options.template_content.clone();
    if let Some(config_id) = &task.ai_config_id {
        // The model's name only: a config's name and address may say where a private server
        // is, which a report passed around should not. A deleted config leaves the report
        // without the name, not without a report.
        if let Ok(config) = store.get_ai_config(config_id).await {
            rows.push(row("field.model", config.local_ai_model_name));
        }
        rows.push(row("field.blind", yes_no(tr, options.blind)));
        if let Some(temperature) = options.temperature {
            rows.push(row("field.temperature", temperature.to_string()));
        }
        if let Some(seed) = options.seed {
            rows.push(row("report.seed", seed.to_string()));
        }
        if template.is_none()
            && let Some(prompt_id) = &task.user_prompt_id
            && let Ok(stored) = store.get_template(prompt_id).await
        {
            template = Some(stored.content);
        }
    }
    Ok((rows, template))
}

/// The model's statistics, and what its tokens cost by its AI config's prices.
async fn model_rows(store: &dyn Store, tr: Tr, task: &Task, stats: &Value) -> Vec<StatRow> {
    let mut rows = stat_rows(stats, MODEL_STATS);
    if rows.is_empty() {
        return rows;
    }
    rows.extend(action_mix_row(tr, stats));
    // Decisions record their cost since schema version 5; an older task is priced now.
    if stats.get("cost").is_some_and(Value::is_string) {
        return rows;
    }
    let tokens = |key: &str| stats.get(key).and_then(Value::as_i64).unwrap_or(0);
    let money = money_of(
        store,
        task,
        tokens("prompt_tokens"),
        tokens("completion_tokens"),
    )
    .await;
    rows.push(StatRow {
        label: "cost.money".into(),
        value: money.map_or_else(
            || tr.t("plan.no_price").to_string(),
            |m| format::money(&m.to_string()),
        ),
    });
    rows
}

/// Equity against buy-and-hold, and the drawdown, as two charts.
async fn charts(store: &dyn Store, tr: Tr, task: &Task) -> Result<(String, String), ReportError> {
    let lines = equity_lines(store, &task.task_id, EQUITY_POINTS).await?;
    let points = |line: &[crate::ui::charts::Point]| -> Vec<(i64, f64)> {
        line.iter().map(|p| (p.time, p.value)).collect()
    };
    let equity = points(&lines.equity);
    let equity_chart = svg::line_chart(
        tr.t("task.equity"),
        &[
            Line {
                label: tr.t("js.equity").into(),
                color: PALETTE[0],
                dashed: false,
                points: equity.clone(),
            },
            Line {
                label: tr.t("js.buy_hold").into(),
                color: HOLD,
                dashed: true,
                points: points(&lines.buy_hold),
            },
        ],
        "",
        false,
    );
    let drawdown_chart = svg::line_chart(
        tr.t("task.drawdown"),
        &[Line {
            label: tr.t("js.drawdown").into(),
            color: "#dc2626",
            dashed: false,
            points: svg::drawdown(&equity),
        }],
        "%",
        true,
    );
    Ok((equity_chart, drawdown_chart))
}

/// The first `max` of `items`, read one beyond it, and when there were more, the note "the
/// first N …; the export has them all" (`key` says of what).
fn bounded<T>(
    tr: Tr,
    mut items: Vec<T>,
    max: u32,
    key: &str,
    task_id: &str,
) -> (Vec<T>, Option<String>) {
    let shown = max as usize;
    let more = (items.len() > shown).then(|| {
        tr.t(key)
            .replace("{n}", &thousands(i64::from(max)))
            .replace("{id}", task_id)
    });
    items.truncate(shown);
    (items, more)
}

/// The report of a task, as one self-contained HTML page.
pub async fn task_report(
    store: &dyn Store,
    task_id: &str,
    lang: Lang,
) -> Result<String, ReportError> {
    let tr = Tr { lang };
    let task = store.get_task(task_id).await?;
    let detail = task_detail(store, task.clone()).await?;
    let options = TaskOptions::of_task(&task)?;
    let stats = task.stats.clone().unwrap_or(Value::Null);
    let (settings, template) = settings(store, tr, &task, &options).await?;
    let account = account_rows(tr, &store.get_task_account(task_id).await?);
    let (equity_chart, drawdown_chart) = charts(store, tr, &task).await?;
    let first = |limit: u32| RecordQuery {
        limit: limit + 1,
        ..RecordQuery::default()
    };
    let (trades, more_trades) = bounded(
        tr,
        store.list_trades(task_id, &first(MAX_TRADES)).await?.items,
        MAX_TRADES,
        "report.more_trades",
        task_id,
    );
    let (decisions, more_decisions) = bounded(
        tr,
        store
            .list_decisions(task_id, &first(MAX_DECISIONS))
            .await?
            .items,
        MAX_DECISIONS,
        "report.more_decisions",
        task_id,
    );
    let trades = TradeRows {
        tr,
        task_id: task_id.to_string(),
        rows: trades.iter().map(|t| trade_row(t, &task)).collect(),
        first: true,
        next: None,
    }
    .render()?;
    let report = TaskReport {
        tr,
        css: CSS,
        generated: generated_at(tr),
        title: format!("{} · {}", task.stock_symbol, strategy_label(&task)),
        settings,
        account,
        memorisation_warning: detail.memorisation_warning,
        degenerate: degenerate_text(tr, &stats),
        stats: stat_rows(&stats, STATS),
        model_stats: model_rows(store, tr, &task, &stats).await,
        equity_chart,
        drawdown_chart,
        trades,
        more_trades,
        decisions: decisions.iter().map(|d| decision_row(d, &task)).collect(),
        more_decisions,
        template,
        task,
    };
    Ok(report.render()?)
}
