//! What the stories share: the app on port 0 (`app`, also reachable as `crate::helpers`), ClickBank
//! (`clickbank`), a real browser (`browser`), data builders (`builders`), fulfillment fixtures
//! (`fulfillment`) and assertions on the `id`/`data-*` attributes the templates emit (`html`).

pub mod app;
pub mod browser;
pub mod builders;
pub mod clickbank;
pub mod fulfillment;
pub mod html;
