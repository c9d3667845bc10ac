//! The AMC instances' ledgers: one item per instance (`amc#<instance id>`) holding the
//! executions it runs (request key → lease end) and how many started today, so every
//! run and every Lambda respects the instance's parallel and daily limits
//! ([`domain::amc::Ledger`] decides; here it is read and written). A place is taken with
//! a read and one conditional write on the item's `version` — no lock is held across
//! calls; a write that lost the race reads again. A place is given back when the
//! execution is seen to end; one never seen to end stops counting when its lease does.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::amc::{Capacity, Ledger};
use domain::{ErrorName, RequestKey};

use super::{MetadataTable, is_condition_failure, n, number, s};
use crate::failure::{Failure, aws_failure};

/// Reads before giving up a place taken in a crowd (each lost race reads again).
const ATTEMPTS: u32 = 8;

fn pk(instance_id: &str) -> AttributeValue {
    s(format!("amc#{instance_id}"))
}

impl MetadataTable {
    /// A place for `key`'s execution on `instance_id` (taking `parallel` at once and
    /// `daily` a day), held until `lease_until` unless given back; or why there is none.
    pub async fn take_amc_place(
        &self,
        instance_id: &str,
        key: &RequestKey,
        (parallel, daily): (u32, u32),
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Capacity, Failure> {
        for _ in 0..ATTEMPTS {
            let (ledger, version) = self.amc_ledger(instance_id).await?;
            let capacity = ledger.admit(key.as_str(), parallel, daily, now, lease_until);
            let Capacity::Start(next) = &capacity else {
                return Ok(capacity);
            };
            let running: HashMap<String, AttributeValue> = next
                .running
                .iter()
                .map(|(k, until)| (k.clone(), n(*until)))
                .collect();
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk(instance_id))
                .item("running", AttributeValue::M(running))
                .item("day", s(next.day.clone()))
                .item("startedToday", n(i64::from(next.started_today)))
                .item("version", n(version + 1));
            let put = if version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("version = :v")
                    .expression_attribute_values(":v", n(version))
            };
            match put.send().await {
                Ok(_) => return Ok(capacity),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => {
                    return Err(aws_failure(
                        "taking a place in the AMC instance's ledger",
                        e,
                    ));
                }
            }
        }
        Err(Failure::new(
            ErrorName::Throttled,
            format!(
                "the ledger of AMC instance {instance_id} changed {ATTEMPTS} times while a place was taken; tried again"
            ),
        ))
    }

    /// Gives back `key`'s place on `instance_id` (its execution ended); none held is fine.
    pub async fn release_amc_place(
        &self,
        instance_id: &str,
        key: &RequestKey,
    ) -> Result<(), Failure> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(instance_id))
            .update_expression("REMOVE running.#k ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#k", key.as_str())
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(aws_failure(
                "giving back a place in the AMC instance's ledger",
                e,
            )),
        }
    }

    /// The instance's ledger and its version (0 when there is none yet).
    async fn amc_ledger(&self, instance_id: &str) -> Result<(Ledger, i64), Failure> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(instance_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_failure("reading the AMC instance's ledger", e))?
            .item
            .unwrap_or_default();
        let running = item
            .get("running")
            .and_then(|v| v.as_m().ok())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        let ledger = Ledger {
            running,
            day: item
                .get("day")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default(),
            started_today: number(&item, "startedToday").unwrap_or(0),
        };
        Ok((ledger, number(&item, "version").unwrap_or(0)))
    }
}
