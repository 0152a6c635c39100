//! INS delivery and the background scheduler (ticket completion, retries, live stream).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;

use super::render;
use super::server::Shared;
use super::state::{DeliveryRecord, Job, Pending};

/// POST an already built body; returns the HTTP status.
pub(crate) async fn post_body(
    shared: &Shared,
    url: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<u16, String> {
    shared
        .http
        .post(url)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail.push_str(": ");
                detail.push_str(&s.to_string());
                source = s.source();
            }
            detail
        })
}

/// Encrypt and POST event `event` to `url` (attempt `attempt`), record the outcome and,
/// on failure, schedule a retry while attempts remain.
pub(crate) async fn deliver(shared: &Shared, url: &str, event: u64, attempt: u32) -> Result<u16, String> {
    let (plain, tx, receipt) = {
        let st = shared.lock();
        let e = st
            .events
            .get(event as usize)
            .ok_or_else(|| format!("unknown sandbox event {event}"))?;
        (
            render::ins_notification(&st, e, attempt),
            e.tx_type.as_str().to_string(),
            e.receipt.clone(),
        )
    };
    let body = shared.encoder.encrypt(plain.as_bytes());
    let result = post_body(shared, url, body.into_bytes(), "application/json").await;
    let record = DeliveryRecord {
        url: url.to_string(),
        event_id: event,
        transaction_type: tx,
        receipt,
        attempt,
        status: result.as_ref().ok().copied(),
        error: result.as_ref().err().cloned(),
    };
    let delivered = record.delivered();
    {
        let mut st = shared.lock();
        st.deliveries.push(record);
        if !delivered && attempt < st.settings.ins_max_attempts {
            let due = Instant::now() + st.settings.ins_retry_delay;
            st.pending.push(Pending {
                due,
                job: Job::Deliver {
                    url: url.to_string(),
                    event,
                    attempt: attempt + 1,
                },
            });
        }
    }
    shared.wake.notify_one();
    result
}

/// Runs until aborted: completes due tickets, delivers queued INS and, with
/// `events_per_second > 0`, creates live events.
pub(crate) async fn scheduler(shared: Arc<Shared>) {
    let mut next_live = Instant::now();
    loop {
        let now = Instant::now();
        let (due, wait, rate) = {
            let mut st = shared.lock();
            let mut due = Vec::new();
            let mut i = 0;
            while i < st.pending.len() {
                if st.pending[i].due <= now {
                    due.push(st.pending.swap_remove(i).job);
                } else {
                    i += 1;
                }
            }
            let wait = st
                .pending
                .iter()
                .map(|p| p.due.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_millis(500));
            (due, wait, st.settings.events_per_second)
        };
        for job in due {
            match job {
                Job::CompleteTicket(id) => {
                    // Completion queues the INS delivery itself.
                    shared.lock().complete_ticket(id);
                    shared.wake.notify_one();
                }
                Job::Deliver { event, .. } if shared.lock().drop_if_down(event) => {
                    // ClickBank sends nothing while INS is down, retries included.
                }
                Job::Deliver { url, event, attempt } => {
                    let s = shared.clone();
                    tokio::spawn(async move {
                        if let Err(e) = deliver(&s, &url, event, attempt).await {
                            tracing::debug!(error = %e, url, "sandbox INS delivery failed");
                        }
                    });
                }
            }
        }
        let mut wait = wait.min(Duration::from_millis(500));
        if rate > 0.0 {
            let interval = Duration::from_secs_f64((1.0 / rate).clamp(0.000_1, 3_600.0));
            let now = Instant::now();
            if now >= next_live {
                {
                    let mut st = shared.lock();
                    let id = st.random_event();
                    st.queue_delivery(id);
                }
                next_live = (next_live + interval).max(now.checked_sub(interval * 4).unwrap_or(now));
                wait = Duration::ZERO;
            } else {
                wait = wait.min(next_live - now);
            }
        }
        if wait.is_zero() {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
