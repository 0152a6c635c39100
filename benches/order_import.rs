//! Initial import of sandbox orders on SQLite, end to end (fetch, parse, apply, commit per
//! page), beside a baseline in the same run that fetches and parses the same pages without
//! writing. The sandbox runs as its own process (`merchant-crm sandbox`) so the peak RSS printed
//! is the importer's alone.
//!
//! `cargo bench --bench order_import` (IMPORT_BENCH_ORDERS=100000 by default; IMPORT_BENCH_OLDER: percent
//! of subscription sales made before the listed days, 50; IMPORT_BENCH_SANDBOX_DAYS: the sandbox's days,
//! 180; IMPORT_BENCH_DAYS: the days imported, two more than the sandbox's).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use merchant_crm::clickbank::{ClickBankApi, ClickBankClient, ClientConfig, OrdersQuery};
use merchant_crm::config::{Config, Overrides};
use merchant_crm::db::Database;
use merchant_crm::domain::context::JobContext;
use merchant_crm::domain::sync::imports::{self, clickbank_today, ImportContext};
use merchant_crm::domain::{plugins, Actor};

const API_KEY: &str = "API-BENCH-0001";
const SITE: &str = "BENCHSHOP";
const DAYS: i64 = 180;
/// The default share of older subscription sales (see `IMPORT_BENCH_OLDER`).
const OLDER_SUBSCRIPTIONS: u32 = 50;

struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let orders: usize = std::env::var("IMPORT_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Percent of subscription sales made before the listed days: their rebills, refunds and
    // cancellations in the window land on orders built from them (issue 15 asks for about
    // 30% of the window's records to belong to such older sales).
    let older: u32 = std::env::var("IMPORT_BENCH_OLDER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(OLDER_SUBSCRIPTIONS);
    // The sandbox's listed days and the days imported (the demo: 120 and 90).
    let env_days = |name: &str, default: i64| -> i64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let sandbox_days = env_days("IMPORT_BENCH_SANDBOX_DAYS", DAYS);
    let days = env_days("IMPORT_BENCH_DAYS", sandbox_days + 2);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _sandbox = Sandbox(
        Command::new(env!("CARGO_BIN_EXE_merchant-crm"))
            .args([
                "sandbox",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--orders",
                &orders.to_string(),
            ])
            .args([
                "--days",
                &sandbox_days.to_string(),
                "--site",
                SITE,
                "--api-key",
                API_KEY,
            ])
            .args(["--older-subscriptions", &older.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the sandbox"),
    );
    let base = format!("http://127.0.0.1:{port}/rest/1.3");
    actix_web::rt::System::new().block_on(async move {
        let mut cfg = ClientConfig::new(API_KEY).with_base_url(&base);
        cfg.requests_per_second = 0;
        let api = ClickBankClient::new(cfg).expect("client");
        let q = merchant_crm::clickbank::ProductsQuery::site(SITE);
        let mut ready = false;
        for _ in 0..600 {
            if api.products_page(&q, 1).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "sandbox did not come up");

        // Baseline: the same day windows and pages, fetched and parsed, nothing written.
        let end = clickbank_today();
        let start = end - chrono::Duration::days(days - 1);
        let t = Instant::now();
        let mut records = 0usize;
        let mut day = start;
        while day <= end {
            let q = OrdersQuery::between(day, day);
            let mut page = 1;
            loop {
                let p = api.orders_page(&q, page).await.expect("page");
                records += p.records.len();
                if !p.more {
                    break;
                }
                page += 1;
            }
            day += chrono::Duration::days(1);
        }
        let base_secs = t.elapsed().as_secs_f64();
        let base_rate = records as f64 / base_secs;

        // The import, through the same code the scheduler runs.
        let dir = tempfile::tempdir().expect("tmp");
        let overrides = Overrides {
            bind: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            database_url: Some(dir.path().join("bench.sqlite3").to_string_lossy().into_owned()),
            config_file: None,
        };
        let config = Config::from_sources(&Default::default(), &overrides).expect("config");
        let db = Database::connect(&config.database_url, config.pool_size).expect("db");
        db.migrate().expect("migrate");
        let secrets = merchant_crm::secrets::SecretBox::new(&config.master_key).expect("key");
        let input = plugins::PluginInput::basic("ClickBank", SITE, API_KEY, "").unwrap();
        let s2 = secrets.clone();
        let pid = db.run(move |c| Ok(plugins::create(c, &Actor::cli(), &s2, &input, false)?.id)).await.unwrap();
        let id = db.run(move |c| Ok(imports::start_initial(c, &Actor::cli(), pid, days as i32, None)?.id)).await.unwrap();
        let job = JobContext { requests_per_second: 0, ..JobContext::new(db.clone(), secrets, base.clone()) };
        let ctx = ImportContext { job, continuous_interval_minutes: 15 };
        let t = Instant::now();
        loop {
            let r = imports::run_task(&ctx, id, "bench", 1000).await.expect("run");
            if !r.more {
                break;
            }
        }
        // Timed until everything imported is in the database file, not only in SQLite's
        // write-ahead log: what the log still holds is checkpointed inside the timing.
        db.run(|c| {
            use diesel::connection::SimpleConnection;
            Ok(c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?)
        })
        .await
        .expect("checkpoint");
        let secs = t.elapsed().as_secs_f64();
        let task = db.read(move |c| imports::find(c, id)).await.unwrap();
        assert_eq!(task.state.as_str(), "done", "{:?}", task.last_error);
        let handled = (task.imported + task.skipped + task.awaiting_sale) as usize;
        assert_eq!(handled, records, "every listed record was handled once");
        let rate = handled as f64 / secs;
        // The look-ups the import queued: one ClickBank request per SKU of each order built
        // from a later event.
        let (lookups, requests): (i64, i64) = db
            .read(|c| {
                use diesel::prelude::*;
                use merchant_crm::db::schema::sale_lookups;
                let skus: Vec<String> = sale_lookups::table.select(sale_lookups::skus).load(c)?;
                let requests = skus.iter().map(|s| s.split('+').count() as i64).sum();
                Ok((skus.len() as i64, requests))
            })
            .await
            .unwrap();
        println!(
            "order_import (SQLite, {orders} sandbox orders = {records} listed records over {days} days): \
             {rate:.0} records/s end to end = {:.0} orders/s ({secs:.1} s; {} applied, {} skipped) vs {base_rate:.0}/s fetch+parse only \
             (baseline, {base_secs:.1} s); ratio {:.2}; peak RSS {:.0} MiB",
            orders as f64 / secs,
            task.imported,
            task.skipped,
            rate / base_rate,
            peak_rss_mib()
        );
        println!(
            "  of older sales: {} records ({:.0}% of the window's) on {lookups} orders built from them; \
             their look-ups cost {requests} ClickBank requests, {:.0} min at 10 requests/s",
            task.awaiting_sale,
            100.0 * task.awaiting_sale as f64 / handled as f64,
            requests as f64 / 10.0 / 60.0
        );
    });
}
