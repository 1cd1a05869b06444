//! Command-line flags as the engine's inputs: account flags as account changes, model flags as
//! an AI config, dates as period bounds; and the engine's errors named by the flag a user
//! typed rather than by the column behind it.

use std::path::Path;

use aibt_core::time::parse_timestamp;
use aibt_core::{MarketType, Money, Rate, TimeGranularity};
use aibt_engine::EngineError;
use aibt_engine::accounts::AccountChanges;
use aibt_engine::ai_config::{AiConfigSpec, ApiKey};
use aibt_engine::series::{DataFile, ensure_series};
use aibt_store::{AiConfig, SeriesKey, Store};
use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::{AccountArgs, ModelArgs};

/// The flag that sets each column or field the engine may name in an error: its own name
/// with dashes unless the flag is named otherwise.
fn flag_of(field: &str) -> String {
    let renamed = match field {
        "local_ai_base_url" => "base-url",
        "stock_symbol" => "symbol",
        "local_ai_model_name" => "model",
        "local_ai_api_key" => "api-key-env",
        "timeout_seconds" => "timeout",
        "initial_balance" => "cash",
        "commission_rate_buy" => "commission-buy",
        "commission_rate_sell" => "commission-sell",
        "tax_rate" => "tax",
        "short_margin_ratio" => "short-margin",
        budget if budget.starts_with("options.budget") || budget.starts_with("budget") => "budget",
        // A task option is the flag of the same name.
        other => other.strip_prefix("options.").unwrap_or(other),
    };
    renamed.replace('_', "-")
}

/// An engine input error as the flag a user typed.
pub fn flag_error(error: EngineError) -> anyhow::Error {
    match error {
        EngineError::Invalid { field, reason } => anyhow!("--{}: {reason}", flag_of(&field)),
        other => other.into(),
    }
}

/// An input error's reason without its field name (the caller names the flag or file).
pub fn reason_of(error: EngineError) -> String {
    match error {
        EngineError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn rate(text: &str, flag: &str) -> Result<Rate> {
    Rate::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

fn money(text: &str, flag: &str) -> Result<Money> {
    Money::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// The account flags that were given, parsed; `fractional` is the account's fraction rule.
pub fn account_changes(args: &AccountArgs, fractional: bool) -> Result<AccountChanges> {
    let commission = args
        .commission
        .as_deref()
        .map(|c| rate(c, "commission"))
        .transpose()?;
    let side = |given: &Option<String>, flag| -> Result<Option<Rate>> {
        Ok(match given {
            Some(text) => Some(rate(text, flag)?),
            None => commission,
        })
    };
    Ok(AccountChanges {
        initial_balance: args.cash.as_deref().map(|c| money(c, "cash")).transpose()?,
        commission_rate_buy: side(&args.commission_buy, "commission-buy")?,
        commission_rate_sell: side(&args.commission_sell, "commission-sell")?,
        tax_rate: args.tax.as_deref().map(|t| rate(t, "tax")).transpose()?,
        min_commission: args
            .min_commission
            .as_deref()
            .map(|m| money(m, "min-commission"))
            .transpose()?,
        short_margin_ratio: args
            .short_margin
            .as_deref()
            .map(|s| rate(s, "short-margin"))
            .transpose()?,
        slippage: args
            .slippage
            .as_deref()
            .map(|s| rate(s, "slippage"))
            .transpose()?,
        borrow_rate: args
            .borrow_rate
            .as_deref()
            .map(|s| rate(s, "borrow-rate"))
            .transpose()?,
        allow_fractional_shares: Some(fractional),
        stock_symbol: None,
    })
}

/// The period bound of a `--start`/`--end` flag; a bare date as `--end` means the whole day.
pub fn parse_date(text: &str, flag: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if end_of_day && let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return aibt_core::time::end_of_day(date)
            .ok_or_else(|| anyhow!("--{flag}: {text} is out of range"));
    }
    parse_timestamp(text).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// The series a command names: stored, or imported from `--data` or a bundled sample (and
/// said so on standard error).
pub async fn series(
    store: &dyn Store,
    symbol: &str,
    market: Option<MarketType>,
    granularity: TimeGranularity,
    data: Option<&Path>,
) -> Result<SeriesKey> {
    let data = match data {
        Some(file) => Some(DataFile {
            name: file.display().to_string(),
            bytes: std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
        }),
        None => None,
    };
    let (series, imported) = ensure_series(store, symbol, market, granularity, data)
        .await
        .map_err(|error| match error {
            EngineError::Invalid { field, reason } if field == "stock_symbol" => anyhow!(
                "{reason}: import a CSV (aibt data import FILE --symbol {symbol} --market {} --granularity {granularity}) \
                 or pass --data FILE; bundled samples are listed by aibt data list --samples",
                market.unwrap_or(MarketType::Us),
            ),
            other => anyhow!(reason_of(other)),
        })?;
    if let Some(imported) = imported {
        eprintln!(
            "imported {} bars of {series} from {}",
            imported.bars, imported.source
        );
    }
    Ok(series)
}

/// A stored AI config by name, or else by id.
pub async fn find_ai_config(store: &dyn Store, name: &str) -> Result<AiConfig> {
    aibt_engine::ai_config::find_ai_config(store, name)
        .await
        .map_err(flag_error)
}

/// An AI config spec from the model flags.
pub fn ai_config_spec(name: &str, model: &ModelArgs) -> Result<AiConfigSpec> {
    let base_url = model
        .base_url
        .clone()
        .ok_or_else(|| anyhow!("--base-url is required"))?;
    let model_name = model
        .model
        .clone()
        .ok_or_else(|| anyhow!("--model is required"))?;
    Ok(AiConfigSpec {
        name: name.to_string(),
        base_url,
        api_key: match &model.api_key_env {
            Some(variable) => ApiKey::FromEnv(variable.clone()),
            None => ApiKey::None,
        },
        model: model_name,
        temperature: model
            .temperature
            .as_deref()
            .map(|t| rate(t, "temperature"))
            .transpose()?,
        max_tokens: model.max_tokens,
        timeout_seconds: model.timeout,
        response_format: model.response_format,
        max_concurrency: model.max_concurrency,
        max_retries: model.max_retries,
        knowledge_cutoff: model
            .knowledge_cutoff
            .as_deref()
            .map(|d| {
                NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|e| {
                    anyhow!("--knowledge-cutoff: {d:?} is not a YYYY-MM-DD date ({e})")
                })
            })
            .transpose()?,
        price_input_per_million: model
            .price_input_per_million
            .as_deref()
            .map(|p| money(p, "price-input-per-million"))
            .transpose()?,
        price_output_per_million: model
            .price_output_per_million
            .as_deref()
            .map(|p| money(p, "price-output-per-million"))
            .transpose()?,
        reasoning_effort: model.reasoning_effort.clone(),
        decision_mode: None,
    })
}
