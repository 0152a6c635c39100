//! Parameters of ClickBank calls (queries, tickets, subscription changes).

use chrono::NaiveDate;

use super::error::ClickBankError;
use super::money::Amount;
use super::types::{RefundType, Role, TicketType, TransactionType};

/// Filters of `orders2/list` and `orders2/count`. Dates are ClickBank (Pacific) days,
/// inclusive; give both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdersQuery {
    /// First day (`startDate`).
    pub start_date: Option<NaiveDate>,
    /// Last day (`endDate`), inclusive.
    pub end_date: Option<NaiveDate>,
    /// Transaction type (`type`).
    pub transaction_type: Option<TransactionType>,
    /// Vendor nickname.
    pub vendor: Option<String>,
    /// Affiliate nickname, or `none`.
    pub affiliate: Option<String>,
    /// Email (`%` wildcards).
    pub email: Option<String>,
    /// Last name (`%` wildcards).
    pub last_name: Option<String>,
    /// Postal code (`%` wildcards).
    pub postal_code: Option<String>,
    /// SKU (`item`).
    pub item: Option<String>,
    /// Tracking id (`tid`).
    pub tid: Option<String>,
    /// VENDOR or AFFILIATE.
    pub role: Option<Role>,
    /// Exact order amount.
    pub amount: Option<Amount>,
}

impl OrdersQuery {
    /// Orders of the days `start..=end`.
    pub fn between(start: NaiveDate, end: NaiveDate) -> Self {
        OrdersQuery {
            start_date: Some(start),
            end_date: Some(end),
            ..Default::default()
        }
    }

    /// Query parameters in ClickBank's names.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, ClickBankError> {
        if self.start_date.is_some() != self.end_date.is_some() {
            return Err(ClickBankError::InvalidRequest {
                detail: "startDate and endDate must be given together".into(),
            });
        }
        let mut p = Vec::new();
        let mut push = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                p.push((k, v));
            }
        };
        push(
            "startDate",
            self.start_date.map(|d| d.format("%Y-%m-%d").to_string()),
        );
        push("endDate", self.end_date.map(|d| d.format("%Y-%m-%d").to_string()));
        push(
            "type",
            self.transaction_type.as_ref().map(|t| t.as_str().to_string()),
        );
        push("vendor", self.vendor.clone());
        push("affiliate", self.affiliate.clone());
        push("email", self.email.clone());
        push("lastName", self.last_name.clone());
        push("postalCode", self.postal_code.clone());
        push("item", self.item.clone());
        push("tid", self.tid.clone());
        push("role", self.role.as_ref().map(|r| r.as_str().to_string()));
        push("amount", self.amount.as_ref().map(|a| a.as_str().to_string()));
        Ok(p)
    }
}

/// Product type filter of `products/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductKind {
    /// One-off products.
    Standard,
    /// Subscriptions.
    Recurring,
}

/// Filters of `products/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductsQuery {
    /// Site nickname (required).
    pub site: String,
    /// STANDARD or RECURRING.
    pub kind: Option<ProductKind>,
}

impl ProductsQuery {
    /// All products of a site.
    pub fn site(site: impl Into<String>) -> Self {
        ProductsQuery {
            site: site.into(),
            kind: None,
        }
    }

    /// Query parameters.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("site", self.site.clone())];
        match self.kind {
            Some(ProductKind::Standard) => p.push(("type", "STANDARD".into())),
            Some(ProductKind::Recurring) => p.push(("type", "RECURRING".into())),
            None => {}
        }
        p
    }
}

/// How much a refund pays back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundKind {
    /// Everything.
    Full,
    /// A percentage, 1..=80.
    PartialPercent(u8),
    /// An amount in the customer's currency.
    PartialAmount(Amount),
}

impl RefundKind {
    /// The wire `refundType`.
    pub fn refund_type(&self) -> RefundType {
        match self {
            RefundKind::Full => RefundType::Full,
            RefundKind::PartialPercent(_) => RefundType::PartialPercent,
            RefundKind::PartialAmount(_) => RefundType::PartialAmount,
        }
    }

    /// `refundType` and, for partial refunds, `refundAmount`.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, ClickBankError> {
        let mut p = vec![("refundType", self.refund_type().as_str().to_string())];
        match self {
            RefundKind::Full => {}
            RefundKind::PartialPercent(pct) => {
                if !(1..=80).contains(pct) {
                    return Err(ClickBankError::InvalidRequest {
                        detail: format!("a partial refund percentage must be 1 to 80, not {pct}"),
                    });
                }
                p.push(("refundAmount", pct.to_string()));
            }
            RefundKind::PartialAmount(a) => {
                let zero = !a.as_str().bytes().any(|b| (b'1'..=b'9').contains(&b));
                if a.is_negative() || zero {
                    return Err(ClickBankError::InvalidRequest {
                        detail: format!("a partial refund amount must be positive, not {a}"),
                    });
                }
                p.push(("refundAmount", a.as_str().to_string()));
            }
        }
        Ok(p)
    }
}

