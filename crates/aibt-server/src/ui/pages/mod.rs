//! The pages, one module a page as the API has one a resource, each with its own `router()`.
//! A page reads its form with `form`, calls one function of the engine or of the API's
//! routes, and renders; what two pages share lives beside them in `ui`, never in a page.

pub mod accounts;
pub mod ai_configs;
pub mod backtests;
pub mod compare;
pub mod experiments;
pub mod login;
pub mod market_data;
pub mod new_backtest;
pub mod new_experiment;
pub mod task;
pub mod templates;
