//! The fulfillment export job: each real house is exported every
//! `MERCHANT_CRM_EXPORT_INTERVAL_MINUTES` (hourly by default), or at once after "Export now".
//! The work and its lease live in `domain::fulfillment::export`.

use crate::domain::fulfillment::export::{self, ExportContext};

/// Runs every house that is due; logs what each run did.
pub async fn run_due(ctx: &ExportContext, runner: &str) {
    for r in export::run_due(ctx, runner).await {
        match r {
            Ok(s) if s.shipments > 0 || s.failures > 0 => tracing::info!(
                house = s.house_id,
                run = s.run_id,
                items = s.items,
                shipments = s.shipments,
                failures = s.failures,
                outcome = %s.outcome,
                "fulfillment export"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "fulfillment export failed"),
        }
    }
}
