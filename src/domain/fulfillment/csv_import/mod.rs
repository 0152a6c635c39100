//! CSV imports, told apart by their header line (required):
//! - tracking file `orderId,clientFulfillmentId,trackingNumber,carrier,method`: the items
//!   move to SHIPPED with their tracking (an empty clientFulfillmentId means every item of
//!   the order that may ship; rows with no tracking number are left alone, so a partly
//!   filled export of the list can be uploaded as it is);
//! - returns file `orderId,status[,rmaNumber]` with status RETURNED or CANCELLED (CANCELLED
//!   also cancels the purchase of the item).
//!
//! `orderId` is the ClickBank receipt. Every row is checked first; any bad row means nothing
//! is applied and the answer lists every bad line with its reason. Otherwise all rows are
//! applied in one transaction. A UTF-8 BOM, CRLF line ends, quoted fields and spaces around
//! values are all fine.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::batch::CHUNK;
use super::Status;
use crate::db::models::PurchaseStatus;
use crate::db::schema::{fulfillments, orders, purchases};
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;

mod parse;

#[cfg(test)]
use parse::parse;
use parse::Row;
pub use parse::{header_key, parse_file, prepared, reader, record_line, rows_for, unreadable, ParsedFile};

/// Which file it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Tracking,
    Returns,
}

impl FileKind {
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Tracking => "tracking",
            FileKind::Returns => "returns",
        }
    }
}

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// What an applied file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub kind: FileKind,
    pub rows: usize,
    pub items: usize,
    pub skipped: usize,
    /// (purchase id, receipt) of the running subscriptions whose items a returns file
    /// CANCELLED: ClickBank must be asked to cancel each.
    pub to_cancel: Vec<(i64, String)>,
}

/// A file that was refused: every bad line, nothing applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub errors: Vec<LineError>,
}

pub const TRACKING_HEADER: &str = "orderId,clientFulfillmentId,trackingNumber,carrier,method";
pub const RETURNS_HEADER: &str = "orderId,status[,rmaNumber]";

/// An item as the checks see it.
#[derive(Debug, Clone)]
struct Item {
    id: i64,
    order_item_id: i64,
    status: Status,
    ship_date: Option<NaiveDate>,
}

/// One change to apply.
struct Change {
    id: i64,
    order_item_id: i64,
    from: Status,
    to: Status,
    tracking: Option<String>,
    carrier: Option<String>,
    method: Option<String>,
    ship_date: Option<NaiveDate>,
    rma: Option<String>,
}

/// (receipt, order id, item id, order item id, status, ship date); the item columns are
/// empty for an order without items to ship.
type LoadedRow = (
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<NaiveDate>,
);

/// Items of the orders with these receipts: receipt → [(order id, items)].
fn load(conn: &mut DbConn, receipts: &[&str]) -> Result<HashMap<String, Vec<(i64, Item)>>, AppError> {
    let mut out: HashMap<String, Vec<(i64, Item)>> = HashMap::new();
    for chunk in receipts.chunks(CHUNK) {
        let rows: Vec<LoadedRow> = orders::table
            .left_join(fulfillments::table)
            .filter(crate::domain::orders_of_any_plugin())
            .filter(orders::receipt.eq_any(chunk))
            .select((
                orders::receipt,
                orders::id,
                fulfillments::id.nullable(),
                fulfillments::order_item_id.nullable(),
                fulfillments::status.nullable(),
                fulfillments::ship_date.nullable(),
            ))
            .load(conn)?;
        for (receipt, order, id, oi, status, ship_date) in rows {
            let entry = out.entry(receipt).or_default();
            if let (Some(id), Some(oi), Some(status)) = (id, oi, status) {
                let status = Status::parse(&status)?;
                entry.push((
                    order,
                    Item {
                        id,
                        order_item_id: oi,
                        status,
                        ship_date,
                    },
                ));
            } else {
                // An order without items to ship: known, with nothing to change.
                entry.push((
                    order,
                    Item {
                        id: 0,
                        order_item_id: 0,
                        status: Status::Cancelled,
                        ship_date: None,
                    },
                ));
            }
        }
    }
    Ok(out)
}

