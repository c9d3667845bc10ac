//! `sp-ingest amc accounts | instances | workflows sync`: finding the AMC account and
//! instance ids for `amc_instances/<name>`, and making an instance's workflows those of
//! the `.sql` files in the config folder's `amc/` directory (api-facts.md §7).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use domain::amc::identifiers::{Identifier, Invalid};
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

/// What an upload did: rows sent, rows left out (line, column, rule — never the value),
/// where the hashed file is, and how AMC took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReport {
    /// Rows in the hashed file.
    pub rows: u64,
    /// Rows left out: line number (1 = the first line of the file), column, why.
    pub invalid: Vec<(usize, String, Invalid)>,
    /// `s3://bucket/key` of the hashed file.
    pub location: String,
    /// AMC's upload id.
    pub upload_id: String,
    /// AMC's last status of the upload.
    pub status: String,
    /// Why it FAILED, as AMC says.
    pub status_reason: Option<String>,
}

/// Hashes a customer file (`input`: CSV with a header line, or JSON Lines) line by line —
/// each identifier column normalised and SHA-256-hashed, other columns as they are, a
/// row with an identifier that does not normalise left out and reported by line — puts
/// the hashed CSV at `s3://bucket/<key>`, defines `dataset` on the instance (its
/// identifier columns marked hashed) and asks AMC to read the file, then waits for the
/// upload to end. The hashed file streams to S3 as it is made; the plaintext goes
/// nowhere but this process's memory, a line at a time.
#[allow(clippy::too_many_arguments)] // where it goes on each side, and how to read it
pub async fn upload(
    client: &AmcClient,
    s3: &aws_sdk_s3::Client,
    (bucket, key): (&str, &str),
    instance_id: &str,
    dataset: &str,
    input: impl std::io::BufRead,
    json_lines: bool,
    country: &str,
) -> anyhow::Result<UploadReport> {
    // Lines with their numbers; a line that is not UTF-8 text stops the upload.
    let mut lines = input
        .lines()
        .enumerate()
        .map(|(i, line)| line.map(|l| (i + 1, l)))
        .filter(|line| !matches!(line, Ok((_, l)) if l.trim().is_empty()));
    let first = lines
        .next()
        .transpose()
        .context("reading the customer list")?
        .context("the customer list is empty")?;
    // The columns: the CSV header, or the first record's keys (a record itself).
    let (columns, first_record): (Vec<String>, Option<(usize, String)>) = if json_lines {
        let record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&first.1)
            .map_err(|_| anyhow::anyhow!("line {} is not a JSON object", first.0))?;
        (record.keys().cloned().collect(), Some(first))
    } else {
        let columns = domain::csv::fields(&first.1)
            .map_err(|problem| anyhow::anyhow!("the header line: {problem}"))?
            .into_iter()
            .map(|c| c.trim().to_owned())
            .collect();
        (columns, None)
    };
    let identifiers: Vec<Option<Identifier>> =
        columns.iter().map(|c| Identifier::of_column(c)).collect();
    if identifiers.iter().all(Option::is_none) {
        bail!(
            "no identifier column: name one email, phone, first_name, last_name, city or postal_code"
        );
    }
    let mut file = HashedFile::new(s3, bucket, key);
    file.push(&format!("{}\n", columns.join(","))).await?;
    let (mut rows, mut invalid) = (0u64, Vec::new());
    for line in first_record.into_iter().map(Ok).chain(lines) {
        let (number, line) = match line {
            Ok(line) => line,
            Err(error) => {
                file.abort().await;
                return Err(anyhow::Error::new(error).context("reading the customer list"));
            }
        };
        let values: Vec<String> = if json_lines {
            let Ok(record) =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
            else {
                invalid.push((number, String::new(), Invalid::Empty));
                continue;
            };
            columns
                .iter()
                .map(|c| match record.get(c) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                })
                .collect()
        } else {
            match domain::csv::fields(&line) {
                Ok(fields) => fields.into_iter().map(|f| f.into_owned()).collect(),
                Err(_) => {
                    invalid.push((number, String::new(), Invalid::Empty));
                    continue;
                }
            }
        };
        let mut out = Vec::with_capacity(values.len());
        let mut bad = None;
        for ((value, identifier), column) in values.iter().zip(&identifiers).zip(&columns) {
            match identifier {
                None => out.push(value.replace(',', " ")),
                Some(_) if value.trim().is_empty() => out.push(String::new()),
                Some(identifier) => match hashed_identifier(*identifier, value, country) {
                    Ok(hash) => out.push(hash),
                    Err(why) => {
                        bad = Some((column.clone(), why));
                        break;
                    }
                },
            }
        }
        match bad {
            Some((column, why)) => invalid.push((number, column, why)),
            None => {
                file.push(&format!("{}\n", out.join(","))).await?;
                rows += 1;
            }
        }
    }
    file.finish().await?;
    let definition = serde_json::json!({
        "dataSetId": dataset,
        "period": "P1D",
        "columns": columns.iter().zip(&identifiers).map(|(name, identifier)| match identifier {
            Some(identifier) => serde_json::json!({
                "name": name, "dataType": "STRING", "columnType": "DIMENSION",
                "externalUserIdType": {"type": "HASHED_IDENTIFIER", "identifierType": identifier.amc_name()}
            }),
            None => serde_json::json!({"name": name, "dataType": "STRING", "columnType": "DIMENSION"}),
        }).collect::<Vec<_>>(),
    });
    client
        .save_dataset(instance_id, &definition)
        .await
        .with_context(|| format!("defining data set {dataset} on AMC instance {instance_id}"))?;
    let upload_id = client
        .create_upload(instance_id, dataset, bucket, key)
        .await
        .with_context(|| format!("asking AMC to read s3://{bucket}/{key}"))?;
    let mut status = serde_json::Value::Null;
    for _ in 0..120 {
        status = client
            .upload_status(instance_id, dataset, &upload_id)
            .await?;
        if matches!(status["status"].as_str(), Some("SUCCEEDED" | "FAILED")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    Ok(UploadReport {
        rows,
        invalid,
        location: format!("s3://{bucket}/{key}"),
        upload_id,
        status: status["status"].as_str().unwrap_or("UNKNOWN").to_owned(),
        status_reason: status["statusReason"].as_str().map(str::to_owned),
    })
}

/// The hashed file, written to S3 as it is made: in 8 MiB parts of a multipart upload
/// (SSE-KMS) once it outgrows one part, else with one PutObject — memory stays flat
/// however long the list.
struct HashedFile<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: &'a str,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
}

