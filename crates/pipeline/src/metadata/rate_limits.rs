//! Rate limits shared by every Lambda: one item per bucket in the metadata table
//! (`limit#<app>#<selling partner>#<region>#<operation>`), holding when its next call is
//! due ([`domain::rate_limit::Bucket`]). A token is taken with one conditional update on
//! the value last seen — no scan, no lock held across calls; a write that lost a race
//! gets the current item back in the same answer (`ReturnValuesOnConditionCheckFailure`)
//! and tries again from it. Each Lambda remembers the last bucket it saw, so the usual
//! acquire is that one write. A bucket idle until full expires with the table's TTL.
//!
//! Amazon's own count stays the truth: a 429 empties the bucket, `x-amzn-RateLimit-Limit`
//! sets its rate, and when the table cannot be reached the call goes out on Amazon's limit
//! alone (logged) rather than stopping ingestion.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::Utc;
use domain::rate_limit::{Admission, Bucket};
use domain::{Operation, Region, UsagePlan};
use spapi::{MustWait, RateLimiter};

use super::{EXPIRES_AT, MetadataTable, is_condition_failure, n, number, s};
use crate::failure::{Failure, aws_failure};
use crate::metrics::{self, Metric, Unit};

/// Writes before giving up a token taken in a crowd (each lost race learns the current
/// bucket from the refusal itself, and one caller wins each round).
const ATTEMPTS: u32 = 32;

/// What a caller that lost [`ATTEMPTS`] races in a row is told: come back in a moment.
const CROWDED: Duration = Duration::from_secs(1);

/// The name of one shared bucket: whose calls it meters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketName(String);

impl BucketName {
    /// The bucket Amazon keeps for `operation` per application (LWA client id), selling
    /// partner and region.
    pub fn operation(app: &str, selling_partner: &str, region: Region, op: Operation) -> Self {
        BucketName(format!(
            "limit#{app}#{selling_partner}#{region}#{}",
            op.name()
        ))
    }

    /// A hidden quota on createReport of `report_type` per application, across all its
    /// selling partners (catalog `appQuota`).
    pub fn app_quota(app: &str, region: Region, report_type: &str) -> Self {
        BucketName(format!("limit#{app}#*#{region}#createReport:{report_type}"))
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.strip_prefix("limit#").unwrap_or(&self.0))
    }
}

/// A token asked of a shared bucket: the answer, and the bucket as it stands now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Taken {
    /// Go (after a wait) or come back later.
    pub admission: Admission,
    /// The stored bucket after this call (`None`: not stored, i.e. full).
    pub bucket: Option<Bucket>,
}

/// Writes a whole bucket (the values of [`values`]).
const SET_BUCKET: &str = "SET dueMs = :due, rate = :rate, burst = :burst, #exp = :exp";

/// The bucket in a stored item; `None` for a missing or unreadable one (treated as full).
fn bucket_of(item: &HashMap<String, AttributeValue>) -> Option<Bucket> {
    Some(Bucket {
        plan: UsagePlan {
            rate_per_second: number(item, "rate")?,
            burst: number(item, "burst")?,
        },
        due_ms: number(item, "dueMs")?,
    })
}

