//! Orders page parsing: 100-record quirky `orders2/list` pages from the sandbox generator
//! into typed records, against a plain `serde_json::Value` parse of the same bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use merchant_crm::clickbank::sandbox::{Sandbox, SandboxConfig};
use merchant_crm::clickbank::types::parse_orders;

fn rate(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let mut done = 0usize;
    let started = Instant::now();
    while started.elapsed() < budget {
        done += f();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let config = SandboxConfig {
        orders: 4_000,
        anchor: Some(Utc.with_ymd_and_hms(2025, 6, 15, 19, 0, 0).unwrap()),
        ..SandboxConfig::default()
    };
    let pages = Sandbox::dataset_order_pages(&config);
    // Full pages only, so every page holds 100 records.
    let pages: Vec<&[u8]> = pages
        .iter()
        .map(String::as_bytes)
        .filter(|p| parse_orders(p).map(|r| r.len() == 100).unwrap_or(false))
        .collect();
    let records = pages.len() * 100;
    let avg_page = pages.iter().map(|p| p.len()).sum::<usize>() / pages.len().max(1);

    let budget = Duration::from_secs(3);
    let typed = rate(budget, || {
        let mut n = 0;
        for p in &pages {
            n += black_box(parse_orders(black_box(p)).expect("parses")).len();
        }
        n
    });
    let baseline = rate(budget, || {
        for p in &pages {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(p)).expect("json"));
        }
        records
    });
    println!(
        "orders_parse: {:.0} orders/s (typed, quirk-tolerant) vs {:.0}/s serde_json::Value (baseline) ratio {:.2} [{} pages of 100, avg {} KiB/page]",
        typed,
        baseline,
        typed / baseline,
        pages.len(),
        avg_page / 1024
    );

    // The import benchmark's sandbox: how long 100,000 orders take to generate and serve.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let sb = Sandbox::start(SandboxConfig {
            orders: 100_000,
            days: 365,
            ..config.clone()
        })
        .expect("sandbox starts");
        let startup = started.elapsed();
        let transactions = sb.transactions().len();
        println!(
            "orders_parse: sandbox with 100000 orders ({transactions} listed transactions) ready in {} ms",
            startup.as_millis()
        );
        sb.stop().await;
    });
}
