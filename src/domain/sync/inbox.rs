//! The INS inbox. A delivery is stored raw first (`received`), then decrypted with the
//! secret key of the active plugin it belongs to and applied through [`orders::apply`]. A
//! delivery that cannot be decrypted or applied stays `failed` with the reason and can be
//! reprocessed (for example after the merchant fixed a secret key); nothing is dropped.
//!
//! Statuses: [`InboxStatus`].

use diesel::prelude::*;

use crate::clickbank::ins::{InsDecoder, InsError, Notification};
use crate::db::models::{InboundNotification, InboxStatus, Plugin};
use crate::db::schema::inbound_notifications as inbox;
use crate::db::DbConn;
use crate::domain::orders::{self, OrderEvent, Outcome};
use crate::domain::plugins;
use crate::error::AppError;
use crate::secrets::SecretBox;

/// Largest INS body accepted (ClickBank's are a few KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// Stores a delivery as it arrived; returns its id.
pub fn store(
    conn: &mut DbConn,
    source_ip: &str,
    api_user_id: Option<i64>,
    body: &str,
) -> Result<i64, AppError> {
    let now = crate::domain::now();
    diesel::insert_into(inbox::table)
        .values((
            inbox::received_at.eq(now),
            inbox::source_ip.eq(source_ip),
            inbox::api_user_id.eq(api_user_id),
            inbox::body.eq(body),
            inbox::status.eq(InboxStatus::Received),
            inbox::attempts.eq(0),
        ))
        .execute(conn)?;
    Ok(inbox::table
        .filter(inbox::received_at.eq(now))
        .filter(inbox::source_ip.eq(source_ip))
        .select(inbox::id)
        .order(inbox::id.desc())
        .first(conn)?)
}

/// Every plugin with its INS decoder, built once per batch (key opening and derivation are
/// not repeated per notification).
pub struct Keyring {
    entries: Vec<(Plugin, Option<InsDecoder>)>,
}

impl Keyring {
    pub fn load(conn: &mut DbConn, secrets: &SecretBox) -> Result<Self, AppError> {
        let mut entries = Vec::new();
        for p in plugins::list(conn)? {
            // A plugin whose keys cannot be opened (another master key) must not stop the others.
            let dec = match plugins::keys(&p, secrets) {
                Ok(k) => k.secret_key.map(|k| InsDecoder::new(&k)),
                Err(e) => {
                    tracing::error!(plugin = %p.name, error = %e, "cannot open the plugin's keys");
                    None
                }
            };
            entries.push((p, dec));
        }
        Ok(Keyring { entries })
    }

    /// Finds the plugin whose secret key decrypts `body`, preferring an active one whose
    /// site is the notification's vendor when several keys fit.
    fn decrypt(&self, body: &[u8]) -> Result<(Plugin, Notification, String), String> {
        let mut fits: Vec<(Plugin, Notification, String)> = Vec::new();
        let mut any_key = false;
        for (p, dec) in &self.entries {
            let Some(dec) = dec else { continue };
            any_key = true;
            match dec.decrypt(body) {
                Ok(plain) => {
                    let n = crate::clickbank::ins::parse_notification(plain.as_bytes())
                        .map_err(|e| e.to_string())?;
                    fits.push((p.clone(), n, plain));
                }
                Err(InsError::WrongKeyOrDamaged) => continue,
                // The envelope itself is bad: no key will ever fit.
                Err(e) => return Err(e.to_string()),
            }
        }
        if !any_key {
            return Err(
                "no ClickBank plugin has a secret key: add it on the plugin page, then reprocess".into(),
            );
        }
        if fits.is_empty() {
            return Err(
                "wrong secret key or damaged notification: no plugin's secret key decrypts it".into(),
            );
        }
        let vendor_fits = |p: &Plugin, n: &Notification| {
            n.vendor
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(&p.site))
        };
        let idx = fits
            .iter()
            .position(|(p, n, _)| p.active && vendor_fits(p, n))
            .or_else(|| fits.iter().position(|(p, _, _)| p.active));
        match idx {
            Some(i) => Ok(fits.swap_remove(i)),
            None => Err(format!(
                "plugin {} is deactivated: reactivate it, then reprocess this notification",
                fits[0].0.name
            )),
        }
    }
}

