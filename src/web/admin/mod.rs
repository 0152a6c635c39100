//! Account executive pages.

pub mod audit;
pub mod users;
