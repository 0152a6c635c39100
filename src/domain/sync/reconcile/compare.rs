//! One day of ClickBank's orders list beside the CRM's money transactions of that day: the
//! count and sum per type and currency on each side, and every record only one side has.
//! Pure: the job reads both sides, this says what differs.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// One money record of either side: ClickBank's list record or the CRM's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Upper case, as event keys have it.
    pub receipt: String,
    /// ClickBank's transaction type (SALE, BILL, RFND, ...).
    pub kind: String,
    pub currency: String,
    /// Without sign: ClickBank writes refunds negative, the CRM per its own rule.
    pub amount_minor: i64,
    /// UTC, whole seconds.
    pub time: NaiveDateTime,
}

/// Count and sum of one type and currency on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub kind: String,
    pub currency: String,
    pub clickbank_count: i64,
    pub clickbank_minor: i64,
    pub crm_count: i64,
    pub crm_minor: i64,
}

impl Line {
    pub fn count_differs(&self) -> bool {
        self.clickbank_count != self.crm_count
    }

    pub fn sum_differs(&self) -> bool {
        self.clickbank_minor != self.crm_minor
    }

    pub fn differs(&self) -> bool {
        self.count_differs() || self.sum_differs()
    }
}

/// A record one side has and the other lacks, or has with another amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub receipt: String,
    pub kind: String,
    pub currency: String,
    /// UTC, `%Y-%m-%d %H:%M:%S`.
    pub time: String,
    pub clickbank_minor: Option<i64>,
    pub crm_minor: Option<i64>,
    /// Why a missing record is missing, when the CRM knows (a failed import record).
    #[serde(default)]
    pub note: Option<String>,
    /// The import task that kept it as a failed record.
    #[serde(default)]
    pub failed_in_task: Option<i64>,
}

/// Most receipts a day keeps per list; the counts stay exact beyond it.
pub const MAX_LISTED: usize = 500;

/// What one day's comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub lines: Vec<Line>,
    /// In ClickBank, not in the CRM.
    pub missing: Vec<Diff>,
    /// In the CRM, not in ClickBank's list (listed, never deleted).
    pub extra: Vec<Diff>,
    /// On both sides with different amounts or currencies.
    pub amounts: Vec<Diff>,
    pub missing_total: i64,
    pub extra_total: i64,
    pub amounts_total: i64,
}

impl Details {
    pub fn matches(&self) -> bool {
        self.missing_total == 0
            && self.extra_total == 0
            && self.amounts_total == 0
            && !self.lines.iter().any(Line::differs)
    }

    pub fn clickbank_count(&self) -> i64 {
        self.lines.iter().map(|l| l.clickbank_count).sum()
    }

    pub fn crm_count(&self) -> i64 {
        self.lines.iter().map(|l| l.crm_count).sum()
    }

    /// More receipts differ than the lists keep.
    pub fn truncated(&self) -> bool {
        self.missing.len() as i64 != self.missing_total
            || self.extra.len() as i64 != self.extra_total
            || self.amounts.len() as i64 != self.amounts_total
    }
}

fn diff(e: &Entry, clickbank: Option<i64>, crm: Option<i64>) -> Diff {
    Diff {
        receipt: e.receipt.clone(),
        kind: e.kind.clone(),
        currency: e.currency.clone(),
        time: e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
        clickbank_minor: clickbank,
        crm_minor: crm,
        note: None,
        failed_in_task: None,
    }
}

fn push(list: &mut Vec<Diff>, total: &mut i64, d: Diff) {
    *total += 1;
    if list.len() < MAX_LISTED {
        list.push(d);
    }
}

/// Compares one day. A record is the same on both sides when receipt, type and time (to the
/// second: ClickBank's list and its notifications carry the same time) agree; what is left
/// is paired by receipt and type alone (one record read with another time), and what is left
/// then is missing or extra.
pub fn compare(clickbank: Vec<Entry>, crm: Vec<Entry>) -> Details {
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
    for e in &clickbank {
        let l = line(&mut lines, e);
        l.clickbank_count += 1;
        l.clickbank_minor += e.amount_minor;
    }
    for e in &crm {
        let l = line(&mut lines, e);
        l.crm_count += 1;
        l.crm_minor += e.amount_minor;
    }
    let mut out = Details {
        lines: lines.into_values().collect(),
        ..Details::default()
    };
    type Key = (String, String, Option<NaiveDateTime>);
    let exact = |e: &Entry| -> Key { (e.receipt.clone(), e.kind.clone(), Some(e.time)) };
    let loose = |e: &Entry| -> Key { (e.receipt.clone(), e.kind.clone(), None) };
    let mut unpaired_cb = clickbank;
    let mut unpaired_crm = crm;
    for key in [exact as fn(&Entry) -> Key, loose] {
        let mut theirs: BTreeMap<Key, Vec<Entry>> = BTreeMap::new();
        for e in unpaired_crm.drain(..) {
            theirs.entry(key(&e)).or_default().push(e);
        }
        let mut left = Vec::new();
        for e in unpaired_cb.drain(..) {
            match theirs.get_mut(&key(&e)).and_then(Vec::pop) {
                Some(m) => {
                    if m.amount_minor != e.amount_minor || m.currency != e.currency {
                        let d = diff(&e, Some(e.amount_minor), Some(m.amount_minor));
                        push(&mut out.amounts, &mut out.amounts_total, d);
                    }
                }
                None => left.push(e),
            }
        }
        unpaired_cb = left;
        unpaired_crm = theirs.into_values().flatten().collect();
    }
    unpaired_cb.sort_by(|a, b| (a.time, &a.receipt).cmp(&(b.time, &b.receipt)));
    unpaired_crm.sort_by(|a, b| (a.time, &a.receipt).cmp(&(b.time, &b.receipt)));
    for e in &unpaired_cb {
        push(
            &mut out.missing,
            &mut out.missing_total,
            diff(e, Some(e.amount_minor), None),
        );
    }
    for e in &unpaired_crm {
        push(
            &mut out.extra,
            &mut out.extra_total,
            diff(e, None, Some(e.amount_minor)),
        );
    }
    out
}

