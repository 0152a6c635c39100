//! Rows as they are stored.

mod audit;
mod user;

pub use audit::{AuditEntry, NewAuditEntry};
pub use user::{NewUser, User};
