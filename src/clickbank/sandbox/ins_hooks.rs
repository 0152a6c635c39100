//! INS hooks of a running sandbox: events as notifications, new live events, and
//! encrypted or raw POSTs to a notify URL.

use chrono::{DateTime, Utc};

use super::runner::SandboxHandle;
use super::state::State;
use super::{delivery, render};
use crate::clickbank::ins::{parse_notification, InsEncoder, InsError, Notification};
use crate::clickbank::types::TransactionType;

/// Errors of the sandbox's test hooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The POST failed before an HTTP answer.
    #[error("could not post to {url}: {detail}")]
    Post {
        /// Target.
        url: String,
        /// Transport error.
        detail: String,
    },
    /// No such event.
    #[error("no sandbox event {0}")]
    UnknownEvent(u64),
}

/// An event of the sandbox as an INS notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxEvent {
    /// Sandbox event id.
    pub id: u64,
    /// Type.
    pub transaction_type: TransactionType,
    /// Receipt (`None` for abandoned orders).
    pub receipt: Option<String>,
    /// When.
    pub transaction_time: DateTime<Utc>,
    /// Decrypted INS JSON (attemptCount 1).
    pub plaintext: String,
}

impl SandboxEvent {
    /// Parse the plaintext as the portal would.
    pub fn notification(&self) -> Result<Notification, InsError> {
        parse_notification(self.plaintext.as_bytes())
    }

    /// Encrypt with a secret key into an INS envelope body.
    pub fn encrypt(&self, secret_key: &str) -> String {
        InsEncoder::new(secret_key).encrypt(self.plaintext.as_bytes())
    }
}

impl SandboxHandle {
    fn sandbox_event(st: &State, id: u64) -> Option<SandboxEvent> {
        let e = st.events.get(id as usize)?;
        Some(SandboxEvent {
            id,
            transaction_type: e.tx_type.clone(),
            receipt: e.receipt.clone(),
            transaction_time: e.time,
            plaintext: render::ins_notification(st, e, 1),
        })
    }

    /// One event as an INS notification.
    pub fn event(&self, id: u64) -> Option<SandboxEvent> {
        Self::sandbox_event(&self.shared.lock(), id)
    }

    /// The INS notification of a dataset transaction (the first of that receipt and type),
    /// so the same sale can arrive by INS and through the orders list.
    pub fn ins_for(&self, receipt: &str, transaction_type: &TransactionType) -> Option<SandboxEvent> {
        let st = self.shared.lock();
        let id = st
            .events
            .iter()
            .find(|e| {
                &e.tx_type == transaction_type
                    && e.receipt
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(receipt))
            })?
            .id;
        Self::sandbox_event(&st, id)
    }

    /// Create a new live event of any type (SALE, BILL, RFND, CGBK, INSF, CANCEL-REBILL,
    /// UNCANCEL-REBILL, SUBSCRIPTION-CHG, ABANDONED_ORDER, TEST, TEST_SALE, ...) without
    /// delivering it. Money events also appear in the orders list.
    pub fn create_event(&self, transaction_type: &TransactionType) -> SandboxEvent {
        let mut st = self.shared.lock();
        let id = st.create_event(transaction_type);
        Self::sandbox_event(&st, id).unwrap_or_else(|| SandboxEvent {
            id,
            transaction_type: transaction_type.clone(),
            receipt: None,
            transaction_time: st.now(),
            plaintext: String::new(),
        })
    }

    /// Create a live event and queue its delivery to the notify URL.
    pub fn emit(&self, transaction_type: &TransactionType) -> SandboxEvent {
        let ev = self.create_event(transaction_type);
        self.shared.lock().queue_delivery(ev.id);
        self.shared.wake.notify_one();
        ev
    }

    /// Encrypt a plaintext with the sandbox secret key (an INS envelope body).
    pub fn encrypt(&self, plaintext: &str) -> String {
        self.shared.encoder.encrypt(plaintext.as_bytes())
    }

    /// Encrypt and POST an event to `url` now; returns the HTTP status. Recorded in
    /// [`deliveries`](Self::deliveries); failures are retried like ClickBank does.
    pub async fn post_event(&self, url: &str, event: &SandboxEvent) -> Result<u16, SandboxError> {
        if self.shared.lock().events.len() as u64 <= event.id {
            return Err(SandboxError::UnknownEvent(event.id));
        }
        delivery::deliver(&self.shared, url, event.id, 1)
            .await
            .map_err(|detail| SandboxError::Post {
                url: url.to_string(),
                detail,
            })
    }

    /// POST any body (JSON content type) to `url`; returns the HTTP status.
    pub async fn post_raw(&self, url: &str, body: impl Into<Vec<u8>>) -> Result<u16, SandboxError> {
        delivery::post_body(&self.shared, url, body.into(), "application/json")
            .await
            .map_err(|detail| SandboxError::Post {
                url: url.to_string(),
                detail,
            })
    }
}
