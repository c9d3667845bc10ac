//! Amazon Marketing Cloud (AMC) reporting API client: accounts, instances, workflows,
//! workflow executions and their result files, with an Ads account's token.
//!
//! AMC is served by the region's Ads API host under `/amc/`; besides the token and the
//! app's client id, every call but the accounts listing names the AMC account in
//! `Amazon-Advertising-API-AdvertiserId` and its marketplace in
//! `Amazon-Advertising-API-MarketplaceId` (api-facts.md §1.2, §7). Result URLs are
//! presigned and live 10 minutes: read them right before downloading.

use std::fmt;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ads::{AdsClient, AdsError, Scope, parse, refused_unless_ok};
use crate::document::DocumentStream;
use crate::reports::without_query;

/// An AMC account the token reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmcAccount {
    /// `ENTITY…`: what `Amazon-Advertising-API-AdvertiserId` carries.
    pub account_id: String,
    /// Its name.
    #[serde(default)]
    pub account_name: String,
    /// Its marketplace: what `Amazon-Advertising-API-MarketplaceId` carries.
    pub marketplace_id: String,
}

/// An AMC instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmcInstance {
    /// Its id, in the reporting paths.
    pub instance_id: String,
    /// Its name.
    #[serde(default)]
    pub instance_name: String,
    /// STANDARD, or a sandbox.
    #[serde(default)]
    pub instance_type: String,
    /// COMPLETED once usable.
    #[serde(default)]
    pub creation_status: String,
}

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Queued.
    Pending,
    /// Running (15 minutes and more).
    Running,
    /// The result files are ready.
    Succeeded,
    /// Failed; `statusReason` says why.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// A column of an execution's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputColumn {
    /// Its name (the CSV header).
    pub name: String,
    /// STRING, LONG, DOUBLE, DATE, TIMESTAMP, BOOLEAN, …
    pub data_type: String,
    /// DIMENSION or METRIC.
    #[serde(default)]
    pub column_type: String,
}

/// A workflow execution as AMC shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmcExecution {
    /// Its id.
    pub workflow_execution_id: String,
    /// The workflow it runs.
    #[serde(default)]
    pub workflow_id: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// When it was created.
    #[serde(default)]
    pub create_time: Option<DateTime<Utc>>,
    /// Gaps AMC found in the window's data.
    #[serde(default)]
    pub data_gaps: Vec<Value>,
    /// The result's columns, once SUCCEEDED.
    #[serde(default)]
    pub output_columns: Vec<OutputColumn>,
    /// Why it FAILED.
    #[serde(default)]
    pub status_reason: Option<String>,
}

/// The presigned URLs of an execution's result files (read credentials: never logged).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadUrls {
    /// One URL per result file.
    pub download_urls: Vec<String>,
}

impl fmt::Debug for DownloadUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self
            .download_urls
            .iter()
            .map(|u| format!("{}?[redacted]", without_query(u)))
            .collect();
        f.debug_struct("DownloadUrls")
            .field("download_urls", &urls)
            .finish()
    }
}

/// A client of one AMC account (advertiser id and marketplace) through an Ads client.
#[derive(Clone)]
pub struct AmcClient {
    ads: AdsClient,
    scope_advertiser: String,
    scope_marketplace: String,
}

impl AdsClient {
    /// `GET /amc/accounts`: the AMC accounts the token reaches.
    pub async fn amc_accounts(&self) -> Result<Vec<AmcAccount>, AdsError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Accounts {
            amc_accounts: Vec<AmcAccount>,
        }
        let what = "listAmcAccounts";
        let (status, body) = self
            .call_scoped(what, Method::GET, "amc/accounts", &Scope::None, None)
            .await?;
        refused_unless_ok(what, status, &body)?;
        Ok(parse::<Accounts>(what, &body)?.amc_accounts)
    }
}

impl AmcClient {
    /// A client of the AMC account `advertiser_id` (`ENTITY…`) in `marketplace_id`.
    pub fn new(ads: AdsClient, advertiser_id: &str, marketplace_id: &str) -> Self {
        AmcClient {
            ads,
            scope_advertiser: advertiser_id.to_owned(),
            scope_marketplace: marketplace_id.to_owned(),
        }
    }