/// Checks every row; the changes when all are good, else every bad line.
fn check(
    kind: FileKind,
    rows: &[Row],
    known: &HashMap<String, Vec<(i64, Item)>>,
    today: NaiveDate,
) -> Result<Vec<Change>, Rejected> {
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    // Duplicate rows, and items reached by two rows.
    let mut seen_rows: HashMap<(&str, Option<i64>), u64> = HashMap::with_capacity(rows.len());
    let mut seen_items: HashMap<i64, u64> = HashMap::new();
    for row in rows {
        let err = |errors: &mut Vec<LineError>, m: String| {
            errors.push(LineError {
                line: row.line,
                message: m,
            })
        };
        if let Some(first) = seen_rows.insert((&row.receipt, row.item), row.line) {
            err(
                &mut errors,
                format!("duplicate row: order {} is already on line {first}", row.receipt),
            );
            continue;
        }
        let Some(entries) = known.get(&*row.receipt) else {
            err(
                &mut errors,
                format!(
                    "unknown order {}: no order has this ClickBank receipt",
                    row.receipt
                ),
            );
            continue;
        };
        let orders_of: std::collections::BTreeSet<i64> = entries.iter().map(|(o, _)| *o).collect();
        if orders_of.len() > 1 {
            err(
                &mut errors,
                format!(
                    "order {} is ambiguous: several plugins have this receipt",
                    row.receipt
                ),
            );
            continue;
        }
        let items: Vec<&Item> = entries.iter().map(|(_, i)| i).filter(|i| i.id != 0).collect();
        let to = row.status.unwrap_or(Status::Shipped);
        let targets: Vec<&Item> = match row.item {
            Some(id) => match items.iter().find(|i| i.id == id) {
                Some(i) => {
                    if !i.status.can_move_to(to) {
                        err(
                            &mut errors,
                            format!(
                                "item {id} of order {} is {}; {} is allowed only from {}",
                                row.receipt,
                                i.status,
                                to,
                                Status::sources_of(to).join(", ")
                            ),
                        );
                        continue;
                    }
                    vec![*i]
                }
                None => {
                    err(
                        &mut errors,
                        format!("clientFulfillmentId {id} is not an item of order {}", row.receipt),
                    );
                    continue;
                }
            },
            None => {
                if items.is_empty() {
                    err(&mut errors, format!("order {} has no items to ship", row.receipt));
                    continue;
                }
                // Every item of the order that can ship, but never one already SHIPPED: its
                // tracking changes only when the row names it by clientFulfillmentId.
                let movable: Vec<&Item> = items
                    .iter()
                    .copied()
                    .filter(|i| i.status.can_move_to(to))
                    .filter(|i| !(to == Status::Shipped && i.status == Status::Shipped))
                    .collect();
                if movable.is_empty() {
                    let now: Vec<String> = items.iter().map(|i| format!("{} {}", i.id, i.status)).collect();
                    err(
                        &mut errors,
                        format!(
                            "no item of order {} may become {} (items: {}; allowed only from {})",
                            row.receipt,
                            to,
                            now.join(", "),
                            Status::sources_of(to).join(", ")
                        ),
                    );
                    continue;
                }
                movable
            }
        };
        let mut dup = false;
        for i in &targets {
            if let Some(first) = seen_items.insert(i.id, row.line) {
                err(
                    &mut errors,
                    format!("duplicate row: item {} is already changed by line {first}", i.id),
                );
                dup = true;
                break;
            }
        }
        if dup {
            continue;
        }
        for i in targets {
            let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
            changes.push(match kind {
                FileKind::Tracking => Change {
                    id: i.id,
                    order_item_id: i.order_item_id,
                    from: i.status,
                    to,
                    tracking: Some(row.tracking.to_string()),
                    carrier: opt(&row.carrier),
                    method: opt(&row.method),
                    ship_date: Some(i.ship_date.unwrap_or(today)),
                    rma: None,
                },
                FileKind::Returns => Change {
                    id: i.id,
                    order_item_id: i.order_item_id,
                    from: i.status,
                    to,
                    tracking: None,
                    carrier: None,
                    method: None,
                    ship_date: i.ship_date,
                    rma: opt(&row.rma),
                },
            });
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(Rejected { errors })
    }
}

/// The turn of one upload being parsed and checked (see the import page's handler): a file's
/// rows take many times its size (about 530 MiB at the peak for a 16 MB file of a million
/// lines; docs/security.md), so at most one file's worth is held at a time.
pub async fn one_file_at_a_time() -> tokio::sync::SemaphorePermit<'static> {
    static TURN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    // The semaphore is never closed, so acquiring cannot fail; wait again if it ever did.
    loop {
        if let Ok(permit) = TURN.acquire().await {
            return permit;
        }
        tokio::task::yield_now().await;
    }
}

