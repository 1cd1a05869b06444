//! `/templates`: prompt templates, created and edited with the line of any mistake shown next
//! to the text, and a template's prompt previewed for a real bar before a model is asked.

use aibt_store::PromptTemplate;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::AppState;
use crate::routes::templates::{
    PreviewRequest, TemplateCreate, TemplateUpdate, change_template, insert_template, preview,
};
use crate::ui::choices::{Choice, ensure_series, series_choices};
use crate::ui::form::{FormState, form_page};
use crate::ui::i18n::{Tr, UiLang};
use crate::ui::respond::{page_try, refused, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(templates).post(create_template))
        .route("/templates/{prompt_id}", get(template).post(save_template))
        .route("/templates/{prompt_id}/preview", post(preview_template))
}

const SAMPLE_TEMPLATE: &str = include_str!("../../../../../examples/trend-follower.j2");

#[derive(Template)]
#[template(path = "templates.html")]
pub struct TemplatesPage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    templates: Vec<PromptTemplate>,
    variables: Vec<&'static str>,
}
form_page!(TemplatesPage);

async fn templates_page(state: &AppState, tr: Tr, form: FormState) -> Response {
    let templates = page_try!(state.store.list_templates(false, 500, None).await);
    render(&TemplatesPage {
        tr,
        nav: "templates",
        form,
        templates: templates.items,
        variables: aibt_ai::template::VARIABLES.to_vec(),
    })
}

async fn templates(State(state): State<AppState>, UiLang(tr): UiLang) -> Response {
    let form = FormState::with(&[
        ("content", SAMPLE_TEMPLATE),
        ("description", "trend follower"),
    ]);
    templates_page(&state, tr, form).await
}

async fn create_template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let body = TemplateCreate {
        content: form.v("content").to_string(),
        description: form.get("description"),
        tags: None,
        status: None,
    };
    match insert_template(&state, body).await {
        Ok(template) => Redirect::to(&format!("/templates/{}", template.prompt_id)).into_response(),
        Err(error) => {
            form.api_error_same(error);
            refused(templates_page(&state, tr, form).await)
        }
    }
}

#[derive(Template)]
#[template(path = "template.html")]
pub struct TemplatePage {
    tr: Tr,
    nav: &'static str,
    form: FormState,
    template: PromptTemplate,
    series: Vec<Choice>,
    at: String,
    saved: bool,
    variables: Vec<&'static str>,
}
form_page!(TemplatePage);

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

async fn template_page(
    state: &AppState,
    tr: Tr,
    template: PromptTemplate,
    form: FormState,
    saved: bool,
) -> Response {
    let series = page_try!(series_choices(state, tr).await);
    render(&TemplatePage {
        tr,
        nav: "templates",
        form,
        template,
        series,
        at: "2012-03-01".into(),
        saved,
        variables: aibt_ai::template::VARIABLES.to_vec(),
    })
}

async fn template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(prompt_id): Path<String>,
    Query(query): Query<SavedQuery>,
) -> Response {
    let template = page_try!(state.store.get_template(&prompt_id).await);
    let form = FormState::with(&[
        ("content", template.content.as_str()),
        ("description", template.description.as_deref().unwrap_or("")),
        ("status", template.status.as_str()),
    ]);
    template_page(&state, tr, template, form, query.saved.is_some()).await
}

async fn save_template(
    State(state): State<AppState>,
    UiLang(tr): UiLang,
    Path(prompt_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut form = FormState::parse(&body);
    let change = TemplateUpdate {
        content: Some(form.v("content").to_string()),
        description: Some(form.v("description").to_string()),
        tags: None,
        status: form.v("status").parse().ok(),
    };
    match change_template(&state, &prompt_id, change).await {
        Ok(_) => Redirect::to(&format!("/templates/{prompt_id}?saved=1")).into_response(),
        Err(error) => {
            form.api_error_same(error);
            let template = page_try!(state.store.get_template(&prompt_id).await);
            refused(template_page(&state, tr, template, form, false).await)
        }
    }
}

#[derive(Template)]
#[template(path = "preview.html")]
pub struct PreviewPartial {
    result: Result<String, String>,
}

async fn preview_template(State(state): State<AppState>, body: Bytes) -> Response {
    let mut form = FormState::parse(&body);
    let result = async {
        let series = form.series("series");
        let at = form.period_bound("at", true);
        let (Some(series), Some(at)) = (series, at) else {
            let error = form.err("series").or(form.err("at"));
            return Err(error.unwrap_or("at: choose a date").to_string());
        };
        ensure_series(&state, &series)
            .await
            .map_err(|e| e.detail.message)?;
        let request = PreviewRequest {
            stock_symbol: series.symbol,
            market_type: series.market_type,
            time_granularity: series.granularity,
            at,
            start_date: None,
            window: None,
            blind: form.checked("blind"),
        };
        preview(&state, form.v("content").to_string(), request)
            .await
            .map(|p| p.prompt)
            .map_err(|e| e.detail.message)
    }
    .await;
    render(&PreviewPartial { result })
}
