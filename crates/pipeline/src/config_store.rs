//! Reads a stage's configuration from Parameter Store.
//!
//! Parameters are read with one paginated GetParametersByPath and validated by
//! [`domain::Config::from_parameters`]; every problem becomes one `ConfigInvalid` that
//! lists them all with the parameter and field to fix. Only Plan reads it, once per run
//! and never from a cache: what a run needs from the config travels with its requests,
//! so a pushed config is used from the next run on (design.md "Configuration").

use domain::{Config, config::stage_prefix};

use crate::failure::{Failure, aws_failure};

/// Where a stage's configuration is read from.
#[derive(Debug)]
pub struct ConfigStore {
    ssm: aws_sdk_ssm::Client,
    stage: String,
}

impl ConfigStore {
    /// A store for `stage`.
    pub fn new(ssm: aws_sdk_ssm::Client, stage: impl Into<String>) -> Self {
        ConfigStore {
            ssm,
            stage: stage.into(),
        }
    }

    /// The validated config as it is in Parameter Store now.
    pub async fn config(&self) -> Result<Config, Failure> {
        let prefix = stage_prefix(&self.stage);
        let mut parameters = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(prefix.trim_end_matches('/'))
                .recursive(true)
                .with_decryption(true)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| aws_failure(&format!("reading parameters under {prefix}"), e))?;
            for parameter in page.parameters() {
                if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                    parameters.push((name.to_owned(), value.to_owned()));
                }
            }
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
        if parameters.is_empty() {
            return Err(Failure::config(format!(
                "no parameters under {prefix}: push the configuration for stage `{}` first",
                self.stage
            )));
        }
        tracing::info!(count = parameters.len(), %prefix, "configuration read");
        Config::from_parameters(&self.stage, parameters)
            .map_err(|errors| Failure::config(errors.to_string()))
    }
}