fn pretty(plain: &str) -> String {
    serde_json::from_str::<serde_json::Value>(plain)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| plain.to_string())
}

/// Decrypts and applies stored delivery `id`; returns its new status.
pub fn process(conn: &mut DbConn, secrets: &SecretBox, id: i64) -> Result<InboxStatus, AppError> {
    let keys = Keyring::load(conn, secrets)?;
    process_with(conn, &keys, id)
}

/// The note on a delivery applied on an order whose sale the CRM has not seen yet.
pub const SALE_NOT_SEEN: &str =
    "applied on an order built from this notification: its sale is not seen yet and is being read from ClickBank";

/// [`process`] with the plugins' decoders already at hand.
pub fn process_with(conn: &mut DbConn, keys: &Keyring, id: i64) -> Result<InboxStatus, AppError> {
    let row: InboundNotification = inbox::table
        .find(id)
        .select(InboundNotification::as_select())
        .first(conn)?;
    let now = crate::domain::now();
    let (plugin, note, plain) = match keys.decrypt(row.body.as_bytes()) {
        Ok(x) => x,
        Err(reason) => return fail(conn, id, now, &reason, None),
    };
    let payload = pretty(&plain);
    diesel::update(inbox::table.find(id))
        .set((
            inbox::plugin_id.eq(Some(plugin.id)),
            inbox::transaction_type.eq(Some(note.transaction_type.to_string())),
            inbox::receipt.eq(Some(note.receipt.clone())),
            inbox::vendor.eq(note.vendor.clone()),
            inbox::payload.eq(Some(&payload)),
        ))
        .execute(conn)?;
    let result = OrderEvent::from_notification(&note).and_then(|ev| {
        conn.transaction(|conn| {
            let outcome = orders::apply(conn, &plugin, &ev, "ins")?;
            let (status, error) = match &outcome {
                Outcome::Applied { .. } => (InboxStatus::Processed, None),
                Outcome::Duplicate => (InboxStatus::Duplicate, None),
                Outcome::SaleNotSeen { .. } => (InboxStatus::Processed, Some(SALE_NOT_SEEN.to_string())),
                Outcome::Ignored(why) => (InboxStatus::Ignored, Some(why.clone())),
            };
            diesel::update(inbox::table.find(id))
                .set((
                    inbox::status.eq(status),
                    inbox::error.eq(error),
                    inbox::attempts.eq(inbox::attempts + 1),
                    inbox::processed_at.eq(Some(now)),
                ))
                .execute(conn)?;
            Ok(status)
        })
    });
    match result {
        Ok(status) => Ok(status),
        Err(
            e
            @ (AppError::Validation(_) | AppError::Internal(_) | AppError::NotFound | AppError::Conflict(_)),
        ) => fail(conn, id, now, &e.to_string(), Some(plugin.id)),
        Err(e) => Err(e),
    }
}

fn fail(
    conn: &mut DbConn,
    id: i64,
    now: chrono::NaiveDateTime,
    reason: &str,
    plugin: Option<i64>,
) -> Result<InboxStatus, AppError> {
    diesel::update(inbox::table.find(id))
        .set((
            inbox::status.eq(InboxStatus::Failed),
            inbox::error.eq(Some(reason)),
            inbox::attempts.eq(inbox::attempts + 1),
            inbox::processed_at.eq(Some(now)),
        ))
        .execute(conn)?;
    if plugin.is_some() {
        diesel::update(inbox::table.find(id))
            .set(inbox::plugin_id.eq(plugin))
            .execute(conn)?;
    }
    Ok(InboxStatus::Failed)
}

