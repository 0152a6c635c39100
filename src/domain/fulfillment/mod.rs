//! Fulfillment: the parcels of shippable line items, from HOLD to the door and back.
//!
//! One place for each rule:
//! - statuses and the moves allowed between them: [`Status`] and [`Status::can_move_to`];
//! - the normalized shipping address that decides bundling: [`address_key`];
//! - the signature of an export sent to an HTTP house: [`sign`].
//!
//! Submodules: `houses` (the houses and their settings), `list` (filters, keyset pages, the
//! CSV export of a list), `batch` (batch updates), `export` (the export job), `csv_import`
//! (tracking and returns files), `updates` (updates posted by houses, ship notices).

pub mod address;
pub mod batch;
pub mod bundle_window;
pub mod csv_import;
pub mod export;
pub mod houses;
pub mod list;
pub mod new_items;
pub mod rejected_lines;
pub mod updates;

pub use new_items::{cancel_unsent, rebill_item, start_status, NewItem};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::AppError;

crate::db::text::text_enum! {
    /// Where a shipment (the parcel an export run sends to a house) is. `sending` is set
    /// before anything goes out; a run that stops there leaves it for the next run to mark
    /// `interrupted` (the house may have it); `failed` once is retried, `superseded` when a
    /// human moved its items meanwhile.
    pub enum ShipmentStatus {
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        Interrupted = "interrupted",
        Superseded = "superseded",
    }
}

/// A fulfillment item's status, in the merchants' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Its shipping address lacks a street, a city or a postal code: it waits for one and
    /// never goes to a house (see `address`).
    NeedsAddress,
    Hold,
    Pending,
    PendingShipment,
    Shipped,
    Delivered,
    Cancelled,
    RmaPending,
    Returned,
    Failed,
    Recycled,
}

use Status::*;

impl Status {
    pub const ALL: [Status; 11] = [
        NeedsAddress,
        Hold,
        Pending,
        PendingShipment,
        Shipped,
        Delivered,
        Cancelled,
        RmaPending,
        Returned,
        Failed,
        Recycled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            NeedsAddress => "NEEDS_ADDRESS",
            Hold => "HOLD",
            Pending => "PENDING",
            PendingShipment => "PENDING_SHIPMENT",
            Shipped => "SHIPPED",
            Delivered => "DELIVERED",
            Cancelled => "CANCELLED",
            RmaPending => "RMA_PENDING",
            Returned => "RETURNED",
            Failed => "FAILED",
            Recycled => "RECYCLED",
        }
    }

    pub fn parse(s: &str) -> Result<Status, AppError> {
        let t = s.trim().to_ascii_uppercase().replace([' ', '-'], "_");
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == t)
            .ok_or_else(|| {
                AppError::Validation(format!(
                    "unknown fulfillment status {s:?}; use one of {}",
                    Status::ALL.map(|s| s.as_str()).join(", ")
                ))
            })
    }

    /// The item was handed to a house (or shipped outside): a new export of it is a reship.
    pub fn was_sent(self) -> bool {
        matches!(
            self,
            Pending | PendingShipment | Shipped | Delivered | RmaPending | Returned
        )
    }

    /// The one transition table. Staying in the same status is allowed (it updates details
    /// such as tracking); everything else must be listed here.
    pub fn can_move_to(self, to: Status) -> bool {
        if self == to {
            return true;
        }
        match self {
            // Only a complete address puts it on hold (`address::readdress`); staff may
            // cancel it or record that it shipped outside.
            NeedsAddress => matches!(to, Shipped | Cancelled),
            // Exported (PENDING), shipped outside, or never shipped.
            Hold => matches!(to, Pending | PendingShipment | Shipped | Cancelled),
            // At the house: it ships, fails, or is pulled back / cancelled before it ships.
            Pending => matches!(
                to,
                PendingShipment | Shipped | Delivered | Cancelled | Failed | Hold
            ),
            PendingShipment => matches!(to, Shipped | Delivered | Cancelled | Failed | Hold),
            // On its way or delivered: returns, or back to HOLD for a deliberate reship.
            Shipped => matches!(to, Delivered | RmaPending | Returned | Hold),
            Delivered => matches!(to, RmaPending | Returned | Hold),
            RmaPending => matches!(to, Returned | Delivered | Hold),
            Returned => matches!(to, Hold),
            // A cancelled item can be put back on hold (a mistake undone).
            Cancelled => matches!(to, Hold),
            // A failed export: one automatic retry (RECYCLED), else a human decides.
            Failed => matches!(to, Recycled | Hold | Cancelled | Shipped),
            Recycled => matches!(to, Pending | Failed | Hold | Cancelled | Shipped),
        }
    }

    /// Statuses staff may move items to: those some other status may move to (never
    /// NEEDS_ADDRESS, which only an incomplete address sets).
    pub fn settable() -> Vec<&'static str> {
        Status::ALL
            .into_iter()
            .filter(|to| Status::ALL.iter().any(|from| from != to && from.can_move_to(*to)))
            .map(Status::as_str)
            .collect()
    }

    /// Statuses from which `to` may be reached (for queries and messages).
    pub fn sources_of(to: Status) -> Vec<&'static str> {
        Status::ALL
            .into_iter()
            .filter(|s| s.can_move_to(to))
            .map(Status::as_str)
            .collect()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cell for a CSV file the portal writes: text a spreadsheet would run as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so a name
