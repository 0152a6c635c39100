//! Customer Service: finding orders and carts (`search`), the customer's page and its
//! orders (`customers`), the staff actions on an order (`actions`: refunds, cancellations,
//! pause and resume, next-bill-date changes) and the ClickBank tickets they open (`requests`).

pub mod actions;
pub mod customers;
pub mod requests;
pub mod search;
pub mod shipping_address;
pub mod timeline;
