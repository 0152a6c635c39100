//! Account executive pages.

pub mod api_users;
pub mod audit;
pub mod users;
