//! `sp-ingest amc accounts | instances | workflows sync`: finding the AMC account and
//! instance ids for `amc_instances/<name>`, and making an instance's workflows those of
//! the `.sql` files in the config folder's `amc/` directory (api-facts.md §7).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use domain::amc::{Workflow, WorkflowChange, workflow_changes};
use spapi::amc::{AmcAccount, AmcClient, AmcInstance};

/// A table of the AMC accounts, with the ids to put in `amc_instances/<name>`.
pub fn accounts_table(accounts: &[AmcAccount]) -> String {
    let mut out = format!("{:<24} {:<16} {}\n", "advertiser_id", "marketplace", "name");
    for a in accounts {
        out.push_str(&format!(
            "{:<24} {:<16} {}\n",
            a.account_id, a.marketplace_id, a.account_name
        ));
    }
    out.push_str(
        "\nthen `sp-ingest amc instances FILE --account ADS --advertiser <advertiser_id> --marketplace <marketplace>`\n",
    );
    out
}

/// A table of an account's instances.
pub fn instances_table(instances: &[AmcInstance]) -> String {
    let mut out = format!(
        "{:<24} {:<12} {:<12} {}\n",
        "instance_id", "type", "status", "name"
    );
    for i in instances {
        out.push_str(&format!(
            "{:<24} {:<12} {:<12} {}\n",
            i.instance_id, i.instance_type, i.creation_status, i.instance_name
        ));
    }
    out
}

/// The workflow files of a config file: `amc/*.sql` beside it, by name.
pub fn workflow_files(config_file: &Path) -> anyhow::Result<Vec<(PathBuf, Workflow)>> {
    let dir = config_file
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("amc");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "reading {}: put one .sql file per AMC workflow there",
                dir.display()
            )
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    let mut workflows = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let workflow = Workflow::from_file(&path.display().to_string(), &text)?;
        workflows.push((path, workflow));
    }
    Ok(workflows)
}

/// One line per change, as `amc workflows sync` shows them before making them.
pub fn describe(changes: &[WorkflowChange], prune: bool) -> String {
    if changes.is_empty() {
        return "the instance's workflows are those of the files; nothing to change\n".to_owned();
    }
    let mut out = String::new();
    for change in changes {
        out.push_str(&match change {
            WorkflowChange::Create(w) => format!("+ create {}\n", w.workflow_id),
            WorkflowChange::Update(w, fields) => {
                format!("~ update {} ({})\n", w.workflow_id, fields.join(", "))
            }
            WorkflowChange::Delete(id) if prune => format!("- delete {id}\n"),
            WorkflowChange::Delete(id) => {
                format!("? {id} is on the instance but in no file: kept (--prune deletes it)\n")
            }
        });
    }
    out
}

/// Makes the changes on `instance_id`; an AMC refusal names the file of the workflow.
pub async fn apply(
    client: &AmcClient,
    instance_id: &str,
    files: &[(PathBuf, Workflow)],
    changes: &[WorkflowChange],
    prune: bool,
) -> anyhow::Result<()> {
    let file_of = |id: &str| {
        files
            .iter()
            .find(|(_, w)| w.workflow_id == id)
            .map_or_else(|| id.to_owned(), |(p, _)| p.display().to_string())
    };
    for change in changes {
        let (id, outcome) = match change {
            WorkflowChange::Create(w) => (
                &w.workflow_id,
                client.save_workflow(instance_id, w, false).await,
            ),
            WorkflowChange::Update(w, _) => (
                &w.workflow_id,
                client.save_workflow(instance_id, w, true).await,
            ),
            WorkflowChange::Delete(id) if prune => {
                (id, client.delete_workflow(instance_id, id).await)
            }
            WorkflowChange::Delete(_) => continue,
        };
        if let Err(error) = outcome {
            bail!("{}: AMC refused workflow {id}: {error}", file_of(id));
        }
    }
    Ok(())
}

