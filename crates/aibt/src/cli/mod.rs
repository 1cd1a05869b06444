//! The command line, as PRODUCT.md's "Interfaces" describes it.

mod data;
mod values;

use std::path::PathBuf;

use aibt_core::{DecisionMode, MarketType, ResponseFormat, TaskStatus, TimeGranularity};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use data::{DataCommand, FetchArgs, ImportArgs, ProviderArgs, ReadingArgs};
pub use values::*;

use crate::db::DEFAULT_DATABASE_URL;

#[derive(Debug, Parser)]
#[command(
    name = "aibt",
    version,
    about = "Backtest trading strategies that an LLM (or a built-in rule) carries out, with exact money.",
    propagate_version = true
)]
pub struct Cli {
    /// Database to use: sqlite://FILE (created if absent) or postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, env = "AIBT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, check or back up the database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Import and list market data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run a backtest to completion and print its statistics.
    Backtest(Box<BacktestArgs>),
    /// List, inspect, export and resume tasks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Check, preview and store prompt templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Store and test how to reach a model.
    #[command(subcommand, name = "ai-config")]
    AiConfig(AiConfigCommand),
    /// Judge strategies on a grid of runs against baselines, luck, memory and out-of-sample.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// Serve the HTTP API (and run tasks, unless --no-worker).
    Serve(ServeArgs),
    /// Run tasks from the database (any number of workers, on any number of hosts).
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen. Only this machine can reach the default; to listen on a network, set
    /// an API token too.
    #[arg(long, env = "AIBT_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Require `Authorization: Bearer TOKEN` on every route except /healthz.
    #[arg(long, env = "AIBT_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Serve only; leave running tasks to `aibt worker` processes.
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub providers: ProviderArgs,
}

#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// Rule and replay tasks run at once [default: the number of cores].
    #[arg(long)]
    pub cpu_slots: Option<usize>,
    /// Model tasks run at once (they mostly wait on the model).
    #[arg(long, default_value_t = 32)]
    pub model_slots: usize,
    /// This worker's name in tasks.lease_owner [default: host-pid-random].
    #[arg(long)]
    pub worker_id: Option<String>,
    /// How often an idle worker looks for tasks, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// Seconds a claimed task stays this worker's without a commit or heartbeat; after that
    /// another worker may take it over.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: i64,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The symbol to trade. Its bars must be stored, come from --data, or be a bundled sample
    /// (aibt data list --samples). A replay takes its source task's.
    #[arg(long, required_unless_present = "replay")]
    pub symbol: Option<String>,
    /// US (whole shares) or COIN (quantities in steps of 0.00000001). Default: the sample's
    /// market, else US.
    #[arg(long, value_parser = parse_market)]
    pub market: Option<MarketType>,
    /// Import this CSV file first if the series is not stored yet.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, value_parser = parse_granularity, default_value = "daily")]
    pub granularity: TimeGranularity,
    /// A built-in strategy: builtin:sma-cross (the default), builtin:rsi-reversion,
    /// builtin:buy-and-hold, builtin:always-hold.
    #[arg(long, conflicts_with_all = ["template", "replay"])]
    pub strategy: Option<String>,
    /// A strategy parameter, NAME=VALUE (repeatable), e.g. --param fast=10 --param slow=20.
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// First bar of the period (a date or date-time); the series' first bar by default.
    #[arg(long)]
    pub start: Option<String>,
    /// Last bar of the period; a bare date includes that whole day. The series' last bar by
    /// default.
    #[arg(long)]
    pub end: Option<String>,
    /// Decide every N bars.
    #[arg(long, default_value_t = 1)]
    pub interval: i64,
    #[command(flatten)]
    pub account: AccountArgs,
    /// Close any open position at the last bar's close (its records say END); by default a
    /// position open at the end stays open, as backtesting.py's finalize_trades=False.
    #[arg(long)]
    pub close_at_end: bool,
    /// Record every decision of a built-in strategy, holds included (by default only the
    /// decisions that trade are recorded; every decision still counts in the progress).
    #[arg(long)]
    pub record_holds: bool,
    #[command(flatten)]
    pub ai: AiTaskArgs,
    /// Re-simulate a finished task's recorded decisions (same series, period and interval)
    /// under this command's account settings, without calling any model. Settings not given
    /// are the source task's.
    #[arg(long, value_name = "TASK_ID", conflicts_with = "template")]
    pub replay: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The account a backtest trades on.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Initial cash [default: 10000].
    #[arg(long)]
    pub cash: Option<String>,
    /// Commission rate of both sides (0.001 = 0.1%) [default: 0.001].
    #[arg(long)]
    pub commission: Option<String>,
    /// Commission rate of buys and covers, overriding --commission.
    #[arg(long)]
    pub commission_buy: Option<String>,
    /// Commission rate of sells and shorts, overriding --commission.
    #[arg(long)]
    pub commission_sell: Option<String>,
    /// Minimum commission per order [default: 0].
    #[arg(long)]
    pub min_commission: Option<String>,
    /// Tax rate on sell-side executions (SELL and SHORT_SELL) [default: 0].
    #[arg(long)]
    pub tax: Option<String>,
    /// Margin locked per unit of short notional (1 = fully collateralised) [default: 1].
    #[arg(long)]
    pub short_margin: Option<String>,
    /// Fraction every fill is moved against you: buys and covers at price × (1 + s), sells and
    /// shorts at price × (1 − s) [default: 0].
    #[arg(long)]
    pub slippage: Option<String>,
    /// Yearly rate charged on the market value of shorts, accrued bar by bar in calendar time
    /// (0.05 = 5% a year) [default: 0].
    #[arg(long)]
    pub borrow_rate: Option<String>,
    /// Allow fractional shares in a US account.
    #[arg(long)]
    pub fractional: bool,
    /// next_open (an order fills at the next bar's open) or close (at the decision bar's
    /// close) [default: next_open].
    #[arg(long)]
    pub fill: Option<String>,
    /// Use an existing account's cash and fees instead of the flags above.
    #[arg(long = "account", value_name = "ACCOUNT_ID")]
    pub account_id: Option<String>,
}