/// Ticket reasons ClickBank accepts.
pub mod reasons {
    /// Refund: duplicate purchase.
    pub const REFUND_DUPLICATE_PURCHASE: &str = "ticket.type.refund.7";
    /// Refund: other.
    pub const REFUND_OTHER: &str = "ticket.type.refund.8";
    /// Refund: product returned.
    pub const REFUND_RETURNED: &str = "ticket.type.refund.returned";
    /// Cancel: first reason code.
    pub const CANCEL_DEFAULT: &str = "ticket.type.cancel.1";

    /// Refund reason codes, in the order staff see them (the usual one first).
    pub const REFUND_CODES: &[&str] = &[
        REFUND_OTHER,
        REFUND_DUPLICATE_PURCHASE,
        REFUND_RETURNED,
        "ticket.type.refund.1",
        "ticket.type.refund.2",
        "ticket.type.refund.3",
        "ticket.type.refund.4",
        "ticket.type.refund.5",
        "ticket.type.refund.6",
    ];

    /// Cancellation reason codes, in the order staff see them.
    pub const CANCEL_CODES: &[&str] = &[
        CANCEL_DEFAULT,
        "ticket.type.cancel.2",
        "ticket.type.cancel.3",
        "ticket.type.cancel.4",
        "ticket.type.cancel.5",
        "ticket.type.cancel.6",
        "ticket.type.cancel.7",
    ];

    /// The wording our ClickBank reference gives a code: only refund `.7` (duplicate
    /// purchase), `.8` (other) and `returned`. The other codes' wording is not documented:
    /// never invent it.
    pub fn documented(code: &str) -> Option<&'static str> {
        match code {
            REFUND_DUPLICATE_PURCHASE => Some("Duplicate purchase"),
            REFUND_OTHER => Some("Other"),
            REFUND_RETURNED => Some("Returned"),
            _ => None,
        }
    }

    /// What follows the code's prefix: "7", "returned".
    pub fn suffix(code: &str) -> &str {
        code.rsplit('.').next().unwrap_or(code)
    }

    /// The label of a code nobody has named: as documented, else "ClickBank reason N".
    pub fn default_label(code: &str) -> String {
        documented(code).map_or_else(|| format!("ClickBank reason {}", suffix(code)), str::to_string)
    }

    /// True when `reason` is a valid code for a ticket of `ticket_type` (`rfnd`/`cncl`/`tech`).
    pub fn is_valid(ticket_type: &str, reason: &str) -> bool {
        let numbered = |prefix: &str, max: u32| {
            reason
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| (1..=max).contains(&n))
        };
        match ticket_type {
            "rfnd" => numbered("ticket.type.refund.", 8) || reason == REFUND_RETURNED,
            "cncl" => numbered("ticket.type.cancel.", 7),
            "tech" => !reason.trim().is_empty(),
            _ => false,
        }
    }
}

/// What kind of ticket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketKind {
    /// Refund (on a subscription it also stops future billing).
    Refund(RefundKind),
    /// Stop future billing of a subscription.
    Cancel,
    /// Technical support.
    TechSupport,
}

/// A ticket to open with `POST /tickets/{receipt}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRequest {
    /// Kind.
    pub kind: TicketKind,
    /// Reason code, e.g. [`reasons::REFUND_OTHER`].
    pub reason: String,
    /// SKU of a multi-item order.
    pub sku: Option<String>,
    /// Free comment.
    pub comment: Option<String>,
    /// Keep the subscription running after a refund.
    pub retain_subscription: Option<bool>,
}

impl TicketRequest {
    /// A refund ticket.
    pub fn refund(kind: RefundKind, reason: impl Into<String>) -> Self {
        TicketRequest {
            kind: TicketKind::Refund(kind),
            reason: reason.into(),
            sku: None,
            comment: None,
            retain_subscription: None,
        }
    }

    /// A cancellation ticket.
    pub fn cancel(reason: impl Into<String>) -> Self {
        TicketRequest {
            kind: TicketKind::Cancel,
            reason: reason.into(),
            sku: None,
            comment: None,
            retain_subscription: None,
        }
    }

    /// Set the SKU.
    pub fn with_sku(mut self, sku: impl Into<String>) -> Self {
        self.sku = Some(sku.into());
        self
    }

