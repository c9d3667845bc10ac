//! AMC advertiser data upload (first-party data): a dataset's definition, then uploads of
//! files AMC reads from the advertiser's S3 bucket (api-facts.md §7, §9: the Ads-hosted
//! `advertiserData` paths; body fields unverified). An upload is read at once from the
//! S3 endpoint the simulator sends notifications to; it fails unless every value of a
//! column the dataset marks as a hashed identifier is 64 lower-case hex characters (or
//! empty) — AMC takes only SHA-256 hashes, never the identifiers themselves. A failure
//! names the line and the column, never the value.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::ads::{error, not_found};
use crate::amc::authorized;
use crate::state::{Shared, World};

/// Every dataset and upload, and every body received (for tests that look for
/// plaintext where none may be).
#[derive(Default)]
pub(crate) struct UploadBook {
    datasets: BTreeMap<(String, String), Value>,
    uploads: BTreeMap<String, Value>,
    /// Request bodies and files read, as received.
    pub received: Vec<String>,
}

/// Routes of the advertiser data upload API.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/amc/advertiserData/{instanceId}/dataSets",
            post(create_dataset),
        )
        .route(
            "/amc/advertiserData/{instanceId}/dataSets/{dataSetId}",
            get(get_dataset).put(update_dataset),
        )
        .route(
            "/amc/advertiserData/{instanceId}/uploads/{dataSetId}",
            post(create_upload),
        )
        .route(
            "/amc/advertiserData/{instanceId}/uploads/{dataSetId}/{uploadId}",
            get(get_upload),
        )
}

/// A call's body, once its token, account and instance are checked; kept as received.
fn received(
    sim: &Shared,
    world: &mut World,
    headers: &HeaderMap,
    instance_id: &str,
    body: &[u8],
) -> Result<Value, crate::ads::Refusal> {
    authorized(sim, world, headers, instance_id)?;
    world
        .amc_uploads
        .received
        .push(String::from_utf8_lossy(body).into_owned());
    Ok(serde_json::from_slice(body).unwrap_or(Value::Null))
}

fn check_dataset(body: &Value) -> Result<String, String> {
    let id = body["dataSetId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or("dataSetId is required")?;
    let columns = body["columns"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or("columns is required")?;
    for column in columns {
        if column["name"].as_str().is_none() {
            return Err("each column needs a name".to_owned());
        }
    }
    Ok(id.to_owned())
}

async fn create_dataset(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut world = sim.world();
    let body = match received(&sim, &mut world, &headers, &instance_id, &body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let id = match check_dataset(&body) {
        Ok(id) => id,
        Err(problem) => return error(StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let key = (instance_id, id.clone());
    if world.amc_uploads.datasets.contains_key(&key) {
        return error(
            StatusCode::CONFLICT,
            format!("Data set {id} already exists"),
        )
        .into_response();
    }
    world.amc_uploads.datasets.insert(key, body);
    Json(json!({ "dataSetId": id })).into_response()
}

async fn update_dataset(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, dataset_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut world = sim.world();
    let body = match received(&sim, &mut world, &headers, &instance_id, &body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    match check_dataset(&body) {
        Ok(id) if id == dataset_id => {
            world
                .amc_uploads
                .datasets
                .insert((instance_id, id.clone()), body);
            Json(json!({ "dataSetId": id })).into_response()
        }
        Ok(_) => error(
            StatusCode::BAD_REQUEST,
            "dataSetId of the body is not the one of the path",
        )
        .into_response(),
        Err(problem) => error(StatusCode::BAD_REQUEST, problem).into_response(),
    }
}

async fn get_dataset(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, dataset_id)): Path<(String, String)>,
) -> Response {
    let world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    match world
        .amc_uploads
        .datasets
        .get(&(instance_id, dataset_id.clone()))
    {
        Some(body) => Json(body.clone()).into_response(),
        None => not_found(format_args!("Data set {dataset_id}")).into_response(),
    }
}

async fn create_upload(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, dataset_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (dataset, s3, body) = {
        let mut world = sim.world();
        let body = match received(&sim, &mut world, &headers, &instance_id, &body) {
            Ok(body) => body,
            Err(refusal) => return refusal.into_response(),
        };
        let Some(dataset) = world
            .amc_uploads
            .datasets
            .get(&(instance_id.clone(), dataset_id.clone()))
            .cloned()
        else {
            return not_found(format_args!("Data set {dataset_id}")).into_response();
        };
        (dataset, sim.sqs.as_ref().map(|d| d.s3.clone()), body)
    };
    let (Some(bucket), Some(key)) = (
        body["sourceS3Bucket"].as_str(),
        body["sourceFileS3Key"].as_str(),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "sourceS3Bucket and sourceFileS3Key are required",
        )
        .into_response();
    };
    let Some(s3) = s3 else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this simulator reaches no S3 (start it with an AWS endpoint)",
        )
        .into_response();
    };
    let read = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object.body.collect().await.map(|b| b.into_bytes().to_vec()),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "AMC cannot read s3://{bucket}/{key}: grant its data upload account read access"
                ),
            )
            .into_response();
        }
    };
    let text = String::from_utf8_lossy(&read.unwrap_or_default()).into_owned();
    let (status, reason, rows) = match check_file(&dataset, &text) {
        Ok(rows) => ("SUCCEEDED", None, rows),
        Err(reason) => ("FAILED", Some(reason), 0),
    };
    let upload_id = uuid::Uuid::new_v4().to_string();
    let record = json!({
        "uploadId": upload_id,
        "dataSetId": dataset_id,
        "status": status,
        "statusReason": reason,
        "rowsReceived": rows,
    });
    let mut world = sim.world();
    world.amc_uploads.received.push(text);
    world.amc_uploads.uploads.insert(upload_id.clone(), record);
    Json(json!({ "uploadId": upload_id })).into_response()
}

/// Rows of an uploaded CSV, after checking that every hashed-identifier column of the
/// dataset holds only SHA-256 hashes.
fn check_file(dataset: &Value, text: &str) -> Result<u64, String> {
    let hashed: Vec<&str> = dataset["columns"]
        .as_array()
        .map(|columns| {
            columns
                .iter()
                .filter(|c| c.get("externalUserIdType").is_some())
                .filter_map(|c| c["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let positions: Vec<(usize, &str)> = hashed
        .iter()
        .map(|name| {
            header
                .iter()
                .position(|h| h == name)
                .map(|p| (p, *name))
                .ok_or_else(|| format!("the file has no column {name} of the data set"))
        })
        .collect::<Result<_, _>>()?;
    let mut rows = 0;
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        for (position, name) in &positions {
            let value = fields.get(*position).copied().unwrap_or_default();
            let is_hash = value.len() == 64
                && value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !value.is_empty() && !is_hash {
                return Err(format!(
                    "line {}: column {name} is not a SHA-256 hash; AMC takes hashed identifiers only",
                    index + 2
                ));
            }
        }
        rows += 1;
    }
    Ok(rows)
}

async fn get_upload(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, _dataset_id, upload_id)): Path<(String, String, String)>,
) -> Response {
    let world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    match world.amc_uploads.uploads.get(&upload_id) {
        Some(record) => Json(record.clone()).into_response(),
        None => not_found(format_args!("Upload {upload_id}")).into_response(),
    }
}
