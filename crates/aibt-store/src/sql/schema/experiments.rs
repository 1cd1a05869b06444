//! The experiments, the status columns they change as they run, and their runs (one task
//! each).

use aibt_core::TaskStatus;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::rows::{Experiment, ExperimentRun};
use crate::sql::columns::{BindRow, ReadRow, TableRow, WriteRow};
use crate::sql::table::Table;

pub static EXPERIMENTS: Table = Table::new(
    "experiments",
    "experiment",
    &[
        "experiment_id",
        "name",
        "spec",
        "status",
        "error_message",
        "created_at",
        "updated_at",
    ],
);

impl TableRow for Experiment {
    fn table() -> &'static Table {
        &EXPERIMENTS
    }

    fn read(r: &impl ReadRow) -> Result<Experiment> {
        Ok(Experiment {
            experiment_id: r.text(0)?,
            name: r.text(1)?,
            spec: r.json(2)?,
            status: r.label(3)?,
            error_message: r.opt_text(4)?,
            created_at: r.time(5)?,
            updated_at: r.time(6)?,
        })
    }
}

impl WriteRow for Experiment {
    fn key(&self) -> &str {
        &self.experiment_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.text(&self.name);
        b.json(&self.spec);
        b.label(self.status.as_str());
        b.opt_text(self.error_message.as_deref());
        b.time(self.created_at);
        b.time(self.updated_at);
        Ok(())
    }
}

/// The columns of `experiments` that change after it is created: its status and why it
/// stopped, written together by [`ExperimentStatus`].
pub static EXPERIMENT_STATUS: Table = Table::new(
    "experiments",
    "experiment",
    &["experiment_id", "status", "error_message", "updated_at"],
);

/// A status change of one experiment, as the UPDATE of [`EXPERIMENT_STATUS`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentStatus {
    pub experiment_id: String,
    pub status: TaskStatus,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl TableRow for ExperimentStatus {
    fn table() -> &'static Table {
        &EXPERIMENT_STATUS
    }

    fn read(r: &impl ReadRow) -> Result<ExperimentStatus> {
        Ok(ExperimentStatus {
            experiment_id: r.text(0)?,
            status: r.label(1)?,
            error_message: r.opt_text(2)?,
            updated_at: r.time(3)?,
        })
    }
}

impl WriteRow for ExperimentStatus {
    fn key(&self) -> &str {
        &self.experiment_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.label(self.status.as_str());
        b.opt_text(self.error_message.as_deref());
        b.time(self.updated_at);
        Ok(())
    }
}

/// The runs of experiments. The primary key is (`experiment_id`, `task_id`); a run is never
/// read or updated by the first column alone, and its errors name it by its task.
pub static EXPERIMENT_RUNS: Table = Table::new(
    "experiment_runs",
    "experiment run",
    &[
        "experiment_id",
        "task_id",
        "variant",
        "role",
        "stock_symbol",
        "market_type",
        "time_granularity",
        "period",
        "repeat_index",
        "blind",
    ],
);

impl TableRow for ExperimentRun {
    fn table() -> &'static Table {
        &EXPERIMENT_RUNS
    }

    fn read(r: &impl ReadRow) -> Result<ExperimentRun> {
        Ok(ExperimentRun {
            experiment_id: r.text(0)?,
            task_id: r.text(1)?,
            variant: r.text(2)?,
            role: r.label(3)?,
            stock_symbol: r.text(4)?,
            market_type: r.label(5)?,
            time_granularity: r.label(6)?,
            period: r.text(7)?,
            repeat_index: r.int(8)?,
            blind: r.bool(9)?,
        })
    }
}

impl WriteRow for ExperimentRun {
    fn key(&self) -> &str {
        &self.task_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.experiment_id);
        b.text(&self.task_id);
        b.text(&self.variant);
        b.label(self.role.as_str());
        b.text(&self.stock_symbol);
        b.label(self.market_type.as_str());
        b.label(self.time_granularity.as_str());
        b.text(&self.period);
        b.int(self.repeat_index)?;
        b.bool(self.blind);
        Ok(())
    }
}
