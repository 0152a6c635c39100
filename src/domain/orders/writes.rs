//! [`LookupsAndWrites`]: the look-ups the events of one transaction share, and the rows
//! they leave to be written together before it commits.

use std::collections::HashSet;

use diesel::prelude::*;

use super::event::{EventItem, OrderEvent};
use super::placement::{campaign_id, product_for};
use crate::clickbank::TransactionType;
use crate::db::models::Plugin;
use crate::db::schema::{applied_events, sale_lookups, transactions};
use crate::db::statements::Stamp;
use crate::db::{on_backend, DbConn};
use crate::domain::catalog::clickbank_house_id;
use crate::error::AppError;

/// What the events of one transaction (an import's pages) share: look-ups it caches and rows
/// it buffers and writes at commit.
/// - ids looked up once: the campaign, the category's products and the dummy house rarely
///   change;
/// - which event keys are applied already, asked for all the pages' records at once
///   ([`LookupsAndWrites::known_applied`]) instead of once per record;
/// - the rows nothing reads back before the commit (the event keys, the money transactions
///   and the look-ups of sales not seen yet), written together by [`LookupsAndWrites::flush`] with a few multi-row INSERTs:
///   one statement per row was a fifth of an import.
///
/// Cleared when an event fails, since its savepoint took back what it had created.
#[derive(Debug, Default)]
pub struct LookupsAndWrites {
    house: Option<i64>,
    campaigns: std::collections::HashMap<(String, bool), i64>,
    products: std::collections::HashMap<String, super::placement::Placed>,
    /// Keys asked about by `known_applied`, and those of them found applied.
    asked: HashSet<String>,
    found: HashSet<String>,
    /// Keys applied in this transaction, written or not.
    applied_now: HashSet<String>,
    /// (key, plugin, order)
    unwritten_keys: Vec<(String, i64, Option<i64>)>,
    unwritten_transactions: Vec<NewTransaction>,
    /// (plugin, order, receipt, SKUs) of orders built from a later event: their sale's look-up.
    unwritten_lookups: Vec<(i64, i64, String, String)>,
    /// The transaction's time: `created_at` and `updated_at` of what its events write.
    now: Option<Stamp>,
}

/// A money transaction waiting for [`LookupsAndWrites::flush`].
#[derive(Debug)]
struct NewTransaction {
    order_id: i64,
    kind: TransactionType,
    item_no: Option<String>,
    amount_minor: i64,
    currency: String,
    time: Stamp,
    source: String,
}

/// A sale's look-up waits this long first: ClickBank's own SALE often follows within minutes
/// (its notifications arrive out of order), and a look-up costs a request of the account's
/// daily allowance.
pub const FIRST_LOOKUP_AFTER_SECS: i64 = 120;

/// Rows per multi-row INSERT: 8 columns × 500 stays far below both backends' bind limits.
const ROWS_PER_INSERT: usize = 500;

/// Inserts the items of the Vec `$items` (taking them) into `$table`, `ROWS_PER_INSERT` rows per
/// statement, each item made a row of owned values by `$row`.
macro_rules! insert_in_chunks {
    ($conn:expr, $table:expr, $items:expr, |$x:pat_param| $row:expr) => {
        let mut items = std::mem::take(&mut $items).into_iter().peekable();
        while items.peek().is_some() {
            let rows: Box<[_]> = items.by_ref().take(ROWS_PER_INSERT).map(|$x| $row).collect();
            // A full chunk goes as an array: an INSERT of one length, which diesel keeps
            // prepared (one of a Vec's varying length is written and prepared on every run).
            match Box::<[_; ROWS_PER_INSERT]>::try_from(rows) {
                Ok(full) => on_backend!($conn, |c| diesel::insert_into($table).values(full).execute(c))?,
                Err(rest) => {
                    let rest = rest.into_vec();
                    on_backend!($conn, |c| diesel::insert_into($table).values(&rest).execute(c))?
                }
            };
        }
    };
}

