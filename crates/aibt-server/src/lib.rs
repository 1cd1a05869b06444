//! aibt's HTTP API: every table of the design under `/api/v1`, server-sent progress of running
//! tasks, an OpenAPI description generated from the handlers (`/api/openapi.json`) with a
//! Swagger UI page (`/api/docs`), and `/healthz`.
//!
//! Handlers are thin: they read the request, call the engine or the store, and shape the
//! answer. Every failure is `{"error": {"code", "message", "field"}}` with a 4xx status for the
//! caller's mistakes; no input makes a handler panic or answer 500.

mod docs;
mod error;
mod extract;
mod guard;
mod ranges;
pub mod report;
mod routes;
pub mod ui;

use std::sync::Arc;

use aibt_engine::worker::WorkerHandle;
use aibt_store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use guard::{REPORT_POLICY, SignIns, TOKEN_COOKIE};
pub(crate) use guard::{cookie, same};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Wakes this process's worker when a task is started or resumed here (other processes'
    /// workers find it on their next poll).
    pub worker: WorkerHandle,
    /// When set, every route but `/healthz` needs `Authorization: Bearer <token>`.
    pub api_token: Option<Arc<str>>,
    /// Failed sign-ins, which slow the next answers to the same client.
    pub sign_ins: SignIns,
    /// Downloads of market data (`/api/v1/market-data/fetch`, the market data page).
    pub fetcher: Arc<aibt_fetch::Fetcher>,
}

/// Limits of request bodies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// JSON bodies.
    pub body_bytes: usize,
    /// CSV uploads.
    pub upload_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 1 << 20,
            upload_bytes: 256 << 20,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "aibt",
        description = "Backtest trading strategies that an LLM (or a built-in rule) carries out, with exact money. \
            Field names are the design's column names; money and quantities are decimal strings.",
    ),
    tags(
        (name = "accounts", description = "Accounts: cash and fees a task starts from"),
        (name = "prompt-templates", description = "Strategies written as prompts"),
        (name = "ai-configs", description = "How to reach a model"),
        (name = "market-data", description = "OHLCV bars"),
        (name = "context", description = "Dated context a prompt shows once it is visible"),
        (name = "tasks", description = "Backtests: lifecycle, records, statistics, events"),
        (name = "experiments", description = "Grids of tasks judged on one leaderboard"),
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        routes::events::DecisionEvent,
        routes::events::EndEvent,
        routes::events::StreamError,
    )),
)]
struct ApiDoc;

/// Declares the bearer token a server with `--api-token` requires; a server without one
/// describes no security at all, since it would accept a request carrying none.
fn require_bearer(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
}

/// The API's routes and their OpenAPI description; `token_required` says whether this server
/// was started with a token, which changes what it answers and so what it describes.
fn api(limits: Limits, token_required: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{
        accounts, ai_configs, context, events, experiments, market_data, market_sources, tasks,
        templates,
    };
    let upload = OpenApiRouter::new()
        .routes(routes!(market_data::import))
        .routes(routes!(market_data::preview))
        .routes(routes!(context::import))
        .layer(DefaultBodyLimit::max(limits.upload_bytes));
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::list_accounts, accounts::create_account))
        .routes(routes!(
            accounts::get_account,
            accounts::update_account,
            accounts::delete_account
        ))
        .routes(routes!(
            templates::list_templates,
            templates::create_template
        ))
        .routes(routes!(
            templates::get_template,
            templates::update_template,
            templates::delete_template
        ))
        .routes(routes!(templates::preview_template))
        .routes(routes!(
            ai_configs::list_ai_configs,
            ai_configs::create_ai_config
        ))
        .routes(routes!(
            ai_configs::get_ai_config,
            ai_configs::update_ai_config,
            ai_configs::delete_ai_config
        ))
        .routes(routes!(ai_configs::test_config))
        .routes(routes!(market_data::list_series))
        .routes(routes!(market_data::bars))
        .routes(routes!(market_sources::resample))
        .routes(routes!(market_sources::fetch))
        .routes(routes!(context::list))
        .routes(routes!(tasks::list_tasks, tasks::create))
        .routes(routes!(tasks::get, tasks::delete))
        .routes(routes!(tasks::start))
        .routes(routes!(tasks::pause))
        .routes(routes!(tasks::resume))
        .routes(routes!(tasks::cancel))
        .routes(routes!(tasks::decisions))
        .routes(routes!(tasks::trades))
        .routes(routes!(tasks::snapshots))
        .routes(routes!(tasks::stats))
        .routes(routes!(tasks::equity))
        .routes(routes!(tasks::export))
        .routes(routes!(events::events))
        .routes(routes!(tasks::compare))
        .routes(routes!(experiments::list, experiments::create))
        .routes(routes!(experiments::plan_experiment))
        .routes(routes!(experiments::get))
        .routes(routes!(experiments::board))
        .routes(routes!(experiments::pause))
        .routes(routes!(experiments::resume))
        .routes(routes!(experiments::cancel))
        .routes(routes!(experiments::events))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .merge(upload)
        .split_for_parts();
    let mut openapi = openapi;
    document_shared_refusals(&mut openapi, token_required);
    if token_required {
        require_bearer(&mut openapi);
    }
    (router, openapi)
}

/// Refusals every route shares, documented here once for all of them, not route by route: a
/// route that reads a body refuses one that is not JSON (or not the expected shape) with a 400
/// and one over the size limit with a 413 (the extractor in `extract.rs`); a route with query
/// parameters refuses one not of its type with a 400 (`Params`); on a server with a token,
/// every route refuses a request without it with a 401; and a write from another site's page
/// is a 403 (`guard.rs`).
fn document_shared_refusals(openapi: &mut utoipa::openapi::OpenApi, token_required: bool) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let refusal = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in writes.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("403".into())
                .or_insert_with(|| {
                    refusal("A write from another site's page (its Origin says so)").into()
                });
        }
        let every = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in every.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            if token_required {
                responses.entry("401".into()).or_insert_with(|| {
                    refusal("The request does not carry the server's token").into()
                });
            }
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
            if has_query {
                responses
                    .entry("400".into())
                    .or_insert_with(|| refusal("A query parameter is not of its type").into());
            }
        }
        for operation in [&mut item.post, &mut item.put, &mut item.patch]
            .into_iter()
            .flatten()
        {
            if operation.request_body.is_none() {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses.entry("400".into()).or_insert_with(|| {
                refusal("The body is not JSON, or not of the expected shape").into()
            });
            responses
                .entry("413".into())
                .or_insert_with(|| refusal("The body is over the size limit").into());
        }
    }
}

/// The whole HTTP service.
pub fn router(state: AppState, limits: Limits) -> Router {
    let (api, openapi) = api(limits, state.api_token.is_some());
    let mut openapi = serde_json::to_value(&openapi).unwrap_or_default();
    routes::events::document_streams(&mut openapi);
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(docs::routes(openapi))
        .merge(ui::routes())
        .merge(report::routes())
        .route("/healthz", axum::routing::get(healthz))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_token,
        ))
        .layer(middleware::from_fn(guard::check_origin))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings and headers (API keys, tokens) stay out
                    // of the log.
                    tracing::info_span!(
                        "request",
                        id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.schema_version().await {
        Ok(version) => axum::Json(serde_json::json!({"status": "ok", "schema_version": version}))
            .into_response(),
        Err(error) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the database cannot be reached: {error}"),
            None,
        )
        .into_response(),
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // With each connection's address, so failed sign-ins are counted per client.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
