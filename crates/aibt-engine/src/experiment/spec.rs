//! An experiment as a user writes it: a TOML file (or the same as JSON through the API) naming
//! series, periods, an account, strategies and baselines. Read and checked here, field by
//! field, so that a mistake is named before anything runs.

use std::collections::BTreeMap;

use aibt_core::time::{end_of_day, parse_timestamp};
use aibt_core::{FillRule, MarketType, TimeGranularity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, Result};

/// A whole experiment spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub name: String,
    /// Seeds the repeats' sampling, the random baselines and the bootstrap.
    #[serde(default)]
    pub seed: u64,
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub series: Vec<SeriesSpec>,
    pub periods: PeriodsSpec,
    #[serde(default)]
    pub account: AccountSpec,
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub strategies: Vec<StrategySpec>,
    #[serde(default)]
    pub baselines: BaselinesSpec,
    /// Decide every N bars (every strategy of the experiment alike).
    #[serde(default = "one")]
    pub decision_interval: i64,
    #[serde(default)]
    pub fill: FillRule,
    /// Stops the experiment (paused, with the reason) before a model call would pass it.
    #[serde(default)]
    pub budget: Option<crate::budget::Budget>,
}

/// A decimal given as a number or as text (TOML writes `0.7`, JSON may write `"0.7"`), kept as
/// its text so that no binary float touches it.
fn decimal_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("{other} is not a number"))),
    }
}

fn one() -> i64 {
    1
}

/// A series to trade: stored, or bundled with aibt (imported on first use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub symbol: String,
    /// The sample's market, or US.
    #[serde(default)]
    pub market: Option<MarketType>,
    /// `daily` when omitted.
    #[serde(default)]
    pub granularity: Option<TimeGranularity>,
}

/// A period with a start and an end date (a bare end date includes its whole day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    pub start: String,
    pub end: String,
}

/// A named period of `periods.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NamedRangeSpec {
    pub name: String,
    pub start: String,
    pub end: String,
}

/// Walk-forward folds: `[start, end]` cut into `folds + 1` equal spans of time; fold k is in
/// sample on span k and out of sample on span k + 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WalkForwardSpec {
    pub start: String,
    pub end: String,
    pub folds: u32,
}

/// The periods of an experiment: an in-sample / out-of-sample split, a list of named periods,
/// or walk-forward folds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PeriodsSpec {
    #[serde(default)]
    pub in_sample: Option<RangeSpec>,
    #[serde(default)]
    pub out_of_sample: Option<RangeSpec>,
    #[serde(default)]
    pub list: Option<Vec<NamedRangeSpec>>,
    #[serde(default)]
    pub walk_forward: Option<WalkForwardSpec>,
}

/// The account every task of the experiment starts from; omitted fields take aibt's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    #[serde(default, deserialize_with = "decimal_text")]
    pub cash: Option<String>,
    /// Both sides; `commission_buy` / `commission_sell` override it.
    #[serde(default, deserialize_with = "decimal_text")]
    pub commission: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub commission_buy: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub commission_sell: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub min_commission: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub tax: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub short_margin: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub slippage: Option<String>,
    #[serde(default, deserialize_with = "decimal_text")]
    pub borrow_rate: Option<String>,
    #[serde(default)]
    pub fractional: bool,
}

/// One strategy of the grid: a prompt template asked of a model, or a built-in rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    pub name: String,
    /// A template file (the CLI reads it relative to the spec and inlines it as
    /// `template_content`).
    #[serde(default)]
    pub template: Option<String>,
    /// The template's text.
    #[serde(default)]
    pub template_content: Option<String>,
    /// A stored template.
    #[serde(default)]
    pub user_prompt_id: Option<String>,
    /// A stored AI config, by name or id.
    #[serde(default)]
    pub ai_config: Option<String>,
    /// Or an AI config given inline.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Runs of the same variant; each sends its own seed.
    #[serde(default)]
    pub repeats: Option<u32>,
    /// Sampling temperature of these runs (the AI config's otherwise).
    #[serde(default, deserialize_with = "decimal_text")]
    pub temperature: Option<String>,
    /// Also run the variant blind (no symbol, no dates, rebased prices): named minus blind is
    /// the memorisation gap.
    #[serde(default)]
    pub blind_twin: bool,
    /// Bars shown to the model (30 by default).
    #[serde(default)]
    pub window: Option<u32>,
    /// Decisions asked ahead when the template does not read the account.
    #[serde(default)]
    pub prefetch: Option<u32>,
    /// A built-in rule (`sma-cross`, …) instead of a template.
    #[serde(default)]
    pub builtin: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

