//! Fetching ClickBank order pages (on the other core, while the last batch is written) and
//! committing a batch of them with the cursor past the last one, in one transaction.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::failed::{self, Kept};
use super::{day_text, lease};
use crate::clickbank::{ClickBankClient, ClickBankError, OrdersQuery};
use crate::db::models::{Plugin, TaskState};
use crate::db::schema::import_tasks as tasks;
use crate::db::DbConn;
use crate::domain::lease::{lease_mine, lease_take};
use crate::domain::orders::{apply_unguarded, apply_with, LookupsAndWrites, OrderEvent, Outcome};
use crate::error::AppError;

/// Pages fetched and not yet committed.
pub(super) struct PageBatch {
    pub(super) pages: u32,
    /// Day windows the pages completed.
    pub(super) windows_done: i32,
    pub(super) requests: i64,
    pub(super) records: Vec<PageRecord>,
    /// The cursor (day, page) past the last page fetched.
    pub(super) next: (NaiveDate, u32),
    /// ClickBank's error that stopped the fetching, if one did.
    pub(super) failure: Option<ClickBankError>,
}

/// A fetched record, already turned into an event on the fetching side (the other core).
pub(super) struct PageRecord {
    receipt: String,
    /// None for a test transaction the plugin leaves out; the reason when it cannot be read.
    event: Option<Result<OrderEvent, String>>,
    /// The event's key (see [`OrderEvent::key`]).
    key: Option<String>,
    /// ClickBank's record, kept only when it cannot be read into an event (to be stored as a
    /// failed record).
    unreadable: Option<Box<crate::clickbank::OrderRecord>>,
}

impl PageRecord {
    fn new(rec: &crate::clickbank::OrderRecord, plugin: &Plugin) -> Self {
        let event = (!rec.transaction_type.is_test() || plugin.include_test)
            .then(|| OrderEvent::from_record(rec).map_err(|e| e.to_string()));
        let key = match &event {
            Some(Ok(ev)) => Some(ev.key(plugin.id)),
            _ => None,
        };
        let unreadable = matches!(event, Some(Err(_))).then(|| Box::new(rec.clone()));
        PageRecord {
            receipt: rec.receipt.clone(),
            event,
            key,
            unreadable,
        }
    }
}

/// Fetches up to `room` pages from `from` on, window by window, through day `end`.
pub(super) async fn fetch_pages(
    api: &ClickBankClient,
    plugin: &Plugin,
    from: (NaiveDate, u32),
    room: u32,
    end: NaiveDate,
) -> PageBatch {
    let mut b = PageBatch {
        pages: 0,
        windows_done: 0,
        requests: 0,
        records: Vec::new(),
        next: from,
        failure: None,
    };
    while b.pages < room && b.next.0 <= end {
        let (day, page) = b.next;
        let before = api.stats().requests;
        let fetched =
            crate::clickbank::ClickBankApi::orders_page(api, &OrdersQuery::between(day, day), page).await;
        b.requests += (api.stats().requests - before) as i64;
        match fetched {
            Ok(got) => {
                b.pages += 1;
                b.records
                    .extend(got.records.iter().map(|r| PageRecord::new(r, plugin)));
                if got.more {
                    b.next = (day, page + 1);
                } else {
                    b.next = (day + Duration::days(1), 1);
                    b.windows_done += 1;
                }
            }
            Err(e) => {
                b.failure = Some(e);
                break;
            }
        }
    }
    b
}

/// Why committing pages failed.
pub(super) enum PageFail {
    /// A record could not be applied (only when applying without savepoints).
    Record,
    Other(AppError),
}

impl From<diesel::result::Error> for PageFail {
    fn from(e: diesel::result::Error) -> Self {
        PageFail::Other(e.into())
    }
}

impl From<AppError> for PageFail {
    fn from(e: AppError) -> Self {
        PageFail::Other(e)
    }
}

impl PageFail {
    pub(super) fn into_app(self) -> AppError {
        match self {
            PageFail::Record => AppError::Internal("a record failed in the guarded attempt".into()),
            PageFail::Other(e) => e,
        }
    }
}

/// What a commit applied: records on orders whose sale is seen (`imported`), records that
/// landed on an order whose sale is not seen yet (`awaiting`), and records seen before or
/// not applied (`skipped`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counted {
    pub imported: i64,
    pub skipped: i64,
    pub awaiting: i64,
}

