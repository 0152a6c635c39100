//! Reading a tracking or returns CSV file into rows, line by line, before anything is
//! compared with the database (so it runs off the SQLite writer turn).

use super::{FileKind, LineError, Rejected, RETURNS_HEADER, TRACKING_HEADER};
use crate::domain::fulfillment::Status;

/// One parsed row (tracking or returns). The texts are boxed (no spare capacity): a file of
/// a million rows keeps a million of these while it is checked.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) receipt: Box<str>,
    pub(super) item: Option<i64>,
    pub(super) tracking: Box<str>,
    pub(super) carrier: Box<str>,
    pub(super) method: Box<str>,
    pub(super) status: Option<Status>,
    pub(super) rma: Box<str>,
}

/// A header name as files are matched on: letters and digits only, lower case, so
/// `Postal Code`, `postal_code` and `postalCode` are one column.
pub fn header_key(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// Drops spaces and tabs between a delimiter (or line start) and an opening quote, and
/// between a closing quote and the next delimiter (or line end), so ` "Ground, 2 days" ` is
/// read as one quoted field; the CSV reader only knows quotes at the very start of a field.
fn tidy_quotes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !bytes.contains(&b'"') {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_quotes = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_quotes && (b == b' ' || b == b'\t') {
            let mut j = i;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            let prev = out.last().copied();
            let next = bytes.get(j).copied();
            let at_field_start = matches!(prev, None | Some(b',') | Some(b'\n') | Some(b'\r'));
            let after_closing_quote = prev == Some(b'"');
            let skip = (at_field_start && next == Some(b'"'))
                || (after_closing_quote && matches!(next, None | Some(b',') | Some(b'\n') | Some(b'\r')));
            if !skip {
                out.extend_from_slice(&bytes[i..j]);
            }
            i = j;
            continue;
        }
        if b == b'"' {
            in_quotes = !in_quotes;
        }
        out.push(b);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// An upload as the CSV reader takes it: without a UTF-8 BOM, spaces around quoted fields
/// dropped ([`tidy_quotes`]).
pub fn prepared(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    tidy_quotes(bytes)
}

/// The one way uploads are read: a header line, rows of any length, values trimmed.
pub fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes)
}

/// The line a record starts on, and a record that cannot be read as its bad line.
pub fn record_line(rec: &csv::StringRecord) -> u64 {
    rec.position().map(|p| p.line()).unwrap_or(0)
}

pub fn unreadable(e: &csv::Error) -> LineError {
    LineError {
        line: e.position().map(|p| p.line()).unwrap_or(0),
        message: format!("not readable as CSV: {e}"),
    }
}

/// A vector for the rows of `bytes`, sized once from its line count: growing a vector of a
/// million rows by doubling would hold the old and the new copy at once.
pub fn rows_for<T>(bytes: &[u8]) -> Vec<T> {
    Vec::with_capacity(bytes.iter().filter(|b| **b == b'\n').count())
}

/// Reads the file. Errors here are about its shape (header, CSV syntax).
pub(super) fn parse(bytes: &[u8]) -> Result<(FileKind, Vec<Row>, usize, Vec<LineError>), Rejected> {
    let bytes = prepared(bytes);
    let bytes: &[u8] = &bytes;
    let mut rdr = reader(bytes);
    let bad_header = || Rejected {
        errors: vec![LineError {
            line: 1,
            message: format!(
                "The first line must be a header: {TRACKING_HEADER} for a tracking file, or \
                 {RETURNS_HEADER} for a returns file."
            ),
        }],
    };
    let headers = match rdr.headers() {
        Ok(h) => h.iter().map(header_key).collect::<Vec<_>>(),
        Err(_) => return Err(bad_header()),
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let order_col = col("orderid").ok_or_else(bad_header)?;
    let kind = if col("trackingnumber").is_some() {
        FileKind::Tracking
    } else if col("status").is_some() {
        FileKind::Returns
    } else {
        return Err(bad_header());
    };
    if kind == FileKind::Tracking
        && ["clientfulfillmentid", "carrier", "method"]
            .iter()
            .any(|c| col(c).is_none())
    {
        return Err(bad_header());
    }
    let (item_col, tracking_col, carrier_col, method_col, status_col, rma_col) = (
        col("clientfulfillmentid"),
        col("trackingnumber"),
        col("carrier"),
        col("method"),
        col("status"),
        col("rmanumber"),
    );
    let mut rows = rows_for(bytes);
    let mut errors = Vec::new();
    let mut skipped = 0;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(unreadable(&e));
                continue;
            }
        };
        let line = record_line(&rec);
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        let get = |c: Option<usize>| Box::<str>::from(c.and_then(|i| rec.get(i)).unwrap_or(""));
        let receipt = get(Some(order_col));
        if receipt.is_empty() {
            errors.push(LineError {
                line,
                message: "orderId (the ClickBank receipt) is empty".into(),
            });
            continue;
        }
        let item_text = get(item_col);
        let item = if item_text.is_empty() {
            None
        } else {
            match item_text.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    errors.push(LineError {
                        line,
                        message: format!("clientFulfillmentId {item_text:?} is not a number"),
                    });
                    continue;
                }
            }
        };
        let mut row = Row {
            line,
            receipt,
            item,
            tracking: get(tracking_col),
            carrier: get(carrier_col),
            method: get(method_col),
            status: None,
            rma: get(rma_col),
        };
        match kind {
            FileKind::Tracking => {
                if row.tracking.is_empty() {
                    skipped += 1;
                    continue;
                }
                row.status = Some(Status::Shipped);
            }
            FileKind::Returns => {
                let s = get(status_col);
                match Status::parse(&s) {
                    Ok(st @ (Status::Returned | Status::Cancelled)) => row.status = Some(st),
                    _ => {
                        errors.push(LineError {
                            line,
                            message: format!("bad status {s:?}: a returns file takes RETURNED or CANCELLED"),
                        });
                        continue;
                    }
                }
            }
        }
        rows.push(row);
    }
    rows.shrink_to_fit();
    Ok((kind, rows, skipped, errors))
}

/// A file read line by line but not yet compared with the database. Parsing needs no
/// connection, so the upload is parsed before it takes the SQLite writer turn (an INS store
/// never waits behind a big file's parse).
pub struct ParsedFile {
    pub(super) kind: FileKind,
    pub(super) rows: Vec<Row>,
    pub(super) skipped: usize,
    /// Lines that could not be read (reported with the check's findings, all in order).
    pub(super) errors: Vec<LineError>,
}

/// Reads a CSV file: `Err` when it cannot be a tracking or returns file at all.
pub fn parse_file(bytes: &[u8]) -> Result<ParsedFile, Rejected> {
    let (kind, rows, skipped, errors) = parse(bytes)?;
    Ok(ParsedFile {
        kind,
        rows,
        skipped,
        errors,
    })
}
