//! The `aibt` binary: reads the command line, opens the database, runs one command. Every
//! failure ends here as a message on stderr and a non-zero exit status.

mod cli;
mod commands;
mod db;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = db::open(&cli.database_url).await?;
    match cli.command {
        Command::Db(command) => commands::db::run(store, command).await,
        Command::Data(command) => commands::data::run(store, command).await,
        Command::Backtest(args) => commands::backtest::run(store, *args).await,
        Command::Task(command) => commands::task::run(store, command).await,
    }
}