/// Reprocesses every failed delivery, oldest first; returns (processed, still failed).
pub fn reprocess_failed(conn: &mut DbConn, secrets: &SecretBox) -> Result<(usize, usize), AppError> {
    let ids: Vec<i64> = inbox::table
        .filter(inbox::status.eq(InboxStatus::Failed))
        .order(inbox::id.asc())
        .select(inbox::id)
        .load(conn)?;
    let mut still = 0;
    for id in &ids {
        if process(conn, secrets, *id)? == InboxStatus::Failed {
            still += 1;
        }
    }
    Ok((ids.len() - still, still))
}

/// Filters of Admin → Notifications.
#[derive(Debug, Default, Clone)]
pub struct InboxFilter {
    pub plugin_id: Option<i64>,
    pub transaction_type: Option<String>,
    pub status: Option<InboxStatus>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConn, f: &InboxFilter) -> Result<(Vec<InboundNotification>, bool), AppError> {
    let mut q = inbox::table.select(InboundNotification::as_select()).into_boxed();
    if let Some(p) = f.plugin_id {
        q = q.filter(inbox::plugin_id.eq(p));
    }
    // ClickBank's types are upper case: "rfnd" finds the RFNDs.
    if let Some(t) = f
        .transaction_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        q = q.filter(inbox::transaction_type.eq(t.to_uppercase()));
    }
    if let Some(s) = f.status {
        q = q.filter(inbox::status.eq(s));
    }
    if let Some(d) = f.from {
        q = q.filter(inbox::received_at.ge(d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(d) = f.to.and_then(|d| d.succ_opt()) {
        q = q.filter(inbox::received_at.lt(d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(b) = f.before_id {
        q = q.filter(inbox::id.lt(b));
    }
    let limit = if f.limit > 0 { f.limit } else { 50 };
    let mut rows: Vec<InboundNotification> = q.order(inbox::id.desc()).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<InboundNotification, AppError> {
    Ok(inbox::table
        .find(id)
        .select(InboundNotification::as_select())
        .first(conn)?)
}

/// A delivery left `processing` this long (its process died) is taken up again.
const STALE_CLAIM_MINUTES: i64 = 5;

/// Claims up to `limit` stored deliveries for processing by this process (one conditional
/// UPDATE each, so two processes never take the same one).
pub fn claim_batch(conn: &mut DbConn, limit: i64) -> Result<Vec<i64>, AppError> {
    let now = crate::domain::now();
    let stale = now - chrono::Duration::minutes(STALE_CLAIM_MINUTES);
    let open = || {
        inbox::status.eq(InboxStatus::Received).or(inbox::status
            .eq(InboxStatus::Processing)
            .and(inbox::processed_at.lt(stale)))
    };
    conn.transaction(|conn| {
        let ids: Vec<i64> = inbox::table
            .filter(open())
            .order(inbox::id.asc())
            .limit(limit)
            .select(inbox::id)
            .load(conn)?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let n = diesel::update(inbox::table.find(id).filter(open()))
                .set((
                    inbox::status.eq(InboxStatus::Processing),
                    inbox::processed_at.eq(Some(now)),
                ))
                .execute(conn)?;
            if n == 1 {
                claimed.push(id);
            }
        }
        Ok(claimed)
    })
}

/// Processes claimed deliveries in one transaction (each in its own savepoint); if the
/// batch as a whole fails, each is processed on its own so one bad row cannot hold the others.
pub fn process_batch(conn: &mut DbConn, secrets: &SecretBox, ids: &[i64]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys = Keyring::load(conn, secrets)?;
    let batch = conn.transaction(|c| {
        for id in ids {
            process_with(c, &keys, *id)?;
        }
        Ok::<_, AppError>(())
    });
    if let Err(e) = batch {
        tracing::warn!(error = %e, "INS batch failed; processing one by one");
        for id in ids {
            if let Err(e) = process_with(conn, &keys, *id) {
                tracing::error!(notification = id, error = %e, "INS processing failed; kept for reprocessing");
            }
        }
    }
    Ok(())
}

/// Deliveries stored but not processed yet.
pub fn backlog(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(inbox::table
        .filter(inbox::status.eq_any([InboxStatus::Received, InboxStatus::Processing]))
        .count()
        .get_result(conn)?)
}