    async fn call(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), AdsError> {
        let scope = Scope::Amc {
            advertiser_id: self.scope_advertiser.clone(),
            marketplace_id: self.scope_marketplace.clone(),
        };
        let body = body.map(|b| (b, "application/json"));
        self.ads.call_scoped(what, method, path, &scope, body).await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
    ) -> Result<T, AdsError> {
        let (status, body) = self.call(what, Method::GET, path, None).await?;
        refused_unless_ok(what, status, &body)?;
        parse(what, &body)
    }

    /// `GET /amc/instances`: the account's instances.
    pub async fn instances(&self) -> Result<Vec<AmcInstance>, AdsError> {
        #[derive(Deserialize)]
        struct Instances {
            instances: Vec<AmcInstance>,
        }
        Ok(self
            .get::<Instances>("listAmcInstances", "amc/instances")
            .await?
            .instances)
    }

    /// `GET …/workflows`: the instance's workflows.
    pub async fn workflows(
        &self,
        instance_id: &str,
    ) -> Result<Vec<domain::amc::Workflow>, AdsError> {
        #[derive(Deserialize)]
        struct Workflows {
            workflows: Vec<domain::amc::Workflow>,
        }
        let path = format!("amc/reporting/{instance_id}/workflows");
        Ok(self
            .get::<Workflows>("listWorkflows", &path)
            .await?
            .workflows)
    }

    /// `GET …/workflows/{id}`: one workflow, with its settings.
    pub async fn workflow(
        &self,
        instance_id: &str,
        workflow_id: &str,
    ) -> Result<domain::amc::Workflow, AdsError> {
        let path = format!("amc/reporting/{instance_id}/workflows/{workflow_id}");
        self.get("getWorkflow", &path).await
    }

    /// `POST …/workflows` (`replace` false) or `PUT …/workflows/{id}`: AMC reads the SQL
    /// and refuses it with 400 and its reason when it does not hold.
    pub async fn save_workflow(
        &self,
        instance_id: &str,
        workflow: &domain::amc::Workflow,
        replace: bool,
    ) -> Result<(), AdsError> {
        let body = serde_json::to_value(workflow).map_err(|e| AdsError::Malformed {
            what: "createWorkflow",
            problem: e.to_string(),
        })?;
        let (what, method, path) = if replace {
            (
                "updateWorkflow",
                Method::PUT,
                format!(
                    "amc/reporting/{instance_id}/workflows/{}",
                    workflow.workflow_id
                ),
            )
        } else {
            (
                "createWorkflow",
                Method::POST,
                format!("amc/reporting/{instance_id}/workflows"),
            )
        };
        let (status, text) = self.call(what, method, &path, Some(&body)).await?;
        refused_unless_ok(what, status, &text)
    }

    /// `DELETE …/workflows/{id}`.
    pub async fn delete_workflow(
        &self,
        instance_id: &str,
        workflow_id: &str,
    ) -> Result<(), AdsError> {
        let what = "deleteWorkflow";
        let path = format!("amc/reporting/{instance_id}/workflows/{workflow_id}");
        let (status, text) = self.call(what, Method::DELETE, &path, None).await?;
        refused_unless_ok(what, status, &text)
    }

    /// `POST …/workflowExecutions` with `body` (see
    /// `domain::amc::AmcExecutionSpec::request_body`).
    pub async fn create_execution(
        &self,
        instance_id: &str,
        body: &Value,
    ) -> Result<AmcExecution, AdsError> {
        let what = "createWorkflowExecution";
        let path = format!("amc/reporting/{instance_id}/workflowExecutions");
        let (status, text) = self.call(what, Method::POST, &path, Some(body)).await?;
        refused_unless_ok(what, status, &text)?;
        let execution: AmcExecution = parse(what, &text)?;
        tracing::info!(execution_id = %execution.workflow_execution_id, instance_id, "AMC workflow execution created");
        Ok(execution)
    }

