//! Sending the result a waiting AwaitReport task is blocked on.
//!
//! Only the caller that won [`crate::MetadataTable::claim_result`] sends, so each task
//! token gets at most one result. A token the execution no longer waits for (it timed out
//! and went on polling, or it was stopped) makes Step Functions answer `TaskTimedOut` or
//! `InvalidToken`; that is the expected end of a lost race, not a failure.

use crate::failure::{Failure, aws_failure};
use crate::metadata::TaskResult;
pub use contract::Delivery;

/// Sends `result` to its task with SendTaskSuccess.
pub async fn send_task_result(
    sfn: &aws_sdk_sfn::Client,
    result: &TaskResult,
) -> Result<Delivery, Failure> {
    let output = serde_json::to_string(&result.status).unwrap_or_default();
    match sfn
        .send_task_success()
        .task_token(&result.task_token)
        .output(output)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(status = %result.status.processing_status, "task result sent");
            Ok(Delivery::Delivered)
        }
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_task_timed_out() || s.is_invalid_token() || s.is_task_does_not_exist()
            }) =>
        {
            tracing::info!(status = %result.status.processing_status, "the task is no longer waiting; polling will pick the status up");
            Ok(Delivery::NoLongerWaiting)
        }
        Err(e) => Err(aws_failure("sending the task result to Step Functions", e)),
    }
}