impl MetadataTable {
    /// One token of bucket `name` asked for at `now_ms`, sleeping at most `longest_wait`
    /// for it.
    /// `seen` is the bucket as this caller last saw it (`None`: not stored as far as it
    /// knows); `plan` applies to a bucket never stored, `observed_rate` (Amazon's header)
    /// to every bucket.
    pub async fn take_token(
        &self,
        name: &BucketName,
        mut seen: Option<Bucket>,
        (plan, observed_rate): (UsagePlan, Option<f64>),
        now_ms: i64,
        longest_wait: Duration,
    ) -> Result<Taken, Failure> {
        let mut read_back = false;
        // Each attempt decides at its own moment: what a retry learned was written after
        // this call began, maybe by a Lambda whose clock read was later than ours, and
        // judged at the first moment it would owe a few milliseconds it does not.
        let started = std::time::Instant::now();
        for _ in 0..ATTEMPTS {
            let now_ms = now_ms + i64::try_from(started.elapsed().as_millis()).unwrap_or(0);
            let mut bucket = seen.unwrap_or_else(|| Bucket::full(plan, now_ms));
            if let Some(rate) = observed_rate {
                bucket = bucket.with_rate(rate, now_ms);
            }
            let admission = bucket.admit(now_ms, longest_wait);
            let next = match admission {
                Admission::Go { next, .. } => next,
                // What this caller saw may be older than the table (another Lambda gave a
                // token back, or the item expired): one read before saying "later".
                Admission::Later { .. } if !read_back => {
                    seen = self.read_bucket(name).await?;
                    read_back = true;
                    continue;
                }
                Admission::Later { .. } => {
                    return Ok(Taken {
                        admission,
                        bucket: seen,
                    });
                }
            };
            match self.write_bucket(name, &next, seen.as_ref()).await {
                Ok(()) => {
                    return Ok(Taken {
                        admission,
                        bucket: Some(next),
                    });
                }
                Err(current) => {
                    seen = current?;
                    read_back = true;
                    // Up to 20 ms apart, so a crowd that lost together does not race again
                    // in lockstep.
                    let jitter = rand::random_range(0..20);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
            }
        }
        tracing::info!(bucket = %name, attempts = ATTEMPTS, "the shared rate limit is crowded; asking again shortly");
        Ok(Taken {
            admission: Admission::Later { wait: CROWDED },
            bucket: seen,
        })
    }

    /// Amazon answered 429 at `now_ms`: the bucket is empty (kept if already further
    /// behind). Returns the bucket as written.
    pub async fn drain_bucket(
        &self,
        name: &BucketName,
        known: Bucket,
        now_ms: i64,
    ) -> Result<Bucket, Failure> {
        let drained = known.drained(now_ms);
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(name.0.clone()))
            .update_expression(SET_BUCKET)
            .condition_expression("attribute_not_exists(pk) OR dueMs < :due")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .set_expression_attribute_values(Some(values(&drained)))
            .send()
            .await;
        match written {
            Ok(_) => Ok(drained),
            Err(e) if is_condition_failure(&e) => {
                Ok(self.read_bucket(name).await?.unwrap_or(drained))
            }
            Err(e) => Err(aws_failure("emptying a shared rate limit after a 429", e)),
        }
    }

    /// Gives back the token that moved bucket `name` to `taken`, when nobody took one
    /// after it (then it is simply spent): for a call that was not made after all.
    pub async fn give_back_token(&self, name: &BucketName, taken: Bucket) -> Result<(), Failure> {
        let before = Bucket {
            due_ms: taken.due_ms - taken.interval_ms(),
            ..taken
        };
        match self.write_bucket(name, &before, Some(&taken)).await {
            Ok(()) | Err(Ok(_)) => Ok(()),
            Err(Err(failure)) => Err(failure),
        }
    }

    /// The stored bucket `name`, read consistently.
    async fn read_bucket(&self, name: &BucketName) -> Result<Option<Bucket>, Failure> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(name.0.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_failure("reading a shared rate limit", e))?;
        Ok(item.item().and_then(bucket_of))
    }

    /// Writes `next` if the stored bucket is still `seen`; otherwise `Err(Ok(current))`
    /// with the bucket that is stored instead.
    async fn write_bucket(
        &self,
        name: &BucketName,
        next: &Bucket,
        seen: Option<&Bucket>,
    ) -> Result<(), Result<Option<Bucket>, Failure>> {
        let mut values = values(next);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(name.0.clone()))
            .update_expression(SET_BUCKET)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match seen {
            Some(seen) => {
                values.insert(":seen".into(), n(seen.due_ms));
                update.condition_expression("dueMs = :seen")
            }
            None => update.condition_expression("attribute_not_exists(pk)"),
        };
        match update
            .set_expression_attribute_values(Some(values))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(Ok(current_of(&e))),
            Err(e) => Err(Err(aws_failure("taking a token of a shared rate limit", e))),
        }
    }
}

/// The item a refused conditional write found (sent back with the refusal).
fn current_of<R>(error: &SdkError<UpdateItemError, R>) -> Option<Bucket> {
    match error.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(refusal)) => {
            refusal.item().and_then(bucket_of)
        }
        _ => None,
    }
}

fn values(bucket: &Bucket) -> HashMap<String, AttributeValue> {
    // Idle until full, the item says nothing a missing one would not: it may go, a day on.
    let expires = bucket.full_again_ms() / 1000 + 86_400;
    HashMap::from([
        (":due".to_owned(), n(bucket.due_ms)),
        (":rate".to_owned(), n(bucket.plan.rate_per_second)),
        (":burst".to_owned(), n(bucket.plan.burst)),
        (":exp".to_owned(), n(expires)),
    ])
}

/// What one Lambda knows of a bucket between calls.
#[derive(Debug, Default, Clone, Copy)]
struct Known {
    bucket: Option<Bucket>,
    observed_rate: Option<f64>,
}

