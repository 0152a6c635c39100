//! One ClickBank rate limiter per account: every client the jobs and actions build for one
//! plugin (the import's, each look-up's) takes its turns from the same limiter, so together
//! they keep to the account's rate and ClickBank never answers them with its rate-limit 403.

use std::net::SocketAddr;
use std::sync::Arc;

use merchant_crm::clickbank::{Sandbox, SandboxConfig};
use merchant_crm::db::models::TaskState;
use merchant_crm::domain::sync::imports::{self, ImportContext};
use merchant_crm::domain::{plugins, Actor};

use crate::helpers::TestApp;
use crate::support::clickbank::import_ctx;

/// The jobs' rate of the account: two clients with limiters of their own would send twice as
/// much, over what the sandbox allows.
const RATE: u32 = 5;
const SANDBOX_LIMIT: u32 = 8;

#[actix_web::test]
async fn an_import_and_look_ups_of_one_account_share_its_limiter_and_get_no_403() {
    let sb = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        orders: 300,
        days: 20,
        page_size: 50,
        ..Default::default()
    })
    .unwrap();
    let app = TestApp::builder()
        .env("CLICKBANK_API_BASE", &sb.base_url())
        .env("MERCHANT_CRM_NO_JOBS", "1")
        .build()
        .await;
    let base = import_ctx(&app, &sb);
    let c = ImportContext {
        job: merchant_crm::domain::context::JobContext {
            requests_per_second: RATE,
            ..base.job.clone()
        },
        ..base
    };
    let secrets = c.job.secrets.clone();
    let input = plugins::PluginInput::basic("ClickBank", sb.site(), sb.api_key(), sb.secret_key()).unwrap();
    let (pid, task) = app
        .db
        .run(move |conn| {
            let pid = plugins::create(conn, &Actor::cli(), &secrets, &input, false)?.id;
            Ok((
                pid,
                imports::start_initial(conn, &Actor::cli(), pid, 10, None)?.id,
            ))
        })
        .await
        .unwrap();

    // Every client built for the plugin takes its turns from one limiter.
    let plugin = app.db.read(move |conn| plugins::find(conn, pid)).await.unwrap();
    let bulk = c.job.bulk_client(&plugin).unwrap();
    let shared = c.job.limiter(pid).unwrap();
    assert!(Arc::ptr_eq(bulk.limiter().unwrap(), &shared));
    assert!(Arc::ptr_eq(&c.job.limiter(pid).unwrap(), &shared));
    assert_eq!(shared.rate(), RATE);

    // An import and look-ups (a client per look-up, as the job makes them) at once, against a
    // ClickBank that refuses more than SANDBOX_LIMIT requests a second.
    sb.set_rate_limit(Some(SANDBOX_LIMIT));
    let receipts: Vec<String> = sb
        .transactions()
        .into_iter()
        .filter(|t| t.items.len() == 1)
        .filter_map(|t| t.receipt)
        .take(15)
        .collect();
    let import = async {
        loop {
            if !imports::run_task(&c, task, "runner", 1_000).await.unwrap().more {
                break;
            }
        }
    };
    let look_ups = async {
        let mut sent = 0;
        for r in &receipts {
            let api = c.job.clickbank(pid).await.unwrap();
            api.order(r, None).await.unwrap();
            sent += api.requests_sent();
        }
        sent
    };
    let before = sb.request_count();
    let ((), looked_up) = tokio::join!(import, look_ups);
    let sent = sb.request_count() - before;
    sb.set_rate_limit(None);

    let t = app.db.read(move |conn| imports::find(conn, task)).await.unwrap();
    assert_eq!(t.state, TaskState::Done, "{:?}", t.last_error);
    assert_eq!(
        looked_up,
        receipts.len() as u64,
        "one request per look-up, none retried"
    );
    assert!(
        sent > u64::from(SANDBOX_LIMIT) * 2,
        "{sent} requests span some seconds"
    );
    assert_eq!(sb.rate_limited_count(), 0, "{sent} requests, none refused");
}
