//! The API's handlers, one module per resource.

pub mod accounts;
pub mod ai_configs;
pub mod events;
pub mod experiments;
pub mod market_data;
pub mod tasks;
pub mod templates;