/// The SP-API client's limiter in the Lambdas: the buckets of one (application, selling
/// partner, region) in the metadata table, shared by every concurrent invocation.
#[derive(Debug)]
pub struct SharedRateLimiter {
    table: MetadataTable,
    app: String,
    selling_partner: String,
    region: Region,
    longest_wait: Duration,
    known: Mutex<HashMap<Operation, Known>>,
}

impl SharedRateLimiter {
    /// Buckets of `app`'s calls for `selling_partner` in `region`; a call whose token is
    /// further than `longest_wait` away is not waited for here
    /// ([`MustWait`]: the state machine waits instead).
    pub fn new(
        table: MetadataTable,
        (app, selling_partner, region): (&str, &str, Region),
        longest_wait: Duration,
    ) -> Self {
        SharedRateLimiter {
            table,
            app: app.to_owned(),
            selling_partner: selling_partner.to_owned(),
            region,
            longest_wait,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn name(&self, op: Operation) -> BucketName {
        BucketName::operation(&self.app, &self.selling_partner, self.region, op)
    }

    fn known(&self, op: Operation) -> Known {
        self.known
            .lock()
            .map(|known| known.get(&op).copied().unwrap_or_default())
            .unwrap_or_default()
    }

    fn remember(&self, op: Operation, change: impl FnOnce(&mut Known)) {
        if let Ok(mut known) = self.known.lock() {
            change(known.entry(op).or_default());
        }
    }

    async fn take(&self, op: Operation) -> Result<(), MustWait> {
        let known = self.known(op);
        let name = self.name(op);
        let taken = self
            .table
            .take_token(
                &name,
                known.bucket,
                (op.default_usage_plan(), known.observed_rate),
                Utc::now().timestamp_millis(),
                self.longest_wait,
            )
            .await;
        match taken {
            Ok(Taken { admission, bucket }) => {
                self.remember(op, |known| known.bucket = bucket);
                match admission {
                    Admission::Go { wait, .. } => {
                        if !wait.is_zero() {
                            tracing::debug!(bucket = %name, wait_ms = wait.as_millis() as u64, "waiting for a shared rate-limit token");
                            waited(op, wait);
                            tokio::time::sleep(wait).await;
                        }
                        Ok(())
                    }
                    Admission::Later { wait } => {
                        tracing::info!(bucket = %name, wait_secs = wait.as_secs(), "no shared rate-limit token soon; the state machine waits");
                        waited(op, wait);
                        Err(MustWait(wait))
                    }
                }
            }
            Err(failure) => {
                // The table is a courtesy to Amazon; its outage must not stop ingestion.
                tracing::warn!(bucket = %name, error = %failure, "the shared rate limit could not be used; calling on Amazon's own limit");
                Ok(())
            }
        }
    }

    async fn drain(&self, op: Operation) {
        metrics::emit(&[Metric::count("Throttles")], &[("Operation", op.name())]);
        let known = self.known(op);
        let mut bucket = known
            .bucket
            .unwrap_or_else(|| Bucket::full(op.default_usage_plan(), 0));
        let now_ms = Utc::now().timestamp_millis();
        if let Some(rate) = known.observed_rate {
            bucket = bucket.with_rate(rate, now_ms);
        }
        let name = self.name(op);
        match self.table.drain_bucket(&name, bucket, now_ms).await {
            Ok(drained) => self.remember(op, |known| known.bucket = Some(drained)),
            Err(failure) => {
                tracing::warn!(bucket = %name, error = %failure, "could not empty the shared rate limit after a 429");
            }
        }
    }
}

/// A wait for a token of `op`, as a metric: in the Lambda or handed to the state machine.
fn waited(op: Operation, wait: Duration) {
    metrics::emit(
        &[Metric::new(
            "LimiterWaitSeconds",
            wait.as_secs_f64(),
            Unit::Seconds,
        )],
        &[("Operation", op.name())],
    );
}

impl RateLimiter for SharedRateLimiter {
    fn acquire(
        &self,
        op: Operation,
    ) -> Pin<Box<dyn Future<Output = Result<(), MustWait>> + Send + '_>> {
        Box::pin(self.take(op))
    }

    fn observe_limit(&self, op: Operation, rate_per_second: f64) {
        if rate_per_second.is_finite() && rate_per_second > 0.0 {
            self.remember(op, |known| known.observed_rate = Some(rate_per_second));
        }
    }

    fn observe_throttle(&self, op: Operation) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.drain(op))
    }
}