/// A batch of fetched pages to commit, and the cursor past them.
pub(super) struct PageCommit<'a> {
    pub plugin: &'a Plugin,
    pub records: &'a [PageRecord],
    /// The lease holder: the commit happens only while it still holds the task.
    pub runner: &'a str,
    pub task_id: i64,
    pub next_day: NaiveDate,
    pub next_page: u32,
    /// Day windows the pages completed.
    pub windows_done: i32,
}

/// How records are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Savepoints {
    /// All in one go: the first failing record rolls the whole commit back
    /// ([`PageFail::Record`]).
    None,
    /// One savepoint per record: a failing one is counted as an error, the others kept.
    PerRecord,
}

/// Applies fetched records and moves the cursor in one transaction, as long as the runner still
/// holds the task.
pub(super) fn commit_pages(
    c: &mut DbConn,
    batch: &PageCommit<'_>,
    savepoints: Savepoints,
) -> Result<Counted, PageFail> {
    let PageCommit {
        plugin: p,
        records,
        runner,
        task_id: id,
        next_day,
        next_page,
        windows_done: window_done,
    } = *batch;
    let guarded = savepoints == Savepoints::PerRecord;
    c.transaction(|c| {
        let (mut imported, mut skipped, mut errors, mut last_error) = (0i64, 0i64, 0i64, None);
        let mut awaiting = 0i64;
        let mut lookups = LookupsAndWrites::default();
        if !guarded {
            // Which records were applied before, asked for all of them at once.
            let keys: Vec<String> = records.iter().filter_map(|r| r.key.clone()).collect();
            lookups.known_applied(c, &keys)?;
        }
        for rec in records {
            let applied = match &rec.event {
                None => {
                    skipped += 1;
                    continue;
                }
                Some(Err(e)) => {
                    // Unreadable: nothing was written for it, so nothing to take back. It is
                    // kept to be reprocessed after a fix.
                    errors += 1;
                    last_error = Some(format!("receipt {}: {e}", rec.receipt));
                    if let Some(r) = &rec.unreadable {
                        failed::keep(c, p.id, id, Kept::Record(r), e)?;
                    }
                    continue;
                }
                Some(Ok(ev)) if guarded => apply_with(c, p, ev, "import", &mut lookups),
                Some(Ok(ev)) => apply_unguarded(c, p, ev, "import", &mut lookups),
            };
            match applied {
                Ok(Outcome::Applied { .. }) => imported += 1,
                Ok(Outcome::SaleNotSeen { .. }) => awaiting += 1,
                Ok(Outcome::Duplicate | Outcome::Ignored(_)) => skipped += 1,
                Err(_) if !guarded => return Err(PageFail::Record),
                Err(e) => {
                    errors += 1;
                    last_error = Some(format!("receipt {}: {e}", rec.receipt));
                    if let Some(Ok(ev)) = &rec.event {
                        failed::keep(c, p.id, id, Kept::Event(ev), &e.to_string())?;
                    }
                }
            }
        }
        lookups.flush(c)?;
        let now = crate::domain::now();
        let moved = diesel::update(
            tasks::table
                .find(id)
                .filter(lease_mine!(tasks, runner))
                .filter(tasks::state.eq(TaskState::Running)),
        )
        .set((
            tasks::cursor_day.eq(Some(day_text(next_day))),
            tasks::cursor_page.eq(next_page as i32),
            tasks::windows_done.eq(tasks::windows_done + window_done),
            tasks::imported.eq(tasks::imported + imported),
            tasks::awaiting_sale.eq(tasks::awaiting_sale + awaiting),
            tasks::skipped.eq(tasks::skipped + skipped),
            tasks::errors.eq(tasks::errors + errors),
            lease_take!(tasks, lease(runner)),
            tasks::updated_at.eq(now),
        ))
        .execute(c)?;
        if moved != 1 {
            // Paused, cancelled, or our lease was taken over: these pages are not ours to commit.
            return Err(PageFail::Other(AppError::Conflict(
                "the task was paused, cancelled or taken over by another process".into(),
            )));
        }
        if let Some(e) = &last_error {
            // Kept until a later record fails: a clean page does not hide it.
            diesel::update(tasks::table.find(id))
                .set(tasks::last_error.eq(Some(e)))
                .execute(c)?;
        }
        Ok(Counted {
            imported,
            skipped,
            awaiting,
        })
    })
}
