//! The `aibt` binary: reads the command line, opens the database, runs one command. Every
//! failure ends here as a message on stderr and a non-zero exit status.

mod cli;
mod commands;
mod db;
mod flags;
mod foreground;
mod print;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server must outlive its clients: with SIGPIPE at its default, a client that closes its
    // connection while an export streams to it would kill the process.
    if !matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        restore_sigpipe();
    }
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

/// `aibt task export … | head` should end quietly, as Unix tools do, rather than report a
/// broken pipe (Rust ignores SIGPIPE, so a closed pipe would surface as an error or a panic in
/// the middle of printing). Not for `serve` and `worker`, which write to sockets.
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to the default is async-signal-safe and happens
    // before any other thread exists (the runtime is built after).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = db::open(&cli.database_url).await?;
    let outcome = match cli.command {
        Command::Db(command) => commands::db::run(store.clone(), command).await,
        Command::Data(command) => commands::data::run(store.clone(), command).await,
        Command::Backtest(args) => commands::backtest::run(store.clone(), *args).await,
        Command::Task(command) => commands::task::run(store.clone(), command).await,
        Command::Template(command) => commands::template::run(store.clone(), command).await,
        Command::AiConfig(command) => commands::ai_config::run(store.clone(), command).await,
        Command::Experiment(command) => commands::experiment::run(store.clone(), command).await,
        Command::Serve(args) => commands::serve::serve(store.clone(), args).await,
        Command::Worker(args) => commands::serve::worker(store.clone(), args).await,
    };
    // A clean end, failed command included, leaves no write-ahead log behind.
    let closed = store.close().await;
    outcome?;
    Ok(closed?)
}