fn line<'a>(lines: &'a mut BTreeMap<(String, String), Line>, e: &Entry) -> &'a mut Line {
    lines
        .entry((e.kind.clone(), e.currency.clone()))
        .or_insert_with(|| Line {
            kind: e.kind.clone(),
            currency: e.currency.clone(),
            ..Line::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn e(receipt: &str, kind: &str, amount: i64, time: &str) -> Entry {
        Entry {
            receipt: receipt.into(),
            kind: kind.into(),
            currency: "USD".into(),
            amount_minor: amount,
            time: at(time),
        }
    }

    #[test]
    fn equal_sides_match() {
        let a = vec![
            e("A1", "SALE", 1000, "2026-12-01 10:00:00"),
            e("B2", "RFND", 500, "2026-12-01 11:00:00"),
        ];
        let d = compare(a.clone(), a);
        assert!(d.matches(), "{d:?}");
        assert_eq!(d.clickbank_count(), 2);
        assert_eq!(d.lines.len(), 2);
    }

    #[test]
    fn missing_extra_and_amounts_are_named() {
        let cb = vec![
            e("A1", "SALE", 1000, "2026-12-01 10:00:00"),
            e("B2", "BILL", 2000, "2026-12-01 11:00:00"),
            e("C3", "SALE", 300, "2026-12-01 12:00:00"),
        ];
        let crm = vec![
            e("A1", "SALE", 1000, "2026-12-01 10:00:00"),
            e("C3", "SALE", 200, "2026-12-01 12:00:00"),
            e("Z9", "RFND", 700, "2026-12-01 13:00:00"),
        ];
        let d = compare(cb, crm);
        assert!(!d.matches());
        assert_eq!(
            d.missing.iter().map(|x| x.receipt.as_str()).collect::<Vec<_>>(),
            ["B2"]
        );
        assert_eq!(
            d.extra.iter().map(|x| x.receipt.as_str()).collect::<Vec<_>>(),
            ["Z9"]
        );
        assert_eq!(d.amounts.len(), 1);
        assert_eq!(d.amounts[0].crm_minor, Some(200));
        let sale = d.lines.iter().find(|l| l.kind == "SALE").unwrap();
        assert_eq!((sale.clickbank_count, sale.crm_count), (2, 2));
        assert!(sale.sum_differs() && !sale.count_differs());
    }

    #[test]
    fn one_record_read_with_another_time_is_the_same_record() {
        let cb = vec![e("A1", "BILL", 1000, "2026-12-01 10:00:00")];
        let crm = vec![e("A1", "BILL", 1000, "2026-12-01 10:00:07")];
        assert!(compare(cb, crm).matches());
    }

    #[test]
    fn two_bills_of_one_receipt_pair_by_time() {
        let cb = vec![
            e("A1", "BILL", 1000, "2026-12-01 01:00:00"),
            e("A1", "BILL", 1000, "2026-12-01 20:00:00"),
        ];
        let crm = vec![e("A1", "BILL", 1000, "2026-12-01 20:00:00")];
        let d = compare(cb, crm);
        assert_eq!(d.missing_total, 1);
        assert_eq!(d.missing[0].time, "2026-12-01 01:00:00");
    }

    #[test]
    fn lists_are_bounded_and_counts_exact() {
        let cb: Vec<Entry> = (0..MAX_LISTED + 7)
            .map(|i| e(&format!("R{i}"), "SALE", 1, "2026-12-01 10:00:00"))
            .collect();
        let d = compare(cb, Vec::new());
        assert_eq!(d.missing.len(), MAX_LISTED);
        assert_eq!(d.missing_total, (MAX_LISTED + 7) as i64);
        assert!(d.truncated());
    }
}
