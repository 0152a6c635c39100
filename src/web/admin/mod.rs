//! Account executive pages.

pub mod api_users;
pub mod audit;
pub mod imports;
pub mod locks;
pub mod notifications;
pub mod plugins;
pub mod reason_labels;
pub mod reconciliation;
pub mod users;

use actix_web::web;

/// Under `/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/users/{id}/role", web::post().to(users::set_role))
        .route("/users/{id}/disable", web::post().to(users::disable))
        .route("/users/{id}/enable", web::post().to(users::enable))
        .route("/users/{id}/password", web::post().to(users::reset_password))
        .route("/audit", web::get().to(audit::list))
        .route("/locks", web::get().to(locks::list))
        .route("/locks/clear", web::post().to(locks::clear))
        .route("/reason-labels", web::get().to(reason_labels::list))
        .route("/reason-labels", web::post().to(reason_labels::save))
        .route("/plugins", web::get().to(plugins::list))
        .route("/plugins", web::post().to(plugins::activate))
        .route("/plugins/{id}", web::get().to(plugins::show))
        .route("/plugins/{id}", web::post().to(plugins::update))
        .route("/plugins/{id}/deactivate", web::post().to(plugins::deactivate))
        .route("/plugins/{id}/activate", web::post().to(plugins::reactivate))
        .route(
            "/plugins/{id}/lookup-budget",
            web::post().to(plugins::set_lookup_budget),
        )
        .route(
            "/plugins/{id}/initial-import",
            web::post().to(imports::start_initial),
        )
        .route(
            "/plugins/{id}/import-products",
            web::post().to(plugins::import_products),
        )
        .route("/import-tasks", web::get().to(imports::list))
        .route("/import-tasks/{id}", web::get().to(imports::show))
        .route(
            "/import-tasks/{id}/progress.json",
            web::get().to(imports::progress),
        )
        .route("/import-tasks/{id}/{action}", web::post().to(imports::control))
        .route(
            "/import-tasks/{id}/failed/{which}",
            web::post().to(imports::reprocess_failed),
        )
        .route("/notifications", web::get().to(notifications::list))
        .route(
            "/notifications/reprocess-failed",
            web::post().to(notifications::reprocess_failed),
        )
        .route("/notifications/{id}", web::get().to(notifications::show))
        .route(
            "/notifications/{id}/reprocess",
            web::post().to(notifications::reprocess),
        )
        .route("/reconciliation", web::get().to(reconciliation::calendar))
        .route("/reconciliation/check", web::post().to(reconciliation::check))
        .route(
            "/reconciliation/{plugin}/{day}",
            web::get().to(reconciliation::day),
        )
        .route(
            "/reconciliation/{plugin}/{day}/reimport",
            web::post().to(reconciliation::reimport),
        )
        .route("/api-users", web::get().to(api_users::list))
        .route("/api-users", web::post().to(api_users::create))
        .route("/api-users/{id}", web::post().to(api_users::update))
        .route("/api-users/{id}/disable", web::post().to(api_users::disable))
        .route("/api-users/{id}/enable", web::post().to(api_users::enable));
}
