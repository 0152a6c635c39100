//! Who may come in and what they may do: staff accounts and their passwords, sign-in and its
//! throttle, server-side sessions, the API users ClickBank and houses call with, and the IP
//! allowlists in front of them.

pub mod api_guard;
pub mod api_users;
pub mod auth;
pub mod ip_allow;
pub mod password_gate;
pub mod passwords;
pub mod sessions;
pub mod throttle;
pub mod users;
