use aibt_ai::BuiltinError;
use aibt_core::TaskStatus;
use aibt_core::broker::{BrokerError, SettingsError};
use aibt_store::StoreError;

/// Why the engine could not do what was asked. Each variant maps to one kind of answer: bad
/// input (the caller's to fix), a conflict with the task's state, or a failure of the run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A value of the request is unusable; `field` names it.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{entity} {id:?} not found")]
    NotFound { entity: &'static str, id: String },
    /// The task is not in a state that allows the change.
    #[error("task {task_id} is {status}: {reason}")]
    WrongState {
        task_id: String,
        status: TaskStatus,
        reason: String,
    },
    /// The request contradicts what is stored (a task's run account changed from outside its
    /// run, say).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("task {task_id}: {reason}")]
    Run { task_id: String, reason: String },
    /// A call would pass the task's budget: the task pauses with this reason.
    #[error("{0}")]
    OutOfBudget(String),
    /// Where an export was going could not take it (a closed pipe, a client gone).
    #[error("writing the export: {0}")]
    Output(String),
    /// A service outside aibt (a market data provider) failed or refused: its message.
    #[error("{0}")]
    Upstream(String),
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> EngineError {
        EngineError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> EngineError {
        match error {
            StoreError::NotFound { entity, id } => EngineError::NotFound { entity, id },
            StoreError::Invalid { field, reason } => EngineError::Invalid {
                field: field.to_string(),
                reason,
            },
            other => EngineError::Store(other),
        }
    }
}

impl From<BuiltinError> for EngineError {
    fn from(error: BuiltinError) -> EngineError {
        match error {
            BuiltinError::UnknownStrategy(_) => EngineError::invalid("strategy", error.to_string()),
            BuiltinError::InvalidParam { name, reason } => {
                EngineError::invalid(format!("params.{name}"), reason)
            }
        }
    }
}

impl From<SettingsError> for EngineError {
    fn from(error: SettingsError) -> EngineError {
        EngineError::invalid(error.field, error.reason)
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
