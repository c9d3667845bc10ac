//! The `simulator` binary: runs the SP-API + LWA simulator on 127.0.0.1 until SIGINT,
//! SIGTERM or (with `--exit-on-stdin-eof`) the end of stdin, so a parent process that
//! dies takes the simulator down with it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use simulator::{Scenario, SimConfig, SqsTarget};
use tokio::sync::oneshot;

/// SP-API and Login-with-Amazon simulator with fault injection.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of generated document content.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// SQS endpoint for notifications (e.g. a moto server); without it notifications are only recorded.
    #[arg(long, env = "SIMULATOR_SQS_ENDPOINT_URL")]
    sqs_endpoint_url: Option<String>,
    /// AWS region of the SQS client.
    #[arg(long, default_value = "us-east-1")]
    aws_region: String,
    /// Scenario JSON file (partial JSON is fine; see `Scenario`).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Writes `{"base_url":…,"lwa_token_url":…}` here once listening.
    #[arg(long)]
    addr_file: Option<PathBuf>,
    /// Stops when stdin closes.
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading scenario {}", path.display()))?;
            serde_json::from_str::<Scenario>(&text)
                .with_context(|| format!("parsing scenario {}", path.display()))?
        }
        None => Scenario::default(),
    };
    let config = SimConfig {
        bind: ([127, 0, 0, 1], args.port).into(),
        scenario,
        seed: args.seed,
        sqs: args.sqs_endpoint_url.map(|endpoint_url| SqsTarget {
            endpoint_url: Some(endpoint_url),
            region: args.aws_region.clone(),
        }),
        ..SimConfig::default()
    };
    let sim = simulator::start(config).await?;

    if let Some(path) = &args.addr_file {
        let addresses =
            serde_json::json!({ "base_url": sim.base_url(), "lwa_token_url": sim.lwa_token_url() });
        std::fs::write(path, addresses.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("simulator listening on {}", sim.base_url());

    let stdin_watch = args.exit_on_stdin_eof.then(watch_stdin);
    let stdin_closed = async move {
        match stdin_watch {
            Some(closed) => {
                let _ = closed.await;
            }
            None => std::future::pending().await,
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        _ = terminate.recv() => tracing::info!("SIGTERM"),
        () = stdin_closed => tracing::info!("stdin closed"),
    }
    sim.shutdown().await;
    Ok(())
}

/// Fires when stdin reaches end of file. A plain thread, not tokio's stdin: a blocking
/// read cannot be cancelled and would hold up the runtime's shutdown; a detached thread
/// does not keep the process alive.
fn watch_stdin() -> oneshot::Receiver<()> {
    let (closed, receiver) = oneshot::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1024];
        loop {
            match std::io::Read::read(&mut std::io::stdin(), &mut buffer) {
                Ok(0) => break,
                Err(error) if error.kind() != std::io::ErrorKind::Interrupted => break,
                _ => {}
            }
        }
        let _ = closed.send(());
    });
    receiver
}
