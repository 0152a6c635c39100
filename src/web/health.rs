use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::AppState;

/// `200 {"status":"ok","database":"sqlite"|"postgres"}`, or 503 when the database does not answer.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let backend = db.backend.name();
    let ok = web::block(move || db.ping()).await;
    match ok {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ok", "database": backend})),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": backend, "error": e.to_string()})),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": backend, "error": "health check failed"})),
    }
}
