//! What the background jobs (imports, exports) and the ClickBank actions of Customer Service
//! share: the database, the box that opens stored keys, and where ClickBank is.

use std::sync::Arc;

use crate::clickbank::{ClickBankApi, ClickBankClient, ClientConfig, Limiter, Limiters};
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
    /// Client-side limit of each ClickBank account (ClickBank allows about 10 requests/s); 0 = none.
    pub requests_per_second: u32,
    /// One limiter per account, shared by every client built for it (imports, look-ups,
    /// Customer Service actions, ship notices): give every context of a process the same.
    pub limiters: Limiters,
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
            limiters: Limiters::default(),
        }
    }

    /// This context with the process's limiters (see [`Self::limiters`]).
    pub fn with_limiters(mut self, limiters: Limiters) -> JobContext {
        self.limiters = limiters;
        self
    }

    /// The limiter plugin `plugin_id`'s clients share (`None` when not limited).
    pub fn limiter(&self, plugin_id: i64) -> Option<Arc<Limiter>> {
        self.limiters.for_account(plugin_id, self.requests_per_second, 1)
    }

    /// A client of plugin `plugin_id`'s ClickBank account, taking its turns from the account's
    /// one limiter.
    pub async fn clickbank(&self, plugin_id: i64) -> Result<Arc<dyn ClickBankApi>, AppError> {
        let secrets = self.secrets.clone();
        let keys = self
            .db
            .read(move |c| {
                let p = plugins::find(c, plugin_id)?;
                plugins::keys(&p, &secrets)
            })
            .await?;
        plugins::client_sharing(&keys, &self.api_base, self.limiter(plugin_id))
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

    /// A client of its own for a bulk reader (an import), with counters of its own and the
    /// account's one limiter.
    pub fn bulk_client(&self, plugin: &Plugin) -> Result<ClickBankClient, AppError> {
        let keys = plugins::keys(plugin, &self.secrets)?;
        let cfg = ClientConfig::new(keys.api_key)
            .with_base_url(&self.api_base)
            .with_dev_key(keys.dev_key);
        ClickBankClient::with_limiter(cfg, self.limiter(plugin.id))
            .map_err(|e| AppError::Validation(format!("ClickBank client: {e}")))
    }
}