/// A backtest whose decisions come from a model.
#[derive(Debug, Args)]
pub struct AiTaskArgs {
    /// A prompt template file (Jinja; see aibt template check): decisions come from a model,
    /// given by --ai-config or by --base-url and --model.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// A stored AI config, by name or id (aibt ai-config add).
    #[arg(long, requires = "template", conflicts_with_all = ["base_url", "model"])]
    pub ai_config: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Whether answers are read from and written to the decision cache.
    #[arg(long, value_enum, default_value_t = CacheArg::ReadWrite, requires = "template")]
    pub cache: CacheArg,
    /// Ask up to N decisions at once when the template reads nothing of the account (the
    /// answers are applied in order: the result is the same as one at a time).
    #[arg(long, default_value_t = 1, requires = "template")]
    pub prefetch: u32,
    /// Hide the symbol and dates from the model and rebase prices to 100 (statistics stay on
    /// real prices).
    #[arg(long, requires = "template")]
    pub blind: bool,
    /// Bars shown to the model in `bars` [default: 30].
    #[arg(long, requires = "template")]
    pub window: Option<u32>,
    /// Failed decisions tolerated before the task is FAILED [default: a quarter of the
    /// decisions, at least 5].
    #[arg(long, requires = "template")]
    pub failure_limit: Option<u64>,
    /// How often an unusable answer is asked again before it counts as failed [default: 2].
    #[arg(long, requires = "template")]
    pub answer_retries: Option<u32>,
    /// json (one answer holding the decision) or tools (the model looks up bars, indicators,
    /// the account, earlier decisions and context, then calls submit_decision; a server that
    /// refuses tools falls back to json) [default: the AI config's, json].
    #[arg(long, requires = "template", value_parser = parse_decision_mode)]
    pub decision_mode: Option<DecisionMode>,
    /// In tool mode, the most tool calls a decision may make, its submission included
    /// [default: 8, at most 64].
    #[arg(long, requires = "template", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_tool_calls: Option<u32>,
    /// A sampling seed sent to the model (with it, a temperature above 0 repeats).
    #[arg(long, requires = "template")]
    pub seed: Option<u64>,
    /// The most the run may spend on its model: money by the AI config's prices (2.50) or
    /// tokens (150000tokens); may be given once of each kind. The task pauses before a call
    /// would pass it (aibt task resume ID --budget … goes on).
    #[arg(long, requires = "template")]
    pub budget: Vec<String>,
    /// Print what the run would ask of its model and cost, and run nothing: the calls the
    /// cache leaves, their prompt tokens (counted by the server's /tokenize where it has one)
    /// and the money by the AI config's prices. Stores no task and no account.
    #[arg(long, requires = "template")]
    pub estimate: bool,
}

