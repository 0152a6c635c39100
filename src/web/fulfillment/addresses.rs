//! Customer → Fulfillment: a CSV file of shipping addresses (all or nothing, like the
//! tracking files), and the customers that wait for an address as such a file to fill in.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use super::items::{read_upload, ImportResultPage};
use crate::domain::customer_service::shipping_address::{from_csv, waiting};
use crate::domain::fulfillment::csv_import;
use crate::error::AppError;
use crate::web::extract::Staff;
use crate::web::{redirect, render_status};
use crate::AppState;

/// The file of addresses (multipart; the CSRF token travels in the form's query string, as
/// for the tracking upload; at most `MAX_CSV_BYTES`).
pub async fn upload(state: web::Data<AppState>, s: Staff, mp: Multipart) -> Result<HttpResponse, AppError> {
    let (file_name, data) = read_upload(mp).await?;
    let actor = s.actor();
    // One upload of any kind is parsed and checked at a time (see the tracking upload).
    let turn = csv_import::one_file_at_a_time().await;
    let parsed = web::block(move || from_csv::parse_file(&data))
        .await
        .map_err(|e| AppError::Internal(format!("parsing an upload: {e}")))?;
    let outcome = match parsed {
        Ok(file) => state.db.run(move |c| from_csv::apply(c, &actor, file)).await?,
        Err(rejected) => Err(rejected),
    };
    drop(turn);
    match outcome {
        Ok(report) => {
            s.flash("ok", from_csv::report_text(&report));
            Ok(redirect("/fulfillment#addresses"))
        }
        Err(rejected) => render_status(
            &ImportResultPage::new(s.0.ctx, &state.config.data_dir, rejected.errors, file_name),
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// The customers whose items wait for an address, in the upload's columns.
pub async fn waiting_csv(state: web::Data<AppState>, _s: Staff) -> Result<HttpResponse, AppError> {
    // With a byte-order mark, so a spreadsheet reads names like Siobhán as UTF-8 (the upload
    // accepts one too).
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend(state.db.read(waiting::waiting_csv).await?);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"addresses-waiting.csv\"",
        ))
        .body(body))
}