/// Size of each part of the hashed file.
const PART_BYTES: usize = 8 * 1024 * 1024;

impl<'a> HashedFile<'a> {
    fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, key: &'a str) -> Self {
        HashedFile {
            s3,
            bucket,
            key,
            buffer: Vec::with_capacity(PART_BYTES),
            upload_id: None,
            parts: Vec::new(),
        }
    }

    fn failed<E: std::error::Error + 'static>(&self, what: &str, error: E) -> anyhow::Error {
        anyhow::anyhow!(
            "{what} the hashed file at s3://{}/{}: {}",
            self.bucket,
            self.key,
            aws_sdk_s3::error::DisplayErrorContext(error)
        )
    }

    async fn push(&mut self, hashed: &str) -> anyhow::Result<()> {
        self.buffer.extend_from_slice(hashed.as_bytes());
        if self.buffer.len() >= PART_BYTES
            && let Err(error) = self.send_part().await
        {
            self.abort().await;
            return Err(error);
        }
        Ok(())
    }

    async fn send_part(&mut self) -> anyhow::Result<()> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .s3
                    .create_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .content_type("text/csv; charset=utf-8")
                    .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                    .send()
                    .await
                    .map_err(|e| self.failed("starting to upload", e))?;
                let id = created.upload_id().unwrap_or_default().to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        let sent = self
            .s3
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(body.into())
            .send()
            .await
            .map_err(|e| self.failed("uploading a part of", e))?;
        self.parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        let Some(upload_id) = self.upload_id.clone() else {
            let body = std::mem::take(&mut self.buffer);
            return self
                .s3
                .put_object()
                .bucket(self.bucket)
                .key(self.key)
                .content_type("text/csv; charset=utf-8")
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                .body(body.into())
                .send()
                .await
                .map(drop)
                .map_err(|e| self.failed("putting", e));
        };
        if !self.buffer.is_empty()
            && let Err(error) = self.send_part().await
        {
            self.abort().await;
            return Err(error);
        }
        let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
            .set_parts(Some(std::mem::take(&mut self.parts)))
            .build();
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&upload_id)
            .multipart_upload(parts)
            .send()
            .await;
        if let Err(error) = completed {
            let failure = self.failed("completing", error);
            self.abort().await;
            return Err(failure);
        }
        Ok(())
    }

    /// Leaves no part behind (the bucket's lifecycle would, a day later).
    async fn abort(&mut self) {
        if let Some(upload_id) = self.upload_id.take() {
            let _ = self
                .s3
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(upload_id)
                .send()
                .await;
        }
    }
}