/// Baselines beyond buy-and-hold and always-hold, which always run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BaselinesSpec {
    /// Random long/flat runs per series and period (the luck column).
    #[serde(default = "twenty")]
    pub random: u32,
}

fn twenty() -> u32 {
    20
}

impl Default for BaselinesSpec {
    fn default() -> BaselinesSpec {
        BaselinesSpec { random: 20 }
    }
}

/// A period of the experiment, resolved to times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How periods pair up: an in-sample one and the out-of-sample one judged against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub in_sample: String,
    pub out_of_sample: String,
}

impl ExperimentSpec {
    /// Reads a spec from TOML text (dates may be bare TOML dates or strings).
    pub fn from_toml(text: &str) -> Result<ExperimentSpec> {
        let value: toml::Value = toml::from_str(text)
            .map_err(|e| EngineError::invalid("spec", format!("not valid TOML: {e}")))?;
        ExperimentSpec::from_json(toml_to_json(value))
    }

    /// Reads a spec from JSON, naming the field that does not fit.
    pub fn from_json(value: Value) -> Result<ExperimentSpec> {
        let spec: ExperimentSpec = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            EngineError::invalid(
                if path == "." {
                    "spec".to_string()
                } else {
                    format!("spec.{path}")
                },
                message,
            )
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Checks what serde cannot: names, counts and that every strategy says what it is.
    fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(EngineError::invalid("spec.name", "must not be empty"));
        }
        if self.series.is_empty() {
            return Err(EngineError::invalid(
                "spec.series",
                "name at least one series",
            ));
        }
        if self.strategies.is_empty() {
            return Err(EngineError::invalid(
                "spec.strategies",
                "name at least one strategy",
            ));
        }
        if self.decision_interval < 1 {
            return Err(EngineError::invalid(
                "spec.decision_interval",
                "must be at least 1",
            ));
        }
        if self.baselines.random > 1_000 {
            return Err(EngineError::invalid(
                "spec.baselines.random",
                "at most 1000 random runs",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, strategy) in self.strategies.iter().enumerate() {
            let field = |name: &str| format!("spec.strategies[{i}].{name}");
            let name = strategy.name.trim();
            if name.is_empty() {
                return Err(EngineError::invalid(field("name"), "must not be empty"));
            }
            if matches!(name, "buy-and-hold" | "always-hold" | "random") || !names.insert(name) {
                return Err(EngineError::invalid(
                    field("name"),
                    format!("{name:?} is taken (by a baseline or another strategy)"),
                ));
            }
            let sources = [
                strategy.template.is_some(),
                strategy.template_content.is_some(),
                strategy.user_prompt_id.is_some(),
                strategy.builtin.is_some(),
            ]
            .iter()
            .filter(|given| **given)
            .count();
            if sources != 1 {
                return Err(EngineError::invalid(
                    field("builtin"),
                    "give exactly one of template, template_content, user_prompt_id or builtin",
                ));
            }
            let model = strategy.ai_config.is_some() || strategy.base_url.is_some();
            if strategy.builtin.is_some() && (model || strategy.blind_twin) {
                return Err(EngineError::invalid(
                    field("builtin"),
                    "a built-in rule takes no model (ai_config, base_url) and no blind twin",
                ));
            }
            if strategy.builtin.is_none() && !model {
                return Err(EngineError::invalid(
                    field("ai_config"),
                    "a template needs a model: ai_config, or base_url and model",
                ));
            }
            if strategy.base_url.is_some() != strategy.model.is_some() {
                return Err(EngineError::invalid(
                    field("model"),
                    "an inline model needs both base_url and model",
                ));
            }
            if let Some(repeats) = strategy.repeats
                && !(1..=100).contains(&repeats)
            {
                return Err(EngineError::invalid(
                    field("repeats"),
                    format!("{repeats} is not between 1 and 100"),
                ));
            }
        }
        self.periods()?;
        Ok(())
    }

    /// The periods, resolved to times, and which pairs are in and out of sample.
    pub fn periods(&self) -> Result<(Vec<Period>, Vec<Split>)> {
        let p = &self.periods;
        let given = [
            p.in_sample.is_some() || p.out_of_sample.is_some(),
            p.list.is_some(),
            p.walk_forward.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(EngineError::invalid(
                "spec.periods",
                "give in_sample (with out_of_sample), or list, or walk_forward",
            ));
        }
        let range = |field: &str, start: &str, end: &str| -> Result<Period> {
            let start_time = parse_timestamp(start)
                .map_err(|e| EngineError::invalid(format!("{field}.start"), e.to_string()))?;
            let end_time = match chrono::NaiveDate::parse_from_str(end.trim(), "%Y-%m-%d") {
                Ok(date) => end_of_day(date).ok_or_else(|| {
                    EngineError::invalid(format!("{field}.end"), format!("{end} is out of range"))
                })?,
                Err(_) => parse_timestamp(end)
                    .map_err(|e| EngineError::invalid(format!("{field}.end"), e.to_string()))?,
            };
            if start_time > end_time {
                return Err(EngineError::invalid(
                    format!("{field}.start"),
                    format!("{start} is after the end {end}"),
                ));
            }
            Ok(Period {
                name: String::new(),
                start: start_time,
                end: end_time,
            })
        };
        if let Some(list) = &p.list {
            let mut periods = Vec::new();
            for (i, named) in list.iter().enumerate() {
                let field = format!("spec.periods.list[{i}]");
                if named.name.trim().is_empty()
                    || periods.iter().any(|q: &Period| q.name == named.name)
                {
                    return Err(EngineError::invalid(
                        format!("{field}.name"),
                        "each period needs a name of its own",
                    ));
                }
                periods.push(Period {
                    name: named.name.trim().to_string(),
                    ..range(&field, &named.start, &named.end)?
                });
            }
            if periods.is_empty() {
                return Err(EngineError::invalid(
                    "spec.periods.list",
                    "name at least one period",
                ));
            }
            return Ok((periods, Vec::new()));
        }
        if let Some(walk) = &p.walk_forward {
            let whole = range("spec.periods.walk_forward", &walk.start, &walk.end)?;
            if !(1..=50).contains(&walk.folds) {
                return Err(EngineError::invalid(
                    "spec.periods.walk_forward.folds",
                    format!("{} is not between 1 and 50", walk.folds),
                ));
            }
            let spans = i64::from(walk.folds) + 1;
            let length = (whole.end - whole.start) / i32::try_from(spans).unwrap_or(1);
            let periods: Vec<Period> = (0..spans)
                .map(|k| Period {
                    name: format!("span{}", k + 1),
                    start: whole.start + length * i32::try_from(k).unwrap_or(0),
                    end: if k + 1 == spans {
                        whole.end
                    } else {
                        whole.start + length * i32::try_from(k + 1).unwrap_or(0)
                            - chrono::Duration::microseconds(1)
                    },
                })
                .collect();
            let splits = (1..spans)
                .map(|k| Split {
                    in_sample: format!("span{k}"),
                    out_of_sample: format!("span{}", k + 1),
                })
                .collect();
            return Ok((periods, splits));
        }
        let mut periods = Vec::new();
        let mut splits = Vec::new();
        if let Some(is) = &p.in_sample {
            periods.push(Period {
                name: "in_sample".into(),
                ..range("spec.periods.in_sample", &is.start, &is.end)?
            });
        }
        if let Some(oos) = &p.out_of_sample {
            periods.push(Period {
                name: "out_of_sample".into(),
                ..range("spec.periods.out_of_sample", &oos.start, &oos.end)?
            });
        }
        if periods.len() == 2 {
            splits.push(Split {
                in_sample: "in_sample".into(),
                out_of_sample: "out_of_sample".into(),
            });
        }
        Ok((periods, splits))
    }
}

impl StrategySpec {
    /// A built-in rule's parameters as text (TOML gives numbers and booleans as such).
    pub fn params_text(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (name.clone(), text)
            })
            .collect()
    }

    pub fn uses_model(&self) -> bool {
        self.builtin.is_none()
    }

    pub fn repeats(&self) -> u32 {
        self.repeats.unwrap_or(1).max(1)
    }
}

