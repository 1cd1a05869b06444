//! `/experiments/new`: an experiment's spec in TOML, typed or uploaded as a file, planned
//! (what it would run and cost, nothing created) or run; the engine's refusal, which names the
//! spec's field (`spec.strategies[0].repeats`), is shown next to the text.

use aibt_engine::experiment::PlanSummary;
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::experiments::{insert_experiment, plan_summary};
use crate::ui::form::{FormState, form_page};
use crate::ui::format::{StatRow, money, thousands};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{refused, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/experiments/new", get(new_experiment).post(submit))
}

/// A spec that runs on the bundled data without a model, in about a second.
pub const EXAMPLE_SPEC: &str = include_str!("../../../../../examples/rules-experiment.toml");

/// What a plan would run and cost.
pub struct PlanView {
    rows: Vec<StatRow>,
    notes: Vec<String>,
}

fn plan_view(tr: Tr, summary: &PlanSummary) -> PlanView {
    let count = |n: u64| thousands(i64::try_from(n).unwrap_or(i64::MAX));
    let money = |m: &Option<String>| {
        m.as_deref()
            .map_or_else(|| tr.t("plan.no_price").into(), money)
    };
    let mut tokens = count(summary.prompt_tokens);
    if !summary.exact {
        tokens = format!("{tokens} ({})", tr.t("plan.estimated"));
    }
    let row = |label: &str, value: String| StatRow {
        label: label.to_string(),
        value,
    };
    PlanView {
        rows: vec![
            row("plan.tasks", summary.tasks.to_string()),
            row("plan.model_tasks", summary.model_tasks.to_string()),
            row("plan.model_decisions", count(summary.model_decisions)),
            row("plan.cached", count(summary.cached)),
            row("plan.calls", count(summary.calls)),
            row("plan.prompt_tokens", tokens),
            row("plan.prompt_money", money(&summary.prompt_money)),
            row(
                "plan.completion_money_max",
                money(&summary.completion_money_max),
            ),
        ],
        notes: summary.notes.clone(),
    }
}

#[derive(Template)]
#[template(path = "new_experiment.html")]
pub struct NewExperimentPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    plan: Option<PlanView>,
}
form_page!(NewExperimentPage);

async fn new_experiment(UiLang(tr): UiLang) -> Response {
    render(&NewExperimentPage {
        tr,
        nav: "experiments",
        form: FormState::with(&[("spec", EXAMPLE_SPEC)]),
        plan: None,
    })
}

/// The submitted form: the spec (an uploaded file's text wins over the text area's) and
/// which button was pressed.
async fn read_form(mut multipart: Multipart) -> (FormState, String) {
    let mut spec = String::new();
    let mut file: Option<Result<String, String>> = None;
    let mut intent = String::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                let mut form = FormState::with(&[("spec", &spec)]);
                form.fail("", error.body_text());
                return (form, intent);
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.unwrap_or_default();
        match name.as_str() {
            "spec" => spec = String::from_utf8_lossy(&bytes).into_owned(),
            "intent" => intent = String::from_utf8_lossy(&bytes).trim().to_string(),
            "file" if !bytes.is_empty() => {
                file = Some(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|_| format!("file: {file_name} is not UTF-8 text")),
                );
            }
            _ => {}
        }
    }
    match file {
        Some(Ok(text)) => (FormState::with(&[("spec", &text)]), intent),
        Some(Err(message)) => {
            let mut form = FormState::with(&[("spec", &spec)]);
            form.fail("file", message);
            (form, intent)
        }
        None => (FormState::with(&[("spec", &spec)]), intent),
    }
}

/// Every refusal of a spec concerns the spec: the engine's message names the field in it.
fn spec_error(form: &mut FormState, error: ApiError) {
    form.fail("spec", error.detail.message);
}

async fn submit(State(state): State<AppState>, UiLang(tr): UiLang, body: Multipart) -> Response {
    let (mut form, intent) = read_form(body).await;
    let mut plan = None;
    if form.ok() {
        let body = json!({ "toml": form.v("spec") });
        if intent == "run" {
            match insert_experiment(&state, body).await {
                Ok(id) => return Redirect::to(&format!("/experiments/{id}")).into_response(),
                Err(error) => spec_error(&mut form, error),
            }
        } else {
            match plan_summary(&state, body).await {
                Ok(summary) => plan = Some(plan_view(tr, &summary)),
                Err(error) => spec_error(&mut form, error),
            }
        }
    }
    let ok = form.ok();
    let page = render(&NewExperimentPage {
        tr,
        nav: "experiments",
        form,
        plan,
    });
    if ok { page } else { refused(page) }
}
