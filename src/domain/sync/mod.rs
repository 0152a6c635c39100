//! What arrives from ClickBank: Instant Notifications kept in the inbox until applied, and the
//! background imports of orders and products. Both hand events to [`orders`](super::orders).
//! The look-ups of sales not seen yet read the originals of orders later events built, and
//! reconciliation proves day by day that the CRM matches ClickBank.

pub mod imports;
pub mod inbox;
pub mod reconcile;
pub mod sale_lookups;