/// Checks and applies a CSV file: `Ok(Ok(report))` when applied, `Ok(Err(rejected))` when
/// any line is bad (nothing applied).
pub fn import(
    conn: &mut DbConn,
    actor: &Actor,
    bytes: &[u8],
) -> Result<Result<ImportReport, Rejected>, AppError> {
    match parse_file(bytes) {
        Ok(file) => apply(conn, actor, file),
        Err(r) => Ok(Err(r)),
    }
}

/// Checks a parsed file against the database and applies it, all or nothing.
pub fn apply(
    conn: &mut DbConn,
    actor: &Actor,
    file: ParsedFile,
) -> Result<Result<ImportReport, Rejected>, AppError> {
    let ParsedFile {
        kind,
        rows,
        skipped,
        mut errors,
    } = file;
    if rows.is_empty() && errors.is_empty() {
        return Ok(Err(Rejected {
            errors: vec![LineError {
                line: 2,
                message: "the file has no rows to apply (a tracking row needs a tracking number)".into(),
            }],
        }));
    }
    let today = crate::domain::now().date();
    conn.transaction(|conn| {
        let mut receipts: Vec<&str> = rows.iter().map(|r| &*r.receipt).collect();
        receipts.sort_unstable();
        receipts.dedup();
        let known = load(conn, &receipts)?;
        // Lines that could not be read and lines that fail the checks: all of them, in order.
        let changes = match check(kind, &rows, &known, today) {
            Ok(c) if errors.is_empty() => c,
            Ok(_) => return Ok(Err(Rejected { errors })),
            Err(r) => {
                errors.extend(r.errors);
                errors.sort_by_key(|e| e.line);
                return Ok(Err(Rejected { errors }));
            }
        };
        // Items an export is sending right now are left alone: the house may be taking them.
        let ids: Vec<i64> = changes.iter().map(|c| c.id).collect();
        let mut sending = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            sending.extend(super::batch::sending_ids(conn, chunk)?);
        }
        if !sending.is_empty() {
            sending.sort_unstable();
            return Err(AppError::Conflict(format!(
                "Nothing was changed: item(s) {} are being sent to their house right now. Upload the file \
                 again in a minute.",
                sending.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            )));
        }
        let now = crate::domain::now();
        let mut cancelled_items = Vec::new();
        for c in &changes {
            let target = fulfillments::table
                .filter(fulfillments::id.eq(c.id))
                .filter(fulfillments::status.eq(c.from.as_str()));
            let n = match kind {
                FileKind::Tracking => diesel::update(target)
                    .set((
                        fulfillments::status.eq(c.to.as_str()),
                        fulfillments::tracking_number.eq(&c.tracking),
                        fulfillments::carrier.eq(&c.carrier),
                        fulfillments::method.eq(&c.method),
                        fulfillments::ship_date.eq(c.ship_date),
                        fulfillments::updated_at.eq(now),
                    ))
                    .execute(conn)?,
                FileKind::Returns => {
                    if c.rma.is_some() {
                        diesel::update(fulfillments::table.filter(fulfillments::id.eq(c.id)))
                            .set(fulfillments::rma_number.eq(&c.rma))
                            .execute(conn)?;
                    }
                    diesel::update(target)
                        .set((
                            fulfillments::status.eq(c.to.as_str()),
                            fulfillments::updated_at.eq(now),
                        ))
                        .execute(conn)?
                }
            };
            if n != 1 {
                return Err(AppError::Conflict(format!(
                    "item {} changed while the file was applied; nothing was changed. Upload it again.",
                    c.id
                )));
            }
            if c.to == Status::Cancelled {
                cancelled_items.push(c.order_item_id);
            }
        }
        // Running subscriptions of cancelled items: ClickBank is asked to cancel them once this
        // transaction has committed (the caller does, with `customer_actions::request_cancel`);
        // the purchase turns CANCELLED when ClickBank's CANCEL-REBILL arrives, never here, so
        // ClickBank and the CRM never disagree.
        let mut to_cancel: Vec<(i64, String)> = Vec::new();
        for chunk in cancelled_items.chunks(CHUNK) {
            let found: Vec<(i64, String)> = purchases::table
                .inner_join(orders::table.on(orders::id.eq(purchases::order_id)))
                .filter(purchases::order_item_id.eq_any(chunk))
                .filter(purchases::status.eq_any(PurchaseStatus::RUNNING))
                .select((purchases::id, orders::receipt))
                .order(purchases::id.asc())
                .load(conn)?;
            to_cancel.extend(found);
        }
        let report = ImportReport {
            kind,
            rows: rows.len(),
            items: changes.len(),
            skipped,
            to_cancel,
        };
        audit::record(
            conn,
            actor,
            "fulfillment.csv_import",
            "fulfillments",
            serde_json::json!({"kind": kind.label(), "rows": report.rows, "items": report.items,
                               "skipped": skipped,
                               "cancel_requested_for": report.to_cancel.iter().map(|p| p.0).collect::<Vec<_>>()}),
        )?;
        Ok(Ok(report))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn one_file_is_checked_at_a_time() {
        let first = one_file_at_a_time().await;
        let waited = tokio::time::timeout(std::time::Duration::from_millis(100), one_file_at_a_time()).await;
        assert!(waited.is_err(), "a second upload waits for the first");
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_secs(5), one_file_at_a_time()).await;
        assert!(second.is_ok(), "and goes once the first is done");
    }

    #[test]
    fn bom_crlf_quotes_and_spaces_are_read() {
        let file = "\u{feff}orderId , clientFulfillmentId,trackingNumber,carrier,method\r\n \"AB12\" ,, \"1Z 9\" ,UPS , \"Ground, 2 day\"\r\n";
        let (kind, rows, skipped, errors) = parse(file.as_bytes()).unwrap();
        assert!(errors.is_empty());
        assert_eq!(kind, FileKind::Tracking);
        assert_eq!(skipped, 0);
        assert_eq!(&*rows[0].receipt, "AB12");
        assert_eq!(rows[0].item, None);
        assert_eq!(&*rows[0].tracking, "1Z 9");
        assert_eq!(&*rows[0].method, "Ground, 2 day");
    }

    #[test]
    fn a_file_without_header_is_refused_on_line_one() {
        let r = parse(b"AB12,,1Z,UPS,Ground\n").unwrap_err();
        assert_eq!(r.errors[0].line, 1);
    }

    #[test]
    fn returns_take_only_returned_or_cancelled() {
        let (_, rows, _, errors) = parse(b"orderId,status\nAB12,RETURNED\nCD34,SHIPPED\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
    }
}
