//! What arrives from ClickBank: Instant Notifications kept in the inbox until applied, and the
//! background imports of orders and products. Both hand events to [`orders`](super::orders).

pub mod imports;
pub mod inbox;
