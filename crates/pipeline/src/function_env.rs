//! What a Lambda's `main` builds once per container, from its environment.
//!
//! Every function needs some of: the AWS configuration, the stage's config store, the
//! token sealer, the metadata table and SP-API access. Building them here keeps each
//! `main.rs` to choosing which, and a missing variable is a `ConfigInvalid` naming it.

use std::time::Duration;

use crate::config_store::ConfigStore;
use crate::failure::Failure;
use crate::metadata::MetadataTable;
use crate::sealed_token::TokenSealer;
use crate::settings;
use crate::spapi_access::SpApiAccess;

/// The function's AWS configuration and the clients built from it.
#[derive(Debug)]
pub struct FunctionEnv {
    /// AWS configuration (honours `AWS_ENDPOINT_URL`).
    pub aws: aws_config::SdkConfig,
}

impl FunctionEnv {
    /// Starts logging and loads the AWS configuration.
    pub async fn load() -> Self {
        crate::init_tracing();
        FunctionEnv {
            aws: crate::aws_config().await,
        }
    }

    /// The stage's configuration (`SP_INGEST_STAGE`).
    pub fn config_store(&self) -> Result<ConfigStore, Failure> {
        Ok(ConfigStore::new(
            aws_sdk_ssm::Client::new(&self.aws),
            settings::required(settings::STAGE)?,
        ))
    }

    /// Seals and opens tokens with the stage's key (`SP_INGEST_KMS_KEY_ID`).
    pub fn token_sealer(&self) -> Result<TokenSealer, Failure> {
        Ok(TokenSealer::new(
            aws_sdk_kms::Client::new(&self.aws),
            settings::required(settings::KMS_KEY_ID)?,
        ))
    }

    /// The metadata table (`SP_INGEST_METADATA_TABLE`).
    pub fn metadata_table(&self) -> Result<MetadataTable, Failure> {
        Ok(MetadataTable::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            settings::required(settings::METADATA_TABLE)?,
        ))
    }

    /// SP-API clients from the requests' endpoints and sealed tokens, their rate limits
    /// shared through the metadata table by every function and invocation.
    pub fn spapi_access(&self) -> Result<SpApiAccess, Failure> {
        let longest_wait = settings::seconds(settings::LIMITER_LONGEST_WAIT_SECONDS, 5)?;
        Ok(SpApiAccess::new(self.token_sealer()?)?
            .with_shared_limits(self.metadata_table()?, Duration::from_secs(longest_wait)))
    }

    /// A Step Functions client, for sending task results.
    pub fn step_functions(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.aws)
    }
}
