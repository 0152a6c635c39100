//! ClickBank plugins (data sources): activation with a connection check, edit, deactivate.
//! Keys are sealed at rest; nothing is saved unless ClickBank accepted the keys (or the
//! operator explicitly skipped the check).

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::json;

use super::{audit, Actor};
use crate::clickbank::{self, ClickBankApi, ClientConfig, ProductsQuery};
use crate::db::models::Plugin;
use crate::db::schema::plugins;
use crate::db::DbConn;
use crate::error::AppError;
use crate::secrets::SecretBox;

/// A plugin's keys in clear, held only while talking to ClickBank or decrypting INS.
#[derive(Clone)]
pub struct PluginKeys {
    pub dev_key: Option<String>,
    pub api_key: String,
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for PluginKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginKeys(..)")
    }
}

/// The activation / edit form, validated.
#[derive(Debug, Clone)]
pub struct PluginInput {
    pub name: String,
    pub site: String,
    pub keys: PluginKeys,
    pub include_test: bool,
    pub send_confirmations: bool,
    pub unique_products: bool,
    pub clickbank_ships: bool,
}

impl PluginInput {
    /// A plugin with every option off (onboarding scripts, the demo, tests).
    pub fn basic(name: &str, site: &str, api_key: &str, secret_key: &str) -> Result<Self, AppError> {
        Self::new(name, site, "", api_key, secret_key, false, false, false, false)
    }

    /// Trims and checks every field. `secret_key` is ClickBank's: up to 16 of A-Z and 0-9.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        site: &str,
        dev_key: &str,
        api_key: &str,
        secret_key: &str,
        include_test: bool,
        send_confirmations: bool,
        unique_products: bool,
        clickbank_ships: bool,
    ) -> Result<Self, AppError> {
        let name = name.trim();
        let name = if name.is_empty() { "ClickBank" } else { name };
        if name.len() > 40
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(AppError::Validation(
                "The plugin name may hold up to 40 letters, digits, '_' or '-' (it names campaigns like ClickBank_USD)."
                    .into(),
            ));
        }
        let site = site.trim();
        if site.is_empty() || site.len() > 64 || !site.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::Validation(
                "The site is your ClickBank account nickname (letters and digits), e.g. BETHUB.".into(),
            ));
        }
        let api_key = api_key.trim();
        if api_key.is_empty() {
            return Err(AppError::Validation(
                "The API key is required (ClickBank: Settings → API Management).".into(),
            ));
        }
        let secret = secret_key.trim().to_ascii_uppercase();
        if !secret.is_empty() && (secret.len() > 16 || !secret.chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(AppError::Validation(
                "The secret key is up to 16 letters A-Z and digits (ClickBank: Vendor Settings → Advanced Tools).".into(),
            ));
        }
        let dev = dev_key.trim();
        Ok(PluginInput {
            name: name.to_string(),
            site: site.to_string(),
            keys: PluginKeys {
                dev_key: (!dev.is_empty()).then(|| dev.to_string()),
                api_key: api_key.to_string(),
                secret_key: (!secret.is_empty()).then_some(secret),
            },
            include_test,
            send_confirmations,
            unique_products,
            clickbank_ships,
        })
    }
}

/// Opens a plugin's sealed keys.
pub fn keys(plugin: &Plugin, secrets: &SecretBox) -> Result<PluginKeys, AppError> {
    Ok(PluginKeys {
        dev_key: plugin
            .dev_key_enc
            .as_deref()
            .map(|k| secrets.open(k))
            .transpose()?,
        api_key: secrets.open(&plugin.api_key_enc)?,
        secret_key: plugin
            .secret_key_enc
            .as_deref()
            .map(|k| secrets.open(k))
            .transpose()?,
    })
}

/// Builds a ClickBank client for these keys against `base_url`, with a limiter of its own: for
/// one-off calls outside the jobs (the connect check of keys being saved, the CLI, the demo).
pub fn client_for(keys: &PluginKeys, base_url: &str) -> Result<Arc<dyn ClickBankApi>, AppError> {
    let cfg = ClientConfig::new(keys.api_key.clone())
        .with_base_url(base_url)
        .with_dev_key(keys.dev_key.clone());
    clickbank::client::shared_client(cfg).map_err(|e| AppError::Validation(format!("ClickBank client: {e}")))
}

/// A client for these keys taking its turns from `limiter`, the account's one limiter
/// (`JobContext::limiter`); `None`: no limit.
pub fn client_sharing(
    keys: &PluginKeys,
    base_url: &str,
    limiter: Option<Arc<clickbank::Limiter>>,
) -> Result<Arc<dyn ClickBankApi>, AppError> {
    let cfg = ClientConfig::new(keys.api_key.clone())
        .with_base_url(base_url)
        .with_dev_key(keys.dev_key.clone());
    clickbank::client::shared_client_with(cfg, limiter)
        .map_err(|e| AppError::Validation(format!("ClickBank client: {e}")))
}

/// Checks keys and site against ClickBank by reading the first products page. The error
/// carries ClickBank's own text.
pub async fn connect_check(api: &dyn ClickBankApi, site: &str) -> Result<(), AppError> {
    let q = ProductsQuery::site(site);
    api.products_page(&q, 1)
        .await
        .map(|_| ())
        .map_err(|e| AppError::Validation(format!("ClickBank refused the connection: {e}")))
}