/// The changes that make `instance_id`'s workflows those of `files`.
pub async fn plan(
    client: &AmcClient,
    instance_id: &str,
    files: &[(PathBuf, Workflow)],
) -> anyhow::Result<Vec<WorkflowChange>> {
    let remote = client
        .workflows(instance_id)
        .await
        .with_context(|| format!("listing the workflows of AMC instance {instance_id}"))?;
    let local: Vec<Workflow> = files.iter().map(|(_, w)| w.clone()).collect();
    Ok(workflow_changes(&local, &remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config folder with `amc/<name>.sql` files, under the temp dir.
    fn folder(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sp-ingest-amc-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("amc")).unwrap();
        for (name, sql) in files {
            std::fs::write(dir.join("amc").join(name), sql).unwrap();
        }
        dir.join("config.json")
    }

    #[tokio::test]
    async fn sync_creates_then_updates_keeps_what_no_file_names_and_names_the_file_amc_refuses() {
        let sim = simulator::start(simulator::SimConfig::default())
            .await
            .unwrap();
        let credentials = crate::config_file::Credentials {
            client_id: simulator::DEFAULT_CLIENT_ID.to_owned(),
            client_secret: simulator::DEFAULT_CLIENT_SECRET.to_owned(),
            refresh_token: simulator::DEFAULT_ADS_REFRESH_TOKEN.to_owned(),
        };
        let endpoints = domain::config::RegionEndpoints {
            spapi_endpoint: sim.base_url(),
            lwa_endpoint: sim.lwa_token_url(),
            aws_region: "us-east-1".into(),
            ads_endpoint: Some(sim.base_url()),
            ads_lwa_endpoint: None,
        };
        let ads = crate::ads::client(domain::Region::Na, &endpoints, &credentials).unwrap();
        let client = AmcClient::new(ads, simulator::DEFAULT_AMC_ACCOUNT_ID, "ATVPDKIKX0DER");
        let instance = simulator::DEFAULT_AMC_INSTANCE_ID;
        let reach =
            "SELECT campaign, COUNT(DISTINCT user_id) AS reach FROM dsp_impressions GROUP BY 1";

        let config = folder(&[
            ("reach.sql", reach),
            (
                "spend.sql",
                "SELECT campaign, SUM(total_cost) AS spend FROM dsp_impressions GROUP BY 1",
            ),
        ]);
        let files = workflow_files(&config).unwrap();
        let changes = plan(&client, instance, &files).await.unwrap();
        assert_eq!(
            describe(&changes, false),
            "+ create reach\n+ create spend\n"
        );
        apply(&client, instance, &files, &changes, false)
            .await
            .unwrap();
        assert!(plan(&client, instance, &files).await.unwrap().is_empty());

        // One file changed, one gone, one with a typo AMC refuses.
        let config = folder(&[
            ("reach.sql", &format!("{reach} HAVING reach > 100")),
            ("typo.sql", "SELECT campaign\nFROM dsp_impresions"),
            ("x.sql", "SELECT 1 FROM dsp_clicks"),
        ]);
        let files = workflow_files(&config).unwrap();
        let changes = plan(&client, instance, &files).await.unwrap();
        assert_eq!(
            describe(&changes, false),
            "~ update reach (sqlQuery)\n+ create typo\n+ create x\n? spend is on the instance but in no file: kept (--prune deletes it)\n"
        );
        let error = apply(&client, instance, &files, &changes, true)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("amc/typo.sql: AMC refused workflow typo")
                && error.contains("line 2: unknown table `dsp_impresions`"),
            "{error}"
        );
        let names: Vec<String> = client
            .workflows(instance)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.workflow_id)
            .collect();
        assert_eq!(
            names,
            ["reach", "spend"],
            "nothing after the refused file was made"
        );
        sim.shutdown().await;
    }

    #[test]
    fn the_diff_says_what_changes_and_what_is_only_kept() {
        let w = Workflow::from_file("a.sql", "SELECT 1 FROM dsp_impressions").unwrap();
        let changes = vec![
            WorkflowChange::Create(w.clone()),
            WorkflowChange::Update(w, vec!["sqlQuery"]),
            WorkflowChange::Delete("old".into()),
        ];
        let text = describe(&changes, false);
        assert_eq!(
            text,
            "+ create a\n~ update a (sqlQuery)\n? old is on the instance but in no file: kept (--prune deletes it)\n"
        );
        assert!(describe(&changes, true).ends_with("- delete old\n"));
    }
}
