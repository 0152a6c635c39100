//! Customer Service: finding orders and carts (`search`), the customer's page and its
//! orders (`customers`), the staff actions on an order (`actions`: refunds, cancellations,
//! pause and resume, next-bill-date changes), the ClickBank tickets they open (`requests`) and
//! the words of ClickBank's reason codes (`reason_labels`).

pub mod actions;
pub mod customers;
pub mod reason_labels;
pub mod requests;
pub mod search;
pub mod shipping_address;
pub mod timeline;