/// TOML as JSON: dates and times become their text.
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(n) => Value::from(n),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCT_EXAMPLE: &str = r#"
name = "trend prompt against rules"
seed = 7

[[series]]
symbol = "GOOG"
[[series]]
symbol = "SPY"

[periods]
in_sample = { start = "2008-01-01", end = "2010-12-31" }
out_of_sample = { start = 2011-01-01, end = 2012-12-31 }

[account]
cash = "10000"
commission = "0.001"

[[strategies]]
name = "trend"
template = "examples/trend-follower.j2"
ai_config = "local"
repeats = 3
temperature = 0.7
blind_twin = true

[[strategies]]
name = "sma"
builtin = "sma-cross"
params = { fast = 10, slow = 20 }

[baselines]
random = 20
"#;

    #[test]
    fn the_products_example_reads() {
        let spec = ExperimentSpec::from_toml(PRODUCT_EXAMPLE).unwrap();
        assert_eq!(spec.series.len(), 2);
        assert_eq!(spec.strategies[0].repeats(), 3);
        assert_eq!(spec.strategies[0].temperature.as_deref(), Some("0.7"));
        assert_eq!(spec.strategies[1].params_text()["fast"], "10");
        let (periods, splits) = spec.periods().unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[1].start.to_rfc3339(), "2011-01-01T00:00:00+00:00");
        assert_eq!(splits.len(), 1);
    }

    #[test]
    fn mistakes_are_named_by_their_field() {
        let field = |text: &str| match ExperimentSpec::from_toml(text) {
            Err(EngineError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let base = PRODUCT_EXAMPLE.replace("temperature = 0.7", "temperature = \"0.7\"");
        assert!(ExperimentSpec::from_toml(&base).is_ok());
        assert_eq!(
            field(&base.replace("repeats = 3", "repeats = 0")),
            "spec.strategies[0].repeats"
        );
        assert_eq!(
            field(&base.replace("name = \"sma\"", "name = \"trend\"")),
            "spec.strategies[1].name"
        );
        assert_eq!(
            field(&base.replace("seed = 7", "seed = 7\nsed = 8")),
            "spec.sed"
        );
        assert_eq!(
            field(&base.replace("symbol = \"SPY\"", "symbol = 3")),
            "spec.series[1].symbol"
        );
        assert_eq!(
            field(&base.replace("end = \"2010-12-31\"", "end = \"2007-12-31\"")),
            "spec.periods.in_sample.start"
        );
        assert_eq!(
            field(&base.replace("ai_config = \"local\"", "")),
            "spec.strategies[0].ai_config"
        );
    }

    #[test]
    fn walk_forward_folds_pair_consecutive_spans() {
        let text = PRODUCT_EXAMPLE.replace(
            "in_sample = { start = \"2008-01-01\", end = \"2010-12-31\" }\nout_of_sample = { start = 2011-01-01, end = 2012-12-31 }",
            "walk_forward = { start = \"2008-01-01\", end = \"2011-12-31\", folds = 3 }",
        );
        let spec = ExperimentSpec::from_toml(&text).unwrap();
        let (periods, splits) = spec.periods().unwrap();
        assert_eq!(periods.len(), 4);
        assert_eq!(splits.len(), 3);
        assert_eq!(splits[2].out_of_sample, "span4");
        assert!(periods[0].end < periods[1].start);
    }
}