/// or address from ClickBank can never become a formula on a merchant's machine.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Writes one CSV record with every cell passed through [`csv_cell`]: the one way the
/// portal writes CSV that people open (the list export). Drop files for a house's system are
/// written as they are.
pub fn write_csv_record<W: std::io::Write, const N: usize>(
    w: &mut csv::Writer<W>,
    cells: [&str; N],
) -> Result<(), csv::Error> {
    w.write_record(cells.map(csv_cell).iter().map(|c| c.as_bytes()))
}

/// What a full refund or chargeback cancels: items not (yet) at a house. Items an export is
/// sending (PENDING_SHIPMENT, or RECYCLED for a retry) are left to the export, which cancels
/// them if the house refused them and flags them on the run if the house took them.
pub const CANCEL_ON_REFUND: &[&str] = &[NeedsAddress.as_str(), Hold.as_str(), Failed.as_str()];

/// The shipping address of an item, as it was when the order arrived.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShipTo {
    pub name: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

impl ShipTo {
    /// The name on the parcel: the shipping name's parts, each falling back to the buyer's
    /// where ClickBank gave none.
    pub fn name_of(shipping: (&str, &str), buyer: (&str, &str)) -> String {
        fn pick<'a>(ship: &'a str, buy: &'a str) -> &'a str {
            if ship.is_empty() {
                buy
            } else {
                ship
            }
        }
        format!("{} {}", pick(shipping.0, buyer.0), pick(shipping.1, buyer.1))
            .trim()
            .to_string()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }

    /// One line for pages and CSV files.
    pub fn one_line(&self) -> String {
        [
            &self.address1,
            &self.address2,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ]
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim())
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// The normalized address: two items ship together only when these are equal. Case,
/// punctuation, repeated spaces, common street-word spellings and postal-code spacing do
/// not matter; the recipient's name does not either (same customer is checked apart).
pub fn address_key(a: &ShipTo) -> String {
    fn words(s: &str) -> String {
        let cleaned: String = s
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        cleaned
            .split_whitespace()
            .map(|w| match w {
                "street" => "st",
                "avenue" => "ave",
                "road" => "rd",
                "boulevard" => "blvd",
                "drive" => "dr",
                "lane" => "ln",
                "court" => "ct",
                "place" => "pl",
                // "Apt. 4", "Suite 4" and "#4" are all "4".
                "apartment" | "apt" | "unit" | "suite" | "ste" | "no" | "number" => "",
                "north" => "n",
                "south" => "s",
                "east" => "e",
                "west" => "w",
                other => other,
            })
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
    let postal: String = a
        .postal_code
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_uppercase();
    format!(
        "{}|{}|{}|{}|{}|{}",
        words(&a.address1),
        words(&a.address2),
        words(&a.city),
        words(&a.state),
        postal,
        a.country.trim().to_uppercase()
    )
}

/// The HMAC-SHA256 of `body` under `secret`, hex: the value of the `X-Signature` header
/// (`sha256=<hex>`) on every export POSTed to an HTTP house.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The signature header name.
pub const SIGNATURE_HEADER: &str = "X-Signature";
/// The API key header name.
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// Most items one page of the list shows.
pub const PAGE_SIZE: i64 = 50;
/// Largest CSV file accepted.
pub const MAX_CSV_BYTES: usize = 20 * 1024 * 1024;
/// Largest bundle window a campaign may set.
pub const MAX_BUNDLE_WINDOW_HOURS: i32 = 96;

#[cfg(test)]
mod csv_cell_tests {
    use super::{csv_cell, write_csv_record};

    #[test]
    fn formula_like_cells_are_neutralized_and_others_kept() {
        for bad in [
            "=1+1",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert_eq!(csv_cell(bad), format!("'{bad}"), "{bad:?}");
        }
        for ok in ["", "Pat Buyer", "12 Main St", "1Z999", "a=b", "x-y", "'quoted"] {
            assert_eq!(csv_cell(ok), ok);
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        write_csv_record(&mut w, ["=cmd|' /C calc'!A0", "ok", "-1"]).unwrap();
        let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(out, "'=cmd|' /C calc'!A0,ok,'-1\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_one_table() {
        assert!(Hold.can_move_to(Pending));
        assert!(Hold.can_move_to(Shipped));
        assert!(!Hold.can_move_to(Returned));
        assert!(!Cancelled.can_move_to(Shipped));
        assert!(Shipped.can_move_to(Returned));
        assert!(!Shipped.can_move_to(Cancelled));
        assert!(Failed.can_move_to(Recycled));
        assert!(Returned.can_move_to(Hold));
        assert_eq!(Status::parse(" pending shipment ").unwrap(), PendingShipment);
        assert!(Status::parse("LOST").is_err());
    }

    #[test]
    fn addresses_that_differ_only_in_spelling_bundle() {
        let a = ShipTo {
            address1: "12 Main Street, Apt. 4".into(),
            city: "Springfield".into(),
            postal_code: "sw1a 1aa".into(),
            country: "gb".into(),
            ..Default::default()
        };
        let b = ShipTo {
            address1: "12  MAIN st #4".into(),
            city: "springfield ".into(),
            postal_code: "SW1A1AA".into(),
            country: "GB".into(),
            ..Default::default()
        };
        assert_eq!(address_key(&a), address_key(&b));
        let c = ShipTo {
            address1: "14 Main Street".into(),
            ..b.clone()
        };
        assert_ne!(address_key(&b), address_key(&c));
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