impl LookupsAndWrites {
    /// Looks up at once which of `keys` are applied already (an import's pages).
    ///
    /// SQLite only: there the whole transaction is the process's one writer, so the answer
    /// holds until the commit. On PostgreSQL another process may apply one of these events
    /// between this question and the advisory lock on its receipt, so each event is asked
    /// about once its lock is held, as before.
    pub fn known_applied(&mut self, conn: &mut DbConn, keys: &[String]) -> Result<(), AppError> {
        if matches!(conn, DbConn::Postgres(_)) {
            return Ok(());
        }
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let found: Vec<String> = on_backend!(conn, |c| applied_events::table
                .filter(applied_events::event_key.eq_any(chunk))
                .select(applied_events::event_key)
                .load(c))?;
            self.found.extend(found);
            self.asked.extend(chunk.iter().cloned());
        }
        Ok(())
    }

    pub(super) fn is_applied(&self, conn: &mut DbConn, key: &str) -> Result<bool, AppError> {
        if self.applied_now.contains(key) || self.found.contains(key) {
            return Ok(true);
        }
        if self.asked.contains(key) {
            return Ok(false);
        }
        let n: i64 = on_backend!(conn, |c| applied_events::table
            .filter(applied_events::event_key.eq(key))
            .count()
            .get_result(c))?;
        Ok(n > 0)
    }

    pub(super) fn mark_applied(&mut self, key: String, plugin_id: i64, order_id: Option<i64>) {
        self.applied_now.insert(key.clone());
        self.unwritten_keys.push((key, plugin_id, order_id));
    }

    pub(super) fn add_transaction(
        &mut self,
        order_id: i64,
        ev: &OrderEvent,
        time: &Stamp,
        amount: i64,
        source: &str,
    ) {
        self.unwritten_transactions.push(NewTransaction {
            order_id,
            kind: ev.kind.clone(),
            item_no: ev.items.first().map(|i| i.item_no.clone()),
            amount_minor: amount,
            currency: ev.currency.clone(),
            time: time.clone(),
            source: source.to_string(),
        });
    }

    /// Queues the look-up of the original sale of order `order_id` (built from a later event).
    pub(super) fn queue_sale_lookup(&mut self, plugin_id: i64, order_id: i64, receipt: &str, skus: &str) {
        self.unwritten_lookups
            .push((plugin_id, order_id, receipt.to_string(), skus.to_string()));
    }

    /// The time of the caller's transaction, taken when its first event asks: what its rows
    /// are created or updated at (the time text is then written once for all of them).
    pub(super) fn now(&mut self) -> Stamp {
        self.now
            .get_or_insert_with(|| Stamp::new(crate::domain::now()))
            .clone()
    }

    /// Writes the rows kept back; call before the transaction commits.
    pub fn flush(&mut self, conn: &mut DbConn) -> Result<(), AppError> {
        let now = self.now();
        insert_in_chunks!(conn, applied_events::table, self.unwritten_keys, |(
            key,
            plugin,
            order,
        )| (
            applied_events::event_key.eq(key),
            applied_events::plugin_id.eq(plugin),
            applied_events::order_id.eq(order),
            applied_events::applied_at.eq(now.clone()),
        ));
        insert_in_chunks!(conn, transactions::table, self.unwritten_transactions, |t| (
            transactions::order_id.eq(t.order_id),
            transactions::kind.eq(t.kind),
            transactions::item_no.eq(t.item_no),
            transactions::amount_minor.eq(t.amount_minor),
            transactions::currency.eq(t.currency),
            transactions::transaction_time.eq(t.time),
            transactions::source.eq(t.source),
            transactions::created_at.eq(now.clone()),
        ));
        // Key-ordered, as every multi-row write of the event path.
        self.unwritten_lookups
            .sort_unstable_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
        let first_lookup = Stamp::new(now.time() + chrono::Duration::seconds(FIRST_LOOKUP_AFTER_SECS));
        insert_in_chunks!(conn, sale_lookups::table, self.unwritten_lookups, |(
            plugin,
            order,
            receipt,
            skus,
        )| (
            sale_lookups::plugin_id.eq(plugin),
            sale_lookups::order_id.eq(order),
            sale_lookups::receipt.eq(receipt),
            sale_lookups::skus.eq(skus),
            sale_lookups::next_attempt_at.eq(first_lookup.clone()),
            sale_lookups::created_at.eq(now.clone()),
        ));
        Ok(())
    }

    pub(super) fn house(&mut self, conn: &mut DbConn) -> Result<i64, AppError> {
        if let Some(h) = self.house {
            return Ok(h);
        }
        let h = clickbank_house_id(conn)?;
        self.house = Some(h);
        Ok(h)
    }

    pub(super) fn campaign(
        &mut self,
        conn: &mut DbConn,
        plugin: &Plugin,
        currency: &str,
        test: bool,
    ) -> Result<i64, AppError> {
        let key = (currency.to_string(), test);
        if let Some(id) = self.campaigns.get(&key) {
            return Ok(*id);
        }
        let id = campaign_id(conn, plugin, currency, test)?;
        self.campaigns.insert(key, id);
        Ok(id)
    }

    pub(super) fn product(
        &mut self,
        conn: &mut DbConn,
        plugin: &Plugin,
        item: &EventItem,
        currency: &str,
    ) -> Result<super::placement::Placed, AppError> {
        if let Some(p) = self.products.get(&item.item_no) {
            return Ok(*p);
        }
        let p = product_for(conn, plugin, item, currency)?;
        self.products.insert(item.item_no.clone(), p);
        Ok(p)
    }
}
