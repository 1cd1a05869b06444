//! What both reports share: their style (the web UI's, with print rules), when they were
//! written, the account a run traded with, and the one error a report can end in.

use aibt_engine::EngineError;
use aibt_store::{StoreError, VirtualAccount};

use crate::error::ApiError;
use crate::ui::form::ACCOUNT_FIELDS;
use crate::ui::format::{StatRow, decimal};
use crate::ui::i18n::Tr;

/// The web UI's style and the report's own (layout, charts, print), inlined in every report.
pub const CSS: &str = concat!(
    include_str!("../../assets/ui/app.css"),
    include_str!("../../assets/report/report.css")
);

/// When a report was written, to the minute, in UTC: "Written by aibt on …".
pub fn generated_at(tr: Tr) -> String {
    let at = aibt_core::time::now().format("%Y-%m-%d %H:%M UTC");
    tr.t("report.generated").replace("{at}", &at.to_string())
}

/// A task's account as settings a person reads: cash, fees, margin, slippage, fractions.
pub fn account_rows(tr: Tr, account: &VirtualAccount) -> Vec<StatRow> {
    let values = [
        decimal(&account.initial_balance.to_string(), 2),
        decimal(&account.commission_rate_buy.to_string(), 6),
        decimal(&account.commission_rate_sell.to_string(), 6),
        decimal(&account.tax_rate.to_string(), 6),
        decimal(&account.min_commission.to_string(), 2),
        decimal(&account.short_margin_ratio.to_string(), 4),
        decimal(&account.slippage.to_string(), 6),
        decimal(&account.borrow_rate.to_string(), 6),
    ];
    let mut rows: Vec<StatRow> = ACCOUNT_FIELDS
        .iter()
        .zip(values)
        .map(|((_, label), value)| StatRow {
            label: label.to_string(),
            value,
        })
        .collect();
    rows.push(StatRow {
        label: "field.fractional".into(),
        value: yes_no(tr, account.allow_fractional_shares),
    });
    rows
}

/// How orders fill, in words.
pub fn fill_text(tr: Tr, fill: aibt_core::FillRule) -> String {
    tr.t(match fill {
        aibt_core::FillRule::NextOpen => "field.fill.next_open",
        aibt_core::FillRule::Close => "field.fill.close",
    })
    .to_string()
}

pub fn yes_no(tr: Tr, yes: bool) -> String {
    tr.t(if yes { "report.yes" } else { "report.no" })
        .to_string()
}

/// Why a report could not be written: what the engine or the store refused, or a template
/// that failed to render (a bug).
#[derive(Debug)]
pub enum ReportError {
    Engine(EngineError),
    Render(askama::Error),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Engine(error) => error.fmt(f),
            ReportError::Render(error) => write!(f, "rendering the report: {error}"),
        }
    }
}

impl std::error::Error for ReportError {}

impl From<EngineError> for ReportError {
    fn from(error: EngineError) -> ReportError {
        ReportError::Engine(error)
    }
}

impl From<StoreError> for ReportError {
    fn from(error: StoreError) -> ReportError {
        ReportError::Engine(error.into())
    }
}

impl From<askama::Error> for ReportError {
    fn from(error: askama::Error) -> ReportError {
        ReportError::Render(error)
    }
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> ApiError {
        match error {
            ReportError::Engine(error) => error.into(),
            ReportError::Render(error) => ApiError::internal(error),
        }
    }
}