    /// Set the comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// The wire `type`: `rfnd`, `cncl` or `tech`.
    pub fn wire_type(&self) -> &'static str {
        match self.kind {
            TicketKind::Refund(_) => "rfnd",
            TicketKind::Cancel => "cncl",
            TicketKind::TechSupport => "tech",
        }
    }

    /// The ticket type ClickBank reports back.
    pub fn ticket_type(&self) -> TicketType {
        match self.kind {
            TicketKind::Refund(_) => TicketType::Refund,
            TicketKind::Cancel => TicketType::Cancel,
            TicketKind::TechSupport => TicketType::TechSupport,
        }
    }

    /// Query parameters, validated.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, ClickBankError> {
        if !reasons::is_valid(self.wire_type(), &self.reason) {
            return Err(ClickBankError::InvalidRequest {
                detail: format!(
                    "`{}` is not a valid reason for a {} ticket",
                    self.reason,
                    self.wire_type()
                ),
            });
        }
        let mut p = vec![
            ("type", self.wire_type().to_string()),
            ("reason", self.reason.clone()),
        ];
        if let TicketKind::Refund(kind) = &self.kind {
            p.extend(kind.to_pairs()?);
        }
        if let Some(s) = &self.sku {
            p.push(("sku", s.clone()));
        }
        if let Some(c) = &self.comment {
            p.push(("comment", c.clone()));
        }
        if let Some(r) = self.retain_subscription {
            p.push(("retainSubscription", r.to_string()));
        }
        Ok(p)
    }
}

/// New address for `changeAddress`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressChange {
    /// Street (required).
    pub address1: String,
    /// City (required).
    pub city: String,
    /// ISO country code (required).
    pub country_code: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Address line 2.
    pub address2: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Province / state.
    pub province: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
}

impl AddressChange {
    /// Query parameters, validated.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, ClickBankError> {
        for (name, v) in [
            ("address1", &self.address1),
            ("city", &self.city),
            ("countryCode", &self.country_code),
        ] {
            if v.trim().is_empty() {
                return Err(ClickBankError::InvalidRequest {
                    detail: format!("{name} is required to change an address"),
                });
            }
        }
        let mut p = vec![
            ("address1", self.address1.clone()),
            ("city", self.city.clone()),
            ("countryCode", self.country_code.clone()),
        ];
        for (k, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
            ("address2", &self.address2),
            ("county", &self.county),
            ("province", &self.province),
            ("postalCode", &self.postal_code),
        ] {
            if let Some(v) = v {
                p.push((k, v.clone()));
            }
        }
        Ok(p)
    }
}

/// Product swap for `changeProduct`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductChange {
    /// SKU bought.
    pub old_sku: String,
    /// SKU to switch to.
    pub new_sku: String,
    /// Keep the affiliate.
    pub carry_affiliate: bool,
    /// Refund the unused part of the period.
    pub apply_prorated_refund: bool,
    /// Next rebill date of the new product.
    pub next_rebill_date: Option<NaiveDate>,
}

impl ProductChange {
    /// Query parameters.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("oldSku", self.old_sku.clone()),
            ("newSku", self.new_sku.clone()),
            ("carryAffiliate", self.carry_affiliate.to_string()),
            ("applyProratedRefund", self.apply_prorated_refund.to_string()),
        ];
        if let Some(d) = self.next_rebill_date {
            p.push(("nextRebillDate", d.format("%Y-%m-%d").to_string()));
        }
        p
    }
}

/// A shipping notice for a physical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipNotice {
    /// Ship date.
    pub date: NaiveDate,
    /// Carrier name.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
    /// SKU, for a multi-item order.
    pub sku: Option<String>,
}

impl ShipNotice {
    /// Query parameters.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("date", self.date.format("%Y-%m-%d").to_string()),
            ("carrier", self.carrier.clone()),
            ("tracking", self.tracking.clone()),
        ];
        if let Some(s) = &self.sku {
            p.push(("item", s.clone()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_requests_validate() {
        let r = TicketRequest::refund(RefundKind::Full, reasons::REFUND_OTHER).with_sku("1");
        let p = r.to_pairs().unwrap();
        assert!(p.contains(&("type", "rfnd".into())));
        assert!(p.contains(&("refundType", "FULL".into())));
        assert!(
            TicketRequest::refund(RefundKind::PartialPercent(90), reasons::REFUND_OTHER)
                .to_pairs()
                .is_err()
        );
        assert!(TicketRequest::refund(RefundKind::Full, "ticket.type.cancel.1")
            .to_pairs()
            .is_err());
        assert!(TicketRequest::cancel("ticket.type.cancel.7").to_pairs().is_ok());
        assert!(TicketRequest::cancel("ticket.type.cancel.8").to_pairs().is_err());
    }

    #[test]
    fn orders_query_needs_both_dates() {
        let mut q = OrdersQuery {
            start_date: NaiveDate::from_ymd_opt(2024, 1, 1),
            ..Default::default()
        };
        assert!(q.to_pairs().is_err());
        q.end_date = q.start_date;
        q.affiliate = Some("none".into());
        let p = q.to_pairs().unwrap();
        assert_eq!(p[0], ("startDate", "2024-01-01".into()));
        assert!(p.contains(&("affiliate", "none".into())));
    }
}