fn hashed_identifier(
    identifier: Identifier,
    value: &str,
    country: &str,
) -> Result<String, Invalid> {
    domain::amc::identifiers::hashed(identifier, value, country)
}

/// The report as `amc upload` prints it: counts, then each row left out by line.
pub fn describe_upload(report: &UploadReport) -> String {
    let mut out = format!(
        "{} rows hashed and put at {}; AMC upload {}: {}{}\n",
        report.rows,
        report.location,
        report.upload_id,
        report.status,
        report
            .status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if !report.invalid.is_empty() {
        out.push_str(&format!("{} rows left out:\n", report.invalid.len()));
        for (line, column, why) in &report.invalid {
            out.push_str(&format!("  line {line}: {column}: {why}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moto with an `amc-uploads` bucket, and a simulator whose AMC reads from it.
    async fn uploads_bucket_and_simulator() -> (
        local_stack::Moto,
        aws_sdk_s3::Client,
        simulator::RunningSimulator,
    ) {
        let moto = local_stack::Moto::start(local_stack::MotoOptions::from_env().unwrap())
            .await
            .unwrap();
        let aws = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&aws)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket()
            .bucket("amc-uploads")
            .send()
            .await
            .unwrap();
        let sim = simulator::start(simulator::SimConfig {
            sqs: Some(simulator::SqsTarget {
                endpoint_url: Some(moto.endpoint_url().to_owned()),
                region: "us-east-1".into(),
            }),
            ..simulator::SimConfig::default()
        })
        .await
        .unwrap();
        (moto, s3, sim)
    }

    /// A client of the simulator's AMC account, as `amc` commands build one.
    fn simulator_client(sim: &simulator::RunningSimulator) -> AmcClient {
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
        AmcClient::new(ads, simulator::DEFAULT_AMC_ACCOUNT_ID, "ATVPDKIKX0DER")
    }

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
        let client = simulator_client(&sim);
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

    /// Everything the process logs, kept for the test to search.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_upload_hashes_every_identifier_and_its_plaintext_appears_nowhere() {
        let logs = Logs::default();
        let writer = logs.clone();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .finish(),
        );
        let (_moto, s3, sim) = uploads_bucket_and_simulator().await;
        let client = simulator_client(&sim);
        let plaintext = [
            "Jane.Roe@Example.com",
            "Roe-Plaintext",
            "Janeplain",
            "415 555 0132",
            "Springfieldia",
            "not-an-address",
        ];
        let file = format!(
            "email,first_name,last_name,phone,city,segment\n{},{},{},{},{},loyal\n{},Rowplain,Secondrow,+1 206 555 0100,Plainville,new\n",
            plaintext[0], plaintext[2], plaintext[1], plaintext[3], plaintext[4], plaintext[5]
        );
        let report = upload(
            &client,
            &s3,
            ("amc-uploads", "customers/2026-12-06.csv"),
            simulator::DEFAULT_AMC_INSTANCE_ID,
            "loyal_customers",
            file.as_bytes(),
            false,
            "US",
        )
        .await
        .unwrap();
        assert_eq!(
            (report.rows, report.status.as_str()),
            (1, "SUCCEEDED"),
            "{report:?}"
        );
        assert_eq!(
            report.invalid,
            vec![(3, "email".to_owned(), Invalid::NotAnEmail)],
            "line 3's e-mail is not one"
        );
        // AMC takes hashes only: a plaintext file is refused by line and column, not value.
        s3.put_object()
            .bucket("amc-uploads")
            .key("raw.csv")
            .body(
                b"email,first_name,last_name,phone,city,segment\nsomeone@example.org,,,,,x\n"
                    .to_vec()
                    .into(),
            )
            .send()
            .await
            .unwrap();
        let raw = client
            .create_upload(
                simulator::DEFAULT_AMC_INSTANCE_ID,
                "loyal_customers",
                "amc-uploads",
                "raw.csv",
            )
            .await
            .unwrap();
        let refused = client
            .upload_status(simulator::DEFAULT_AMC_INSTANCE_ID, "loyal_customers", &raw)
            .await
            .unwrap();
        assert_eq!(refused["status"], "FAILED");
        let reason = refused["statusReason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("line 2: column email") && !reason.contains("someone"),
            "{reason}"
        );
        s3.delete_object()
            .bucket("amc-uploads")
            .key("raw.csv")
            .send()
            .await
            .unwrap();
        let printed = describe_upload(&report);
        assert!(
            printed.contains("line 3: email: not an e-mail address"),
            "{printed}"
        );

        // The plaintext of either row, in any case, appears nowhere it went.
        let mut seen = vec![printed, format!("{report:?}")];
        seen.extend(
            sim.amc_upload_received()
                .into_iter()
                .filter(|text| !text.contains("someone@example.org")),
        );
        let listed = s3
            .list_objects_v2()
            .bucket("amc-uploads")
            .send()
            .await
            .unwrap();
        for object in listed.contents() {
            let body = s3
                .get_object()
                .bucket("amc-uploads")
                .key(object.key().unwrap())
                .send()
                .await
                .unwrap();
            seen.push(
                String::from_utf8_lossy(&body.body.collect().await.unwrap().into_bytes())
                    .into_owned(),
            );
        }
        let hashed = seen.last().cloned().unwrap_or_default();
        seen.push(String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned());
        assert!(
            hashed.starts_with("email,first_name,last_name,phone,city,segment\n"),
            "{hashed}"
        );
        assert!(hashed.contains(",loyal\n"), "other columns as they are");
        for secret in plaintext.iter().chain(&[
            "Rowplain",
            "Secondrow",
            "Plainville",
            "2065550100",
            "4155550132",
            "jane.roe@example.com",
        ]) {
            for (i, text) in seen.iter().enumerate() {
                assert!(
                    !text.to_lowercase().contains(&secret.to_lowercase()),
                    "`{secret}` appears in #{i}"
                );
            }
        }
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_list_larger_than_a_part_streams_to_s3_in_parts() {
        let (_moto, s3, sim) = uploads_bucket_and_simulator().await;
        let client = simulator_client(&sim);
        // Each hashed row is 67 bytes: enough rows for two parts.
        let rows = PART_BYTES / 67 + 1000;
        let mut list = String::from("email,segment\n");
        for i in 0..rows {
            list.push_str(&format!("customer{i}@example.com,s\n"));
        }
        let report = upload(
            &client,
            &s3,
            ("amc-uploads", "big.csv"),
            simulator::DEFAULT_AMC_INSTANCE_ID,
            "everyone",
            std::io::Cursor::new(list.into_bytes()),
            false,
            "US",
        )
        .await
        .unwrap();
        assert_eq!(
            (report.rows, report.status.as_str()),
            (rows as u64, "SUCCEEDED")
        );
        let head = s3
            .head_object()
            .bucket("amc-uploads")
            .key("big.csv")
            .send()
            .await
            .unwrap();
        assert!(
            head.content_length().unwrap_or(0) as usize > PART_BYTES
                && head.e_tag().is_some_and(|t| t.contains("-2")),
            "not a two-part upload: {head:?}"
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
