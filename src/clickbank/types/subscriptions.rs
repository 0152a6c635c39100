//! Subscriptions: the state of a recurring line item, its rebill frequency and the
//! answer of `HEAD /orders2/{receipt}`.

use serde::Serialize;

use crate::clickbank::quirks::string_enum;

string_enum! {
    /// State of a (recurring) line item.
    pub enum LineItemStatus {
        Active = "ACTIVE",
        AuthorizationFailure = "AUTHORIZATION_FAILURE",
        Canceled = "CANCELED" | "CANCELLED",
        Completed = "COMPLETED",
        ValidationFailure = "VALIDATION_FAILURE",
    }
}

string_enum! {
    /// Rebill frequency of a recurring product.
    pub enum Frequency {
        Weekly = "WEEKLY",
        BiWeekly = "BI_WEEKLY",
        Monthly = "MONTHLY",
        Quarterly = "QUARTERLY",
        HalfYearly = "HALF_YEARLY",
        Yearly = "YEARLY",
    }
}

/// Subscription status from `HEAD /orders2/{receipt}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SubscriptionStatus {
    /// 204: an active subscription.
    Active,
    /// 403: not active (canceled, completed, not recurring, or not visible to the key).
    NotActive,
}
