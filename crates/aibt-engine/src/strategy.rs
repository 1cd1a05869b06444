//! What a task's decisions come from: a built-in rule, a prompt template asked of a model, or
//! the recorded decisions of a finished task. Parsed once, where a task is created or read,
//! from the stored `strategy` column (`builtin:<name>`, `template`, `replay:<task id>`), the
//! template and AI config columns and the options' parameters; everything else matches on it.

use std::fmt;

use aibt_ai::StrategyParams;
use aibt_store::{ClaimFilter, StrategyFilter, Task};

use crate::error::{EngineError, Result};

/// A task's strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrategyRef {
    /// A rule of aibt-ai (`builtin:<name>`) with its parameters.
    Builtin {
        name: String,
        params: StrategyParams,
    },
    /// A prompt template asked of a model (`template`).
    Template {
        prompt_id: String,
        ai_config_id: String,
    },
    /// The recorded decisions of a finished task, simulated again (`replay:<task id>`).
    Replay { task_id: String },
}

/// The stored `strategy` of a model task.
const TEMPLATE: &str = "template";
const BUILTIN_PREFIX: &str = "builtin:";
const REPLAY_PREFIX: &str = "replay:";

impl StrategyRef {
    /// A strategy as a request or a stored task names it. Only the form is checked here; that
    /// the rule, template, AI config or source task exists and fits is `create_task`'s.
    pub fn parse(
        strategy: &str,
        user_prompt_id: Option<&str>,
        ai_config_id: Option<&str>,
        params: StrategyParams,
    ) -> Result<StrategyRef> {
        let strategy = match strategy.trim() {
            // The seed's clients name a template and an AI config and no strategy: that is
            // a model task, as it was in the original system.
            "" if present(user_prompt_id).is_some() || present(ai_config_id).is_some() => TEMPLATE,
            named => named,
        };
        if let Some(name) = strategy.strip_prefix(BUILTIN_PREFIX) {
            return Ok(StrategyRef::Builtin {
                name: name.to_string(),
                params,
            });
        }
        if strategy == TEMPLATE {
            let prompt_id = present(user_prompt_id).ok_or_else(|| {
                EngineError::invalid("user_prompt_id", "an AI strategy needs a prompt template")
            })?;
            let ai_config_id = present(ai_config_id).ok_or_else(|| {
                EngineError::invalid("ai_config_id", "an AI strategy needs an AI config")
            })?;
            return Ok(StrategyRef::Template {
                prompt_id: prompt_id.to_string(),
                ai_config_id: ai_config_id.to_string(),
            });
        }
        if let Some(task_id) = strategy.strip_prefix(REPLAY_PREFIX)
            && !task_id.trim().is_empty()
        {
            return Ok(StrategyRef::Replay {
                task_id: task_id.trim().to_string(),
            });
        }
        Err(EngineError::invalid(
            "strategy",
            format!(
                "{strategy:?} is not a strategy: use builtin:<name> ({}), template (a prompt template and an AI config) \
                 or replay:<task id>",
                aibt_ai::BUILTIN_STRATEGIES
                    .iter()
                    .map(|(n, _)| format!("{BUILTIN_PREFIX}{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// The strategy of a stored task.
    pub fn of_task(task: &Task) -> Result<StrategyRef> {
        let params = match task.options.get("params") {
            None | Some(serde_json::Value::Null) => StrategyParams::new(),
            Some(value) => serde_json::from_value(value.clone()).map_err(|e| {
                EngineError::invalid(
                    "options.params",
                    format!("task {}: unreadable parameters: {e}", task.task_id),
                )
            })?,
        };
        StrategyRef::parse(
            &task.strategy,
            task.user_prompt_id.as_deref(),
            task.ai_config_id.as_deref(),
            params,
        )
    }

    /// A built-in rule by name (with or without `builtin:`).
    pub fn builtin(name: &str, params: StrategyParams) -> StrategyRef {
        StrategyRef::Builtin {
            name: name
                .strip_prefix(BUILTIN_PREFIX)
                .unwrap_or(name)
                .to_string(),
            params,
        }
    }

    /// The text of the `strategy` column.
    pub fn column(&self) -> String {
        match self {
            StrategyRef::Builtin { name, .. } => format!("{BUILTIN_PREFIX}{name}"),
            StrategyRef::Template { .. } => TEMPLATE.to_string(),
            StrategyRef::Replay { task_id } => format!("{REPLAY_PREFIX}{task_id}"),
        }
    }

    /// The parameters of a built-in rule (none for the others).
    pub fn params(&self) -> Option<&StrategyParams> {
        match self {
            StrategyRef::Builtin { params, .. } => Some(params),
            _ => None,
        }
    }

    /// Whether decisions come from a model (and so mostly wait on it).
    pub fn uses_model(&self) -> bool {
        matches!(self, StrategyRef::Template { .. })
    }

    pub fn is_builtin(&self) -> bool {
        matches!(self, StrategyRef::Builtin { .. })
    }

    /// The strategy for people: the column and the parameters as `name=value`.
    pub fn label(&self) -> String {
        let params = self.params().map(params_text).unwrap_or_default();
        if params.is_empty() {
            self.column()
        } else {
            format!("{} {params}", self.column())
        }
    }
}

impl fmt::Display for StrategyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.column())
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Parameters as `name=value`, space-separated in name order, for people to read.
pub fn params_text(params: &StrategyParams) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a stored `strategy` column is a model task's, as [`claim_filter`] tells them apart
/// (even where the rest of the row would not parse: its run then fails in the slot it took).
pub fn column_uses_model(column: &str) -> bool {
    column == TEMPLATE
}

/// The tasks a worker with free slots of these kinds may claim: model tasks, rule tasks
/// (built-in rules and replays, which use a core), or both; `None` when it has no free slot.
pub fn claim_filter(model_slot: bool, core_slot: bool) -> Option<ClaimFilter<'static>> {
    let strategy = match (model_slot, core_slot) {
        (true, true) => None,
        (true, false) => Some(StrategyFilter::Only(TEMPLATE)),
        (false, true) => Some(StrategyFilter::Except(TEMPLATE)),
        (false, false) => return None,
    };
    Some(ClaimFilter {
        task_id: None,
        strategy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<StrategyRef>) -> String {
        match result {
            Err(EngineError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_column() {
        let params: StrategyParams = [("fast".to_string(), "5".to_string())].into();
        for strategy in [
            StrategyRef::builtin("builtin:sma-cross", params.clone()),
            StrategyRef::Template {
                prompt_id: "p".into(),
                ai_config_id: "c".into(),
            },
            StrategyRef::Replay {
                task_id: "t1".into(),
            },
        ] {
            let (prompt, config) = match &strategy {
                StrategyRef::Template {
                    prompt_id,
                    ai_config_id,
                } => (Some(prompt_id.as_str()), Some(ai_config_id.as_str())),
                _ => (None, None),
            };
            let params = strategy.params().cloned().unwrap_or_default();
            let parsed = StrategyRef::parse(&strategy.column(), prompt, config, params).unwrap();
            assert_eq!(parsed, strategy);
        }
        assert_eq!(
            StrategyRef::builtin("sma-cross", params).label(),
            "builtin:sma-cross fast=5"
        );
    }

    #[test]
    fn malformed_strategies_name_their_field() {
        let none = StrategyParams::new;
        assert_eq!(
            field(StrategyRef::parse("sma", None, None, none())),
            "strategy"
        );
        assert_eq!(
            field(StrategyRef::parse("replay:", None, None, none())),
            "strategy"
        );
        assert_eq!(
            field(StrategyRef::parse("template", None, Some("c"), none())),
            "user_prompt_id"
        );
        assert_eq!(
            field(StrategyRef::parse("template", Some("p"), Some(" "), none())),
            "ai_config_id"
        );
        assert_eq!(
            field(StrategyRef::parse("", None, None, none())),
            "strategy"
        );
        assert_eq!(
            field(StrategyRef::parse(" ", Some("p"), None, none())),
            "ai_config_id"
        );
    }

    #[test]
    fn the_seeds_fields_alone_make_a_model_task() {
        let parsed = StrategyRef::parse("", Some("p"), Some("c"), StrategyParams::new());
        assert_eq!(
            parsed.unwrap(),
            StrategyRef::Template {
                prompt_id: "p".into(),
                ai_config_id: "c".into(),
            }
        );
    }

    #[test]
    fn claim_filters_follow_the_free_slots() {
        assert_eq!(claim_filter(true, true), Some(ClaimFilter::any()));
        assert_eq!(claim_filter(false, false), None);
        assert_eq!(
            claim_filter(true, false).and_then(|f| f.strategy),
            Some(StrategyFilter::Only("template"))
        );
    }
}
