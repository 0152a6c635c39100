//! JSON output of the sandbox: ClickBank's quirky REST shapes and INS notifications,
//! one module per resource.

mod ins;
mod json;
mod orders;
mod products;
mod tickets;

pub(crate) use ins::ins_notification;
pub(crate) use orders::rest_orders;
pub(crate) use products::{rest_one_product, rest_products};
pub(crate) use tickets::{rest_refund_amounts, rest_tickets};