    /// `GET …/workflowExecutions/{id}`: its status, data gaps and output columns.
    pub async fn execution(
        &self,
        instance_id: &str,
        execution_id: &str,
    ) -> Result<AmcExecution, AdsError> {
        let path = format!("amc/reporting/{instance_id}/workflowExecutions/{execution_id}");
        self.get("getWorkflowExecution", &path).await
    }

    /// `PUT …/workflowExecutions/{id}` with status CANCELLED (only while PENDING or
    /// RUNNING; AMC answers 400 otherwise).
    pub async fn cancel_execution(
        &self,
        instance_id: &str,
        execution_id: &str,
    ) -> Result<(), AdsError> {
        let what = "cancelWorkflowExecution";
        let path = format!("amc/reporting/{instance_id}/workflowExecutions/{execution_id}");
        let body = serde_json::json!({"status": "CANCELLED"});
        let (status, text) = self.call(what, Method::PUT, &path, Some(&body)).await?;
        refused_unless_ok(what, status, &text)
    }

    /// `GET …/workflowExecutions/{id}/downloadUrls`: fresh URLs of the result files.
    pub async fn download_urls(
        &self,
        instance_id: &str,
        execution_id: &str,
    ) -> Result<DownloadUrls, AdsError> {
        let path =
            format!("amc/reporting/{instance_id}/workflowExecutions/{execution_id}/downloadUrls");
        self.get("getDownloadUrls", &path).await
    }

    /// Creates the first-party data set `body["dataSetId"]`, or replaces its definition
    /// when it exists (`POST …/advertiserData/{instanceId}/dataSets`, then `PUT …/{id}`).
    pub async fn save_dataset(&self, instance_id: &str, body: &Value) -> Result<(), AdsError> {
        let what = "createDataSet";
        let path = format!("amc/advertiserData/{instance_id}/dataSets");
        let (status, text) = self.call(what, Method::POST, &path, Some(body)).await?;
        if status != StatusCode::CONFLICT {
            return refused_unless_ok(what, status, &text);
        }
        let id = body["dataSetId"].as_str().unwrap_or_default();
        let what = "updateDataSet";
        let path = format!("amc/advertiserData/{instance_id}/dataSets/{id}");
        let (status, text) = self.call(what, Method::PUT, &path, Some(body)).await?;
        refused_unless_ok(what, status, &text)
    }

    /// Asks AMC to read a hashed file into `dataset_id` from S3; answers the upload id.
    pub async fn create_upload(
        &self,
        instance_id: &str,
        dataset_id: &str,
        bucket: &str,
        key: &str,
    ) -> Result<String, AdsError> {
        let what = "createUpload";
        let path = format!("amc/advertiserData/{instance_id}/uploads/{dataset_id}");
        let body = serde_json::json!({"sourceS3Bucket": bucket, "sourceFileS3Key": key, "fileFormat": {"type": "CSV"}});
        let (status, text) = self.call(what, Method::POST, &path, Some(&body)).await?;
        refused_unless_ok(what, status, &text)?;
        let created: Value = parse(what, &text)?;
        created["uploadId"]
            .as_str()
            .map(str::to_owned)
            .ok_or(AdsError::Malformed {
                what,
                problem: "no uploadId".to_owned(),
            })
    }

    /// An upload's status: `status` (SUCCEEDED, FAILED, …), `statusReason`, counts.
    pub async fn upload_status(
        &self,
        instance_id: &str,
        dataset_id: &str,
        upload_id: &str,
    ) -> Result<Value, AdsError> {
        let path = format!("amc/advertiserData/{instance_id}/uploads/{dataset_id}/{upload_id}");
        self.get("getUpload", &path).await
    }

    /// One result file (plain CSV), as it streams; an expired URL fails
    /// `DocumentUrlExpired`, so the caller reads fresh URLs and starts over.
    pub async fn download(&self, url: &str) -> Result<DocumentStream, AdsError> {
        self.ads.download_file(url, false).await
    }
}
