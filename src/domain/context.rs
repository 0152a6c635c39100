//! What the background jobs (imports, exports) and the ClickBank actions of Customer Service
//! share: the database, the box that opens stored keys, and where ClickBank is.

use std::sync::Arc;

use crate::clickbank::{ClickBankApi, ClickBankClient, ClientConfig};
use crate::db::models::Plugin;
use crate::db::Database;
use crate::domain::plugins;
use crate::error::AppError;
use crate::secrets::SecretBox;

#[derive(Clone)]
pub struct JobContext {
    pub db: Database,
    pub secrets: SecretBox,
    /// ClickBank's API base URL (the sandbox's in the demo and the tests).
    pub api_base: String,
    /// Client-side limit of a bulk reader (ClickBank allows about 10 requests/s per IP); 0 = none.
    pub requests_per_second: u32,
}

impl JobContext {
    /// ClickBank's own rate: about 10 requests/s per IP.
    pub const CLICKBANK_REQUESTS_PER_SECOND: u32 = 10;

    pub fn new(db: Database, secrets: SecretBox, api_base: impl Into<String>) -> JobContext {
        JobContext {
            db,
            secrets,
            api_base: api_base.into(),
            requests_per_second: Self::CLICKBANK_REQUESTS_PER_SECOND,
        }
    }

    /// The shared client of plugin `plugin_id`'s ClickBank account (one call at a time, as
    /// staff make them).
    pub async fn clickbank(&self, plugin_id: i64) -> Result<Arc<dyn ClickBankApi>, AppError> {
        let secrets = self.secrets.clone();
        let keys = self
            .db
            .read(move |c| {
                let p = plugins::find(c, plugin_id)?;
                plugins::keys(&p, &secrets)
            })
            .await?;
        plugins::client_for(&keys, &self.api_base)
    }

    /// Counts under `purpose` the requests `api` (a handle made by [`Self::clickbank`] for one
    /// job) has sent, in the account's daily count. A count that cannot be written is
    /// logged: what ClickBank did stands.
    pub async fn count_sent(
        &self,
        plugin_id: i64,
        purpose: crate::domain::clickbank_budget::Purpose,
        api: &dyn ClickBankApi,
    ) {
        crate::domain::clickbank_budget::count_sent(&self.db, plugin_id, purpose, api).await
    }

    /// A client of its own for a bulk reader (an import), held to [`Self::requests_per_second`].
    pub fn bulk_client(&self, plugin: &Plugin) -> Result<ClickBankClient, AppError> {
        let keys = plugins::keys(plugin, &self.secrets)?;
        let mut cfg = ClientConfig::new(keys.api_key)
            .with_base_url(&self.api_base)
            .with_dev_key(keys.dev_key);
        cfg.requests_per_second = self.requests_per_second;
        ClickBankClient::new(cfg).map_err(|e| AppError::Validation(format!("ClickBank client: {e}")))
    }
}
