pub mod ai_config;
pub mod backtest;
pub mod data;
pub mod db;
pub mod experiment;
pub mod serve;
pub mod task;
pub mod template;
