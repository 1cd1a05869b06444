//! Values the command line reads the same way in every command: output formats, markets,
//! granularities, statuses.

use aibt_core::{DecisionMode, MarketType, ResponseFormat, TaskStatus, TimeGranularity};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

pub fn parse_market(text: &str) -> Result<MarketType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}

pub fn parse_task_status(text: &str) -> Result<TaskStatus, String> {
    text.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}

pub fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    aibt_engine::task::parse_age(text)
}

pub fn parse_granularity(text: &str) -> Result<TimeGranularity, String> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}

pub fn parse_decision_mode(text: &str) -> Result<DecisionMode, String> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}

pub fn parse_response_format(text: &str) -> Result<ResponseFormat, String> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|e: aibt_core::EnumParseError| e.to_string())
}
