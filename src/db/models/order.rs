//! The statuses of orders and of their purchases (subscriptions), as stored, and as staff see
//! and filter on them (where a shown state is derived: PARTIALLY_REFUNDED, PAUSED).

use crate::db::text::text_enum;

text_enum! {
    /// An order's stored status: COMPLETE until a refund or chargeback takes all of it back.
    pub enum OrderStatus {
        Complete = "COMPLETE",
        Refunded = "REFUNDED",
    }
}

text_enum! {
    /// What an order shows and staff filter on.
    pub enum OrderShown {
        Complete = "COMPLETE",
        /// COMPLETE with part of its money refunded.
        PartiallyRefunded = "PARTIALLY_REFUNDED",
        Refunded = "REFUNDED",
    }
}

impl OrderStatus {
    /// The one rule of the shown state.
    pub fn shown(self, refunded_minor: i64) -> OrderShown {
        match self {
            OrderStatus::Complete if refunded_minor > 0 => OrderShown::PartiallyRefunded,
            OrderStatus::Complete => OrderShown::Complete,
            OrderStatus::Refunded => OrderShown::Refunded,
        }
    }
}

text_enum! {
    /// A purchase's stored status. ClickBank's CANCEL-REBILL (or a full refund) cancels it,
    /// UNCANCEL-REBILL or a reinstatement makes it ACTIVE again.
    pub enum PurchaseStatus {
        Active = "ACTIVE",
        Trial = "TRIAL",
        Cancelled = "CANCELLED",
    }
}

impl PurchaseStatus {
    /// Still billing (or about to).
    pub const RUNNING: [PurchaseStatus; 2] = [PurchaseStatus::Active, PurchaseStatus::Trial];

    pub fn is_running(self) -> bool {
        Self::RUNNING.contains(&self)
    }

    /// The one rule of the shown state: `paused` is an ACTIVE purchase whose billing restarts
    /// later.
    pub fn shown(self, paused: bool) -> PurchaseShown {
        match self {
            PurchaseStatus::Active if paused => PurchaseShown::Paused,
            PurchaseStatus::Active => PurchaseShown::Active,
            PurchaseStatus::Trial => PurchaseShown::Trial,
            PurchaseStatus::Cancelled => PurchaseShown::Cancelled,
        }
    }
}

text_enum! {
    /// What a purchase shows and staff filter on.
    pub enum PurchaseShown {
        Active = "ACTIVE",
        Trial = "TRIAL",
        Paused = "PAUSED",
        Cancelled = "CANCELLED",
    }
}
