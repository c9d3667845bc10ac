//! `sp-ingest`: the operator CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
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
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// An account's LWA credentials in Secrets Manager.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// The reports' EventBridge Scheduler schedules.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Amazon Ads accounts.
    #[command(subcommand)]
    Ads(AdsCommand),
    /// Amazon Marketing Cloud: accounts, instances, workflows.
    #[command(subcommand)]
    Amc(AmcCommand),
    /// The notifications the processor could not handle (the stage's dead-letter queue).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long, global = true)]
        stage: Option<String>,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long, global = true)]
        endpoints: Option<PathBuf>,
    },
    /// The accounts' SP-API notifications of finished reports, to the stage's queue.
    Notifications {
        #[command(subcommand)]
        action: NotificationsAction,
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long, global = true)]
        stage: Option<String>,
        /// Only these accounts (config names); all when none is given.
        #[arg(long = "account", global = true)]
        accounts: Vec<String>,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long, global = true)]
        endpoints: Option<PathBuf>,
    },
    /// Each report's catch-up windows and how each stands: stored, no data, failed with
    /// the reason, waiting and for how long, expired, or not requested yet.
    Status {
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long)]
        stage: String,
        /// Only these reports (config names); all when none is given.
        #[arg(long = "report")]
        reports: Vec<String>,
        /// Only these accounts (config names); all when none is given.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Only windows starting at most this long ago (`7d`, `36h`).
        #[arg(long)]
        since: Option<String>,
        /// JSON lines, one per window, for scripts.
        #[arg(long)]
        json: bool,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
    /// The Athena views of sql/views/ (and every curated table they read), created or
    /// replaced in the stage's workgroup.
    #[command(subcommand)]
    Views(ViewsCommand),
    /// Backfills a range of days of one report: the fewest windows its type allows,
    /// oldest first, landed ones skipped, run as child executions of the ingest state
    /// machine with a progress bar. Started again, it resumes: runs still going are
    /// followed, nothing is requested twice.
    Backfill {
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long)]
        stage: String,
        /// The report (config name).
        #[arg(long)]
        report: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day, included (YYYY-MM-DD).
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Only these accounts (config names); every account of the report when none.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Child executions at once (each works on up to 60 requests).
        #[arg(long, default_value_t = 2)]
        parallel: usize,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
    /// Runs the ingest state machine once and follows it to its end.
    Run {
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long)]
        stage: String,
        /// Only these reports (config names); all when none is given.
        #[arg(long = "report")]
        reports: Vec<String>,
        /// Only the window starting on this day (YYYY-MM-DD), instead of each report's
        /// trailing catch-up windows: to fetch or, with --refresh, restate one period.
        #[arg(long)]
        window: Option<chrono::NaiveDate>,
        /// Request new reports even for windows that landed; each replaces its object.
        #[arg(long)]
        refresh: bool,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ViewsCommand {
    /// Creates or replaces every view (run after `make deploy` and after a view file changes).
    Create {
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long)]
        stage: String,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AdsCommand {
    /// Lists the profiles an Ads account reaches in its region, to name in its
    /// `profiles`: with the account's inline credentials in the file, or piped in on stdin
    /// (JSON or three lines: client id, client secret, Ads refresh token).
    Profiles {
        /// The configuration file (for the account's region and the region's endpoints).
        file: PathBuf,
        /// The Ads account's name in the file (`ads_accounts/<name>`).
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
enum DlqAction {
    /// Lists them (what each is about, how often it was received), leaving them there.
    Show,
    /// Sends each back to the notification queue; the processor drops any it handled
    /// before, so replaying twice changes nothing.
    Replay,
}

#[derive(Debug, Subcommand)]
enum AmcCommand {
    /// Lists the AMC accounts (advertiser ids, `ENTITY…`) an Ads account's token reaches.
    Accounts {
        /// The configuration file (for the Ads account's region and credentials).
        file: PathBuf,
        /// The Ads account's name in the file (`ads_accounts/<name>`).
        #[arg(long)]
        account: String,
    },
    /// Lists an AMC account's instances.
    Instances {
        /// The configuration file.
        file: PathBuf,
        /// The Ads account's name in the file.
        #[arg(long)]
        account: String,
        /// The AMC account (`ENTITY…`, from `amc accounts`).
        #[arg(long)]
        advertiser: String,
        /// The AMC account's marketplace id (from `amc accounts`).
        #[arg(long)]
        marketplace: String,
    },
    /// Workflows of an instance.
    #[command(subcommand)]
    Workflows(AmcWorkflowsCommand),
    /// Uploads a customer list (CSV with a header line, or JSON Lines) to an instance as
    /// first-party data: each identifier column (email, phone, first_name, last_name,
    /// city, postal_code) normalised and SHA-256-hashed in this process, the hashed file
    /// put in S3 where AMC reads it, the data set defined, the upload made and waited
    /// for. Rows with an identifier that does not normalise are left out and listed by
    /// line, without their values.
    Upload {
        /// The configuration file.
        file: PathBuf,
        /// The instance's name in the file (`amc_instances/<name>`).
        #[arg(long)]
        instance: String,
        /// The data set to define and upload to.
        #[arg(long)]
        dataset: String,
        /// The customer list.
        #[arg(long)]
        input: PathBuf,
        /// The bucket AMC's data upload account may read.
        #[arg(long)]
        bucket: String,
        /// The country whose phone and postal-code rules apply; the instance
        /// marketplace's when absent.
        #[arg(long)]
        country: Option<String>,
        /// A local stack's endpoints file instead of the AWS account of the environment.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AmcWorkflowsCommand {
    /// Makes the instance's workflows those of the `.sql` files in `amc/` beside the
    /// config file: shows each change, then makes it (creates and updates; deletes a
    /// workflow no file names only with `--prune`).
    Sync {
        /// The configuration file.
        file: PathBuf,
        /// The instance's name in the file (`amc_instances/<name>`).
        #[arg(long)]
        instance: String,
        /// Show the changes without making them.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the instance's workflows no file names.
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SchedulesCommand {
    /// Makes the stage's schedules those of its pushed config: one per report.
    Sync {
        /// The stage (its stack `sp-ingest-<stage>` is found in CloudFormation).
        #[arg(long)]
        stage: String,
        /// A local stack's endpoints file instead of a deployed stack.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum NotificationsAction {
    /// Subscribes the accounts (creating the queue's destination once per app and region).
    Subscribe,
    /// Shows where each account's notifications go.
    Status,
    /// Deletes the accounts' subscriptions to the stage's queue; with every account,
    /// also the queue's destinations. The pipeline then polls.
    Unsubscribe,
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Stores an account's LWA client id, client secret and refresh token, piped in on
    /// stdin (JSON or three lines) — never as arguments, which shells and `ps` keep.
    Set {
        /// The account's name in the config (`accounts/<name>`).
        account: String,
        /// The stage.
        #[arg(long)]
        stage: String,
        /// A local stack's endpoints file; without it, the AWS account of the standard
        /// credential chain.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Checks a configuration file offline, as a push would: every problem at once.
    Validate {
        /// The configuration file (see `config/example.json`).
        file: PathBuf,
    },
    /// Pushes a configuration file to its stage's Parameter Store, after showing what
    /// changes; the next run uses it.
    Push {
        /// The configuration file; its `stage` says where it goes.
        file: PathBuf,
        /// Push without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// A local stack's endpoints file; without it, the AWS account of the standard
        /// credential chain.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
    /// Prints the stage's configuration as Parameter Store holds it, with its version.
    Show {
        /// The stage.
        #[arg(long)]
        stage: String,
        /// A local stack's endpoints file; without it, the standard credential chain.
        #[arg(long)]
        endpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum Local {
    /// Starts the local stack and keeps it up until Ctrl-C; writes its endpoints to a file.
    Up {
        /// Where to write the endpoints (AWS endpoint URL, queue, bucket, state machine).
        #[arg(long, default_value = ".local/endpoints.json")]
        endpoints: PathBuf,
    },
    /// Pushes a config file to the running local stack, subscribes its accounts and runs
    /// every report once; prints what landed.
    Run {
        /// The configuration file (see `config/example.json`).
        #[arg(long)]
        config: PathBuf,
        /// The endpoints file `local up` wrote.
        #[arg(long, default_value = ".local/endpoints.json")]
        endpoints: PathBuf,
        /// Request new reports even for windows that landed; each replaces its object.
        #[arg(long)]
        refresh: bool,
    },
    /// Stops the local stack that `local up` started.
    Down {
        /// The endpoints file `local up` wrote.
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
        Command::Local(Local::Run {
            config,
            endpoints,
            refresh,
        }) => local_run(&config, &endpoints, refresh).await,
        Command::Local(Local::Down { endpoints }) => local_down(&endpoints).await.map(|()| true),
        Command::Config(ConfigCommand::Validate { file }) => config_validate(&file),
        Command::Config(ConfigCommand::Push {
            file,
            yes,
            endpoints,
        }) => config_push(&file, yes, endpoints.as_deref()).await,
        Command::Config(ConfigCommand::Show { stage, endpoints }) => {
            config_show(&stage, endpoints.as_deref())
                .await
                .map(|()| true)
        }
        Command::Ads(AdsCommand::Profiles { file, account }) => {
            ads_profiles(&file, &account).await.map(|()| true)
        }
        Command::Amc(command) => amc(command).await.map(|()| true),
        Command::Dlq {
            action,
            stage,
            endpoints,
        } => dlq(action, stage.as_deref(), endpoints.as_deref())
            .await
            .map(|()| true),
        Command::Schedules(SchedulesCommand::Sync { stage, endpoints }) => {
            schedules_sync(&stage, endpoints.as_deref())
                .await
                .map(|()| true)
        }
        Command::Views(ViewsCommand::Create { stage, endpoints }) => {
            views_create(&stage, endpoints.as_deref())
                .await
                .map(|()| true)
        }
        Command::Notifications {
            action,
            stage,
            accounts,
            endpoints,
        } => notifications(action, stage.as_deref(), &accounts, endpoints.as_deref()).await,
        Command::Status {
            stage,
            reports,
            accounts,
            since,
            json,
            endpoints,
        } => {
            let filter = (reports, accounts, since);
            status(&stage, filter, json, endpoints.as_deref()).await
        }
        Command::Run {
            stage,
            reports,
            window,
            refresh,
            endpoints,
        } => run_stage(&stage, reports, window, refresh, endpoints.as_deref()).await,
        Command::Backfill {
            stage,
            report,
            from,
            to,
            accounts,
            parallel,
            endpoints,
        } => {
            let backfill = cli::backfill::Backfill {
                report,
                days: contract::DayRange {
                    from,
                    to: to + chrono::TimeDelta::days(1),
                },
                accounts,
                parallel,
                per_run: cli::backfill::REQUESTS_PER_RUN,
            };
            backfill_stage(&stage, &backfill, endpoints.as_deref()).await
        }
        Command::Credentials(CredentialsCommand::Set {
            account,
            stage,
            endpoints,
        }) => credentials_set(&account, &stage, endpoints.as_deref())
            .await
            .map(|()| true),
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

async fn credentials_set(
    account: &str,
    stage: &str,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use std::io::{IsTerminal as _, Read as _};
    let mut stdin = std::io::stdin();
    anyhow::ensure!(
        !stdin.is_terminal(),
        "pipe the credentials in (JSON with client_id, client_secret, refresh_token, or three lines), e.g. from your password manager: typing them here would echo them"
    );
    let mut text = String::new();
    stdin.read_to_string(&mut text)?;
    let credentials = cli::config_file::Credentials::parse(&text)?;
    let aws = match endpoints {
        Some(endpoints) => cli::stage::StageHandle::attach(endpoints)
            .await?
            .0
            .aws()
            .clone(),
        None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
    };
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let arn = cli::config_file::store_credentials(&secrets, stage, account, &credentials).await?;
    println!("stored the credentials of account `{account}` in {arn}");
    Ok(())
}

/// The stage's AWS configuration and outputs: a local stack's (its endpoints file), or
/// the deployed stack's, found in CloudFormation by the stage's name.
async fn stage_for(
    stage: &str,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<(aws_config::SdkConfig, cli::stack::StackOutputs)> {
    match endpoints {
        Some(endpoints) => {
            let (handle, _) = cli::stage::StageHandle::attach(endpoints).await?;
            let outputs = cli::stack::StackOutputs::local(handle.resources());
            anyhow::ensure!(
                outputs.stage == stage,
                "the local stack runs stage `{}`, not `{stage}`",
                outputs.stage
            );
            Ok((handle.aws().clone(), outputs))
        }
        None => {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let cloudformation = aws_sdk_cloudformation::Client::new(&aws);
            let outputs = cli::stack::StackOutputs::discover(&cloudformation, stage).await?;
            Ok((aws, outputs))
        }
    }
}

async fn schedules_sync(stage: &str, endpoints: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let config = pushed_config(&aws, stage).await?;
    let synced = cli::schedules::sync(
        &aws_sdk_scheduler::Client::new(&aws),
        &outputs.schedule_target(),
        &config,
    )
    .await?;
    println!(
        "schedules of stage `{stage}`: created {:?}, updated {:?}, deleted {:?}, {} unchanged",
        synced.created,
        synced.updated,
        synced.deleted,
        synced.unchanged.len()
    );
    Ok(())
}

async fn views_create(stage: &str, endpoints: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let created = cli::views::create(
        &aws,
        &outputs.glue_database,
        &outputs.curated_bucket,
        &outputs.athena_workgroup,
    )
    .await?;
    println!(
        "views of stage `{stage}` in Athena workgroup {} (database {}): {}",
        outputs.athena_workgroup,
        outputs.glue_database,
        created.join(", ")
    );
    Ok(())
}

async fn notifications(
    action: NotificationsAction,
    stage: Option<&str>,
    only: &[String],
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let stage = stage.context("which stage? add --stage <stage>")?;
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let config = pushed_config(&aws, stage).await?;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let accounts = cli::notifications::accounts(&secrets, &config, only).await?;
    let queue = &outputs.notification_queue_arn;
    let mut ok = true;
    for account in &accounts {
        let result = match action {
            NotificationsAction::Subscribe => account.subscribe(queue, stage).await,
            NotificationsAction::Status => account.status(queue).await,
            NotificationsAction::Unsubscribe => {
                account.unsubscribe(queue).await.map(|was| match was {
                    cli::notifications::SubscriptionState::Subscribed { .. } => {
                        cli::notifications::SubscriptionState::NotSubscribed
                    }
                    elsewhere_or_none => elsewhere_or_none,
                })
            }
        };
        match result {
            Ok(state) => println!("{}: {state}", account.account),
            Err(error) => {
                ok = false;
                println!("{}: error: {error:#}", account.account);
            }
        }
    }
    if matches!(action, NotificationsAction::Unsubscribe) && only.is_empty() && ok {
        for id in cli::notifications::delete_destinations(&accounts, queue).await? {
            println!("deleted destination {id}");
        }
    }
    Ok(ok)
}

async fn status(
    stage: &str,
    (reports, accounts, since): (Vec<String>, Vec<String>, Option<String>),
    json: bool,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let config = pushed_config(&aws, stage).await?;
    let table = pipeline::MetadataTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        outputs.metadata_table.clone(),
    );
    let now = chrono::Utc::now();
    let filter = cli::status::Filter {
        reports,
        accounts,
        since: since.as_deref().map(cli::status::parse_since).transpose()?,
    };
    let windows = cli::status::windows_of(&table, &config, now, &filter).await?;
    if json {
        for window in &windows {
            println!("{}", serde_json::to_string(window)?);
        }
    } else {
        print!("{}", cli::status::table(&windows, now));
    }
    Ok(true)
}

async fn run_stage(
    stage: &str,
    reports: Vec<String>,
    window: Option<chrono::NaiveDate>,
    refresh: bool,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let run_at = chrono::Utc::now();
    if let Some(day) = window {
        // Plan skips reports whose window starting that day is not complete yet; say so
        // before starting a run that would request nothing.
        let config = pushed_config(&aws, stage).await?;
        let planned = config.plan_window(run_at, &reports, Some(day));
        anyhow::ensure!(
            !planned.is_empty(),
            "no report has a complete window starting {day} yet (a window is requested once it has ended and its lag has passed); pick an earlier day"
        );
    }
    let request = cli::run::RunRequest {
        reports,
        run_at,
        attempt: None,
        refresh,
        window,
        backfill: None,
        accounts: Vec::new(),
    };
    let outcome = cli::run::run_and_print(
        &aws_sdk_sfn::Client::new(&aws),
        &outputs.state_machine_arn,
        &request,
        std::time::Duration::from_secs(24 * 3600),
    )
    .await?;
    if let Some(summary) = &outcome.summary {
        let s3 = pipeline::s3_client(&aws);
        let lines = cli::results::read_back(&s3, &outputs.raw_bucket, &summary.results).await?;
        print!("\n{}", cli::results::table(&lines));
    }
    Ok(outcome.status == "SUCCEEDED")
}

async fn backfill_stage(
    stage: &str,
    backfill: &cli::backfill::Backfill,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let (aws, outputs) = stage_for(stage, endpoints).await?;
    let config = pushed_config(&aws, stage).await?;
    let parts = backfill.parts(&config, chrono::Utc::now())?;
    let windows: usize = parts.iter().map(|p| p.keys.len()).sum();
    anyhow::ensure!(
        windows > 0,
        "no complete window of {} lies in {}..{} (windows are whole periods of the report type, within its lookback, ended by now)",
        backfill.report,
        backfill.days.from,
        backfill.days.to
    );
    println!(
        "backfilling {}: {windows} request(s) in {} run(s) of the ingest state machine, {} at a time",
        backfill.report,
        parts.len(),
        backfill.parallel
    );
    let table = pipeline::MetadataTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        outputs.metadata_table.clone(),
    );
    let bar = cli::backfill::bar();
    let tally = cli::backfill::run(
        &aws_sdk_sfn::Client::new(&aws),
        &outputs.state_machine_arn,
        &table,
        backfill,
        parts,
        &bar,
    )
    .await?;
    bar.finish();
    println!(
        "landed {}, failed {}, expired {}, remaining {} of {} (`sp-ingest status --report {}` lists each window; run the same command again to retry what did not land)",
        tally.landed,
        tally.failed,
        tally.expired,
        tally.remaining(),
        tally.total,
        backfill.report
    );
    Ok(tally.failed == 0 && tally.remaining() == 0)
}

/// The configuration pushed to `stage`, as the next run reads it.
async fn pushed_config(aws: &aws_config::SdkConfig, stage: &str) -> anyhow::Result<domain::Config> {
    pipeline::ConfigStore::new(aws_sdk_ssm::Client::new(aws), stage)
        .config()
        .await
        .map_err(|failure| anyhow::anyhow!(failure.describe()))
}

/// The AWS configuration of a local stack (its endpoints file) or of the standard chain.
async fn aws_for(endpoints: Option<&std::path::Path>) -> anyhow::Result<aws_config::SdkConfig> {
    Ok(match endpoints {
        Some(endpoints) => cli::stage::StageHandle::attach(endpoints)
            .await?
            .0
            .aws()
            .clone(),
        None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
    })
}

async fn config_push(
    path: &std::path::Path,
    yes: bool,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let file = cli::config_file::ConfigFile::read(path)?;
    if let Err(error) = cli::config_file::validate(&file) {
        eprintln!(
            "{} is not valid, nothing pushed:\n{error:#}",
            path.display()
        );
        return Ok(false);
    }
    let aws = aws_for(endpoints).await?;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    let stored = cli::config_file::stored_parameters(&ssm, &file.stage).await?;
    let changes = cli::config_file::Changes::of_push(&stored, &file)?;
    for (sign, names) in [
        ("+", &changes.added),
        ("~", &changes.changed),
        ("-", &changes.removed),
    ] {
        for name in names {
            println!("{sign} {name}");
        }
    }
    let credentials = file.accounts.values().any(|a| a.credentials.is_some());
    if changes.is_empty() && !credentials {
        println!("stage `{}` already has this configuration", file.stage);
        return Ok(true);
    }
    if !yes {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "not pushed: confirm with --yes when not at a terminal"
        );
        print!("push these changes to stage `{}`? [y/N] ", file.stage);
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("not pushed");
            return Ok(false);
        }
    }
    let config = cli::config_file::push(&aws, &file).await?;
    println!(
        "pushed configuration version {} to stage `{}`; the next run uses it",
        config.version(),
        config.stage
    );
    Ok(true)
}

async fn config_show(stage: &str, endpoints: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = pushed_config(&aws_for(endpoints).await?, stage).await?;
    println!(
        "# stage `{stage}`, configuration version {}",
        config.version()
    );
    println!("{}", serde_json::to_string_pretty(&config)?);
    Ok(())
}

async fn dlq(
    action: DlqAction,
    stage: Option<&str>,
    endpoints: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let stage = stage.context("--stage is required")?;
    let (aws, _) = stage_for(stage, endpoints).await?;
    let names = cli::resources::StageResources::for_stage(stage, "");
    let sqs = aws_sdk_sqs::Client::new(&aws);
    match action {
        DlqAction::Show => {
            let letters = cli::dlq::show(&sqs, &names.dead_letter_queue).await?;
            print!("{}", cli::dlq::table(&letters));
        }
        DlqAction::Replay => {
            let replayed =
                cli::dlq::replay(&sqs, &names.dead_letter_queue, &names.notification_queue).await?;
            println!(
                "{replayed} notifications sent back to {}",
                names.notification_queue
            );
        }
    }
    Ok(())
}

async fn amc(command: AmcCommand) -> anyhow::Result<()> {
    match command {
        AmcCommand::Accounts { file, account } => {
            let file_read = cli::config_file::ConfigFile::read(&file)?;
            let ads = ads_client(&file, &file_read, &account)?;
            let accounts = ads
                .amc_accounts()
                .await
                .context("listing the AMC accounts")?;
            print!("{}", cli::amc::accounts_table(&accounts));
        }
        AmcCommand::Instances {
            file,
            account,
            advertiser,
            marketplace,
        } => {
            let file_read = cli::config_file::ConfigFile::read(&file)?;
            let ads = ads_client(&file, &file_read, &account)?;
            let client = spapi::amc::AmcClient::new(ads, &advertiser, &marketplace);
            let instances = client
                .instances()
                .await
                .with_context(|| format!("listing the instances of AMC account {advertiser}"))?;
            print!("{}", cli::amc::instances_table(&instances));
        }
        AmcCommand::Upload {
            file,
            instance,
            dataset,
            input,
            bucket,
            country,
            endpoints,
        } => {
            let file_read = cli::config_file::ConfigFile::read(&file)?;
            let entry = file_read.amc_instances.get(&instance).with_context(|| {
                format!("{} has no amc_instances entry `{instance}`", file.display())
            })?;
            let ads = ads_client(&file, &file_read, &entry.ads_account)?;
            let client = spapi::amc::AmcClient::new(ads, &entry.advertiser_id, &entry.marketplace);
            let country = country.unwrap_or_else(|| {
                domain::marketplace::marketplace(&entry.marketplace)
                    .map_or("US".to_owned(), |m| m.country.to_owned())
            });
            let aws = match &endpoints {
                Some(endpoints) => cli::stage::StageHandle::attach(endpoints)
                    .await?
                    .0
                    .aws()
                    .clone(),
                None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
            };
            let s3 = pipeline::s3_client(&aws);
            let list = std::io::BufReader::new(
                std::fs::File::open(&input)
                    .with_context(|| format!("opening {}", input.display()))?,
            );
            let json_lines = input
                .extension()
                .is_some_and(|e| e == "jsonl" || e == "ndjson");
            let key = format!(
                "amc-uploads/{dataset}/{}.csv",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            );
            let report = cli::amc::upload(
                &client,
                &s3,
                (&bucket, &key),
                &entry.instance_id,
                &dataset,
                list,
                json_lines,
                &country,
            )
            .await?;
            print!("{}", cli::amc::describe_upload(&report));
            if report.status != "SUCCEEDED" {
                anyhow::bail!("AMC did not take the upload: {}", report.status);
            }
        }
        AmcCommand::Workflows(AmcWorkflowsCommand::Sync {
            file,
            instance,
            dry_run,
            prune,
        }) => {
            let file_read = cli::config_file::ConfigFile::read(&file)?;
            let entry = file_read.amc_instances.get(&instance).with_context(|| {
                format!(
                    "{} has no amc_instances entry `{instance}`; it has {}",
                    file.display(),
                    file_read
                        .amc_instances
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let ads = ads_client(&file, &file_read, &entry.ads_account)?;
            let client = spapi::amc::AmcClient::new(ads, &entry.advertiser_id, &entry.marketplace);
            let files = cli::amc::workflow_files(&file)?;
            let changes = cli::amc::plan(&client, &entry.instance_id, &files).await?;
            print!("{}", cli::amc::describe(&changes, prune));
            if !dry_run {
                cli::amc::apply(&client, &entry.instance_id, &files, &changes, prune).await?;
            }
        }
    }
    Ok(())
}

/// An Ads client for the file's Ads account `account` (its inline credentials, or piped
/// in on stdin).
fn ads_client(
    path: &std::path::Path,
    file: &cli::config_file::ConfigFile,
    account: &str,
) -> anyhow::Result<spapi::ads::AdsClient> {
    let (region, endpoints, credentials) = ads_account(path, file, account)?;
    cli::ads::client(region, &endpoints, &credentials)
}

/// The region, endpoints and credentials of the file's Ads account `account`.
fn ads_account(
    path: &std::path::Path,
    file: &cli::config_file::ConfigFile,
    account: &str,
) -> anyhow::Result<(
    domain::Region,
    domain::config::RegionEndpoints,
    cli::config_file::Credentials,
)> {
    let entry = file.ads_accounts.get(account).with_context(|| {
        format!(
            "{} has no ads_accounts entry `{account}`; it has {}",
            path.display(),
            file.ads_accounts
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let endpoints = file
        .regions
        .get(&entry.region)
        .cloned()
        .unwrap_or_else(|| domain::config::RegionEndpoints::production(entry.region));
    let credentials = match &entry.credentials {
        Some(credentials) => credentials.clone(),
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the credentials from stdin")?;
            cli::config_file::Credentials::parse(&text)?
        }
    };
    Ok((entry.region, endpoints, credentials))
}

async fn ads_profiles(path: &std::path::Path, account: &str) -> anyhow::Result<()> {
    let file = cli::config_file::ConfigFile::read(path)?;
    let (region, endpoints, credentials) = ads_account(path, &file, account)?;
    let profiles = cli::ads::profiles(region, &endpoints, &credentials).await?;
    print!("{}", cli::ads::table(&profiles));
    Ok(())
}

fn config_validate(path: &std::path::Path) -> anyhow::Result<bool> {
    let file = cli::config_file::ConfigFile::read(path)?;
    match cli::config_file::validate(&file) {
        Ok(valid) => {
            println!(
                "{} is valid: stage `{}`, {} accounts, {} reports, up to {} requests a run (every catch-up window)",
                path.display(),
                valid.config.stage,
                valid.config.accounts.len(),
                valid.config.reports.len(),
                valid.requests_per_run
            );
            for (report, query) in &valid.data_kiosk {
                let kept = query
                    .retention
                    .as_deref()
                    .unwrap_or("as long as Amazon keeps it");
                println!("report `{report}`: Data Kiosk keeps its results {kept}");
                if !query.retentions.is_empty() {
                    println!(
                        "  its fields have different retentions ({}); the shortest applies",
                        query.retentions.join(", ")
                    );
                }
                println!("  query of the latest window: {}", query.text);
            }
            Ok(true)
        }
        Err(error) => {
            eprintln!("{} is not valid:\n{error:#}", path.display());
            Ok(false)
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
        "local stack up; endpoints in {} — Ctrl-C or `sp-ingest local down` stops it",
        endpoints.display()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    local.shutdown().await;
    let _ = std::fs::remove_file(&endpoints);
    Ok(())
}

async fn local_run(
    config: &std::path::Path,
    endpoints: &std::path::Path,
    refresh: bool,
) -> anyhow::Result<bool> {
    let file = cli::config_file::ConfigFile::read(config)?;
    let (stage, _) = cli::stage::StageHandle::attach(endpoints).await?;
    cli::demo::run_file(&stage, &file, None, refresh).await
}

async fn local_down(endpoints: &std::path::Path) -> anyhow::Result<()> {
    let (_, file) = cli::stage::StageHandle::attach(endpoints).await?;
    // SIGTERM lets `local up` stop its processes in order; `kill` avoids unsafe libc calls.
    let status = tokio::process::Command::new("kill")
        .arg("-TERM")
        .arg(file.pid.to_string())
        .status()
        .await?;
    anyhow::ensure!(
        status.success(),
        "no `local up` process {} (already stopped?)",
        file.pid
    );
    for _ in 0..300 {
        if !endpoints.exists() {
            println!("local stack stopped");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("`local up` ({}) did not stop within 30 s", file.pid)
}