pub fn list(conn: &mut DbConn) -> Result<Vec<Plugin>, AppError> {
    Ok(plugins::table
        .select(Plugin::as_select())
        .order(plugins::name.asc())
        .load(conn)?)
}

pub fn active(conn: &mut DbConn) -> Result<Vec<Plugin>, AppError> {
    Ok(plugins::table
        .filter(plugins::active.eq(true))
        .select(Plugin::as_select())
        .order(plugins::id.asc())
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Plugin, AppError> {
    Ok(plugins::table.find(id).select(Plugin::as_select()).first(conn)?)
}

fn seal_opt(secrets: &SecretBox, v: &Option<String>) -> Result<Option<String>, AppError> {
    v.as_deref().map(|k| secrets.seal(k)).transpose()
}

/// Saves a new plugin (after a successful connection check).
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    secrets: &SecretBox,
    input: &PluginInput,
    connected: bool,
) -> Result<Plugin, AppError> {
    let now = super::now();
    conn.transaction(|conn| {
        let exists: i64 = plugins::table
            .filter(plugins::name.eq(&input.name))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Err(AppError::Conflict(format!(
                "A plugin named {} already exists.",
                input.name
            )));
        }
        diesel::insert_into(plugins::table)
            .values((
                plugins::kind.eq("clickbank"),
                plugins::name.eq(&input.name),
                plugins::site.eq(&input.site),
                plugins::dev_key_enc.eq(seal_opt(secrets, &input.keys.dev_key)?),
                plugins::api_key_enc.eq(secrets.seal(&input.keys.api_key)?),
                plugins::secret_key_enc.eq(seal_opt(secrets, &input.keys.secret_key)?),
                plugins::include_test.eq(input.include_test),
                plugins::send_confirmations.eq(input.send_confirmations),
                plugins::unique_products.eq(input.unique_products),
                plugins::clickbank_ships.eq(input.clickbank_ships),
                plugins::active.eq(true),
                plugins::last_connected_at.eq(connected.then_some(now)),
                plugins::created_at.eq(now),
                plugins::updated_at.eq(now),
                // Until an initial import sets its own, the SHIPPED cut-off is the plugin's
                // activation: what was sold before it was shipped before the CRM.
                plugins::ship_cutoff_at.eq(Some(now)),
            ))
            .execute(conn)?;
        let p: Plugin = plugins::table
            .filter(plugins::name.eq(&input.name))
            .select(Plugin::as_select())
            .first(conn)?;
        audit::record(
            conn,
            actor,
            "plugin.activate",
            &p.name,
            json!({"site": p.site, "include_test": p.include_test, "unique_products": p.unique_products,
                   "connection_checked": connected}),
        )?;
        Ok(p)
    })
}

/// Saves an edit. `unique_products` and the name are fixed at creation; empty key fields
/// keep the stored keys.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    secrets: &SecretBox,
    id: i64,
    input: &PluginInput,
    keys_changed: bool,
) -> Result<Plugin, AppError> {
    conn.transaction(|conn| {
        let before = find(conn, id)?;
        diesel::update(plugins::table.find(id))
            .set((
                plugins::site.eq(&input.site),
                plugins::include_test.eq(input.include_test),
                plugins::send_confirmations.eq(input.send_confirmations),
                plugins::clickbank_ships.eq(input.clickbank_ships),
                plugins::updated_at.eq(super::now()),
            ))
            .execute(conn)?;
        if keys_changed {
            diesel::update(plugins::table.find(id))
                .set((
                    plugins::dev_key_enc.eq(seal_opt(secrets, &input.keys.dev_key)?),
                    plugins::api_key_enc.eq(secrets.seal(&input.keys.api_key)?),
                    plugins::secret_key_enc.eq(seal_opt(secrets, &input.keys.secret_key)?),
                    plugins::last_connected_at.eq(Some(super::now())),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            actor,
            "plugin.update",
            &before.name,
            json!({"before": {"site": before.site, "include_test": before.include_test, "clickbank_ships": before.clickbank_ships},
                   "after": {"site": input.site, "include_test": input.include_test, "clickbank_ships": input.clickbank_ships},
                   "keys_changed": keys_changed}),
        )?;
        find(conn, id)
    })
}

pub fn set_active(conn: &mut DbConn, actor: &Actor, id: i64, active: bool) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let p = find(conn, id)?;
        diesel::update(plugins::table.find(id))
            .set((plugins::active.eq(active), plugins::updated_at.eq(super::now())))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            if active {
                "plugin.reactivate"
            } else {
                "plugin.deactivate"
            },
            &p.name,
            json!({}),
        )?;
        Ok(())
    })
}

/// Sets plugin `id`'s daily budget of look-ups (0 to ClickBank's whole daily allowance).
pub fn set_lookup_budget(conn: &mut DbConn, actor: &Actor, id: i64, budget: i64) -> Result<(), AppError> {
    let max = crate::domain::clickbank_budget::DAILY_ALLOWANCE;
    if !(0..=max).contains(&budget) {
        return Err(AppError::Validation(format!(
            "The daily budget of look-ups is 0 to {max} requests."
        )));
    }
    conn.transaction(|conn| {
        let p = find(conn, id)?;
        diesel::update(plugins::table.find(id))
            .set((
                plugins::lookup_budget.eq(budget as i32),
                plugins::updated_at.eq(super::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "plugin.lookup_budget",
            &p.name,
            json!({"before": p.lookup_budget, "after": budget}),
        )
    })
}