/// How to reach a model: an AI config's fields.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The API root of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (Ollama),
    /// http://127.0.0.1:8080/v1 (llama.cpp), https://api.openai.com/v1.
    #[arg(long, requires = "model")]
    pub base_url: Option<String>,
    /// The model's name as the server knows it, e.g. qwen2.5:7b.
    #[arg(long, requires = "base_url")]
    pub model: Option<String>,
    /// Read the API key from this environment variable at each use (it is never stored).
    #[arg(long, value_name = "VAR", requires = "base_url")]
    pub api_key_env: Option<String>,
    /// json_schema (the server constrains the answer), json_object, or none (for servers that
    /// reject response_format; the JSON is found in the text) [default: json_schema].
    #[arg(long, requires = "base_url", value_parser = parse_response_format)]
    pub response_format: Option<ResponseFormat>,
    /// Sampling temperature, 0..=2 [default: 0, deterministic].
    #[arg(long, requires = "base_url")]
    pub temperature: Option<String>,
    /// The most tokens an answer may take, a reasoning model's thinking included
    /// [default: 2048].
    #[arg(long, requires = "base_url")]
    pub max_tokens: Option<i64>,
    /// Seconds one call may take [default: 60].
    #[arg(long, requires = "base_url")]
    pub timeout: Option<i64>,
    /// Calls in flight at once, shared by every task of this config [default: 4].
    #[arg(long, requires = "base_url")]
    pub max_concurrency: Option<i64>,
    /// Retries of a call that failed with 429, 5xx, a timeout or a broken connection
    /// [default: 3].
    #[arg(long, requires = "base_url")]
    pub max_retries: Option<i64>,
    /// The model's training cutoff (YYYY-MM-DD): a backtest ending before it is flagged as at
    /// risk of memorisation.
    #[arg(long, requires = "base_url")]
    pub knowledge_cutoff: Option<String>,
    /// What a million prompt tokens cost (any currency; for the cost of runs and budgets).
    #[arg(long, requires = "base_url")]
    pub price_input_per_million: Option<String>,
    /// What a million completion tokens cost.
    #[arg(long, requires = "base_url")]
    pub price_output_per_million: Option<String>,
    /// How long a reasoning model thinks, for servers that take it: none, minimal, low,
    /// medium, high or xhigh [default: the server's].
    #[arg(long, requires = "base_url")]
    pub reasoning_effort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheArg {
    ReadWrite,
    ReadOnly,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Check a template's syntax and variables; prints the variables it uses.
    Check { file: PathBuf },
    /// Print exactly what the model would receive for one bar, before spending a token.
    Render(Box<RenderArgs>),
    /// Store a template file as a prompt template (prints its id).
    Add {
        file: PathBuf,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        tags: Option<String>,
    },
    /// List stored templates.
    List {
        /// Include UNAVAILABLE and DELETED templates.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub symbol: String,
    #[arg(long, value_parser = parse_market)]
    pub market: Option<MarketType>,
    #[arg(long, value_parser = parse_granularity, default_value = "daily")]
    pub granularity: TimeGranularity,
    /// The decision bar: the last bar at or before this date or date-time.
    #[arg(long)]
    pub at: String,
    /// The backtest's first bar (blind mode rebases prices from the bars before it); the
    /// decision bar by default.
    #[arg(long)]
    pub start: Option<String>,
    #[arg(long)]
    pub window: Option<u32>,
    #[arg(long)]
    pub blind: bool,
    #[command(flatten)]
    pub account: AccountArgs,
    /// text: the prompt; json: the whole request's messages and answer schema.
    #[arg(long, value_enum, default_value_t = RenderFormat::Text)]
    pub format: RenderFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AiConfigCommand {
    /// Store how to reach a model.
    Add {
        name: String,
        #[command(flatten)]
        model: Box<ModelArgs>,
        /// Read an API key from standard input and store it encrypted.
        #[arg(long, conflicts_with = "api_key_env")]
        api_key_stdin: bool,
        /// json (one answer holding the decision) or tools (the model calls tools, then
        /// submit_decision) [default: json].
        #[arg(long, value_parser = parse_decision_mode)]
        decision_mode: Option<DecisionMode>,
    },
    /// List AI configs (keys masked).
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Make one real call with a config and report the latency and the answer.
    Test { name: String },
    /// Delete an AI config.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Print what a spec would run (tasks, decisions, calls not in the cache, prompt tokens,
    /// money) without running or paying for anything.
    Plan {
        spec: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Create the experiment of a spec and run its tasks here (Ctrl-C pauses them all).
    Run {
        spec: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Resume a paused experiment and run its tasks here.
    Resume {
        id: String,
        /// A new budget for the whole experiment (2.50 or 150000tokens), split among its
        /// model tasks by their decisions.
        #[arg(long)]
        budget: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print an experiment's leaderboard.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List experiments, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Pause an experiment's tasks (their workers stop after the step in progress).
    Pause { id: String },
    /// Cancel an experiment's tasks.
    Cancel { id: String },
    /// Write an experiment's report: one self-contained HTML file (leaderboard, charts, notes).
    Report(ReportArgs),
}

/// Where a report goes and in which language.
#[derive(Debug, Args)]
pub struct ReportArgs {
    pub id: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportLang::En)]
    pub lang: ReportLang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportLang {
    En,
    Zh,
}

impl ReportLang {
    pub fn lang(self) -> aibt_server::report::Lang {
        match self {
            ReportLang::En => aibt_server::report::Lang::En,
            ReportLang::Zh => aibt_server::report::Lang::ZhCn,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a task: its settings, progress and statistics.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Export a task's trades, decisions and snapshots.
    Export {
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Which records (CSV exports one kind; JSON exports all three unless one is named).
        #[arg(long, value_enum)]
        records: Option<Records>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Resume a paused or failed task and run it here to completion.
    Resume {
        id: String,
        /// A new budget for the task's model (2.50 or 150000tokens; see aibt backtest
        /// --budget), replacing the one it paused at.
        #[arg(long)]
        budget: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Pause a running task (its worker stops after the step in progress).
    Pause { id: String },
    /// Cancel a task.
    Cancel { id: String },
    /// Write a task's report: one self-contained HTML file (settings, statistics, charts,
    /// trades, decisions).
    Report(ReportArgs),
    /// Delete tasks with their run accounts, decisions, trades and snapshots (a RUNNING task
    /// is refused: pause or cancel it first). Records go in small batches, so running tasks
    /// keep committing meanwhile.
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete every task older than an age, with its records (the seed's §9.1: keep large
    /// histories in check). `aibt db vacuum` then gives the space back.
    Prune {
        /// Tasks created longer ago than this: 90d, 2w or 12h.
        #[arg(long, value_parser = parse_age)]
        older_than: chrono::Duration,
        /// Only tasks with these statuses (comma-separated; default COMPLETED,FAILED,CANCELLED;
        /// RUNNING is refused).
        #[arg(long, value_delimiter = ',', value_parser = parse_task_status)]
        status: Vec<TaskStatus>,
        /// List what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Records {
    Trades,
    Decisions,
    Snapshots,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database if needed and apply every migration.
    Migrate,
    /// Report the schema version, run the integrity check and count rows.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write a consistent copy of a SQLite database to FILE (which must not exist), readable
    /// by its owner only, while workers keep writing.
    Backup { file: PathBuf },
    /// Give the space of deleted rows back (SQLite: the file shrinks; PostgreSQL: plain
    /// VACUUM, which blocks nobody, so the space is reused).
    Vacuum,
}
