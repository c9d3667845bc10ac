//! `sp-ingest`: the operator CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sp-ingest: Amazon retail data into your own AWS account.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole pipeline on the local stack against the built-in SP-API simulator.
    Demo,
    /// The local stack without the simulator, for the SP-API sandbox or another server.
    #[command(subcommand)]
    Local(Local),
}

#[derive(Debug, Subcommand)]
enum Local {
    /// Starts the local stack and keeps it up until Ctrl-C; writes its endpoints to a file.
    Up {
        /// Where to write the endpoints (AWS endpoint URL, queue, bucket, state machine).
        #[arg(long, default_value = ".local/endpoints.json")]
        endpoints: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let result = match Cli::parse().command {
        Command::Demo => cli::demo::run_demo().await,
        Command::Local(Local::Up { endpoints }) => local_up(endpoints).await.map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn local_up(endpoints: PathBuf) -> anyhow::Result<()> {
    let local = cli::LocalPipeline::up(cli::LocalOptions::default()).await?;
    if let Some(dir) = endpoints.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &endpoints,
        serde_json::to_string_pretty(&local.endpoints())?,
    )?;
    println!(
        "local stack up; endpoints in {} — Ctrl-C stops it",
        endpoints.display()
    );
    tokio::signal::ctrl_c().await?;
    local.shutdown().await;
    Ok(())
}
