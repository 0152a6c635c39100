//! Command-line support: `merchant-crm sandbox` and `merchant-crm clickbank decrypt-ins`.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use super::sandbox::{Sandbox, SandboxConfig};

pub use super::ins::decrypt_ins_to_pretty_json;

/// Options of `merchant-crm sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: SocketAddr,
    /// Dataset seed (same seed and anchor date, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of orders to generate.
    #[arg(long, default_value_t = 1_000)]
    pub orders: usize,
    /// Days of history the orders spread over.
    #[arg(long, default_value_t = 180)]
    pub days: u32,
    /// Percent of subscription sales made before those days (up to 180 days earlier), so
    /// the listed days hold rebills, refunds and cancellations of older sales, as in a real
    /// account.
    #[arg(long, default_value_t = DEMO_OLDER_SUBSCRIPTIONS)]
    pub older_subscriptions: u32,
    /// Percent of one-off sales whose line items share a SKU (an ORIGINAL and a BUMP of one
    /// product, or a cart with it twice), as real accounts have.
    #[arg(long, default_value_t = DEMO_SAME_SKU_BUMPS)]
    pub same_sku_bumps: u32,
    /// Pin the dataset's "today" (yyyy-mm-dd, noon UTC); default: now.
    #[arg(long)]
    pub anchor_date: Option<NaiveDate>,
    /// Site (vendor) nickname.
    #[arg(long, default_value = "DEMOSHOP")]
    pub site: String,
    /// API key the sandbox accepts.
    #[arg(long, default_value = "API-SANDBOX-0000000000000000000000")]
    pub api_key: String,
    /// Developer key accepted in `DEV-..:API-..` (default: any dev key).
    #[arg(long)]
    pub dev_key: Option<String>,
    /// INS secret key (up to 16 characters A-Z, 0-9).
    #[arg(long, default_value = "SANDBOXSECRET001")]
    pub secret_key: String,
    /// Instant Notification URL to POST encrypted INS events to.
    #[arg(long)]
    pub notify_url: Option<String>,
    /// Live events generated per second (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub events_per_second: f64,
    /// Fraction (0..1) of API requests answered 503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub error_rate: f64,
    /// Requests per second allowed; above it requests get ClickBank's rate-limit 403 (0 = off).
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Delay added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Seconds before a refund/cancel ticket becomes an RFND / CANCEL-REBILL.
    #[arg(long, default_value_t = 30)]
    pub ticket_delay_secs: u64,
    /// Allow PARTIAL_AMOUNT / PARTIAL_PERCENT refunds.
    #[arg(long)]
    pub partial_refunds: bool,
    /// INS version to send (6, 7 or 8).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(6..=8))]
    pub ins_version: u8,
    /// An INS outage of this many seconds (0 = none): events still happen and are listed, but
    /// no Instant Notification of them is sent, as when ClickBank stops sending.
    #[arg(long, default_value_t = 0)]
    pub ins_outage_secs: u64,
    /// Seconds after the start at which the INS outage begins.
    #[arg(long, default_value_t = 0)]
    pub ins_outage_after_secs: u64,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// The share of older subscription sales in the demo and the `sandbox` command (percent).
pub const DEMO_OLDER_SUBSCRIPTIONS: u32 = 30;

/// The share of one-off sales with lines of one SKU in the demo and the `sandbox` command
/// (percent).
pub const DEMO_SAME_SKU_BUMPS: u32 = 5;

impl SandboxArgs {
    /// The sandbox configuration these options describe.
    pub fn to_config(&self) -> SandboxConfig {
        SandboxConfig {
            bind: self.bind,
            seed: self.seed,
            orders: self.orders,
            days: self.days,
            older_subscriptions: self.older_subscriptions.min(100),
            same_sku_bumps: self.same_sku_bumps.min(100),
            anchor: self.anchor_date.map(|d| {
                d.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default())
                    .and_utc()
            }),
            site: self.site.clone(),
            api_key: self.api_key.clone(),
            dev_key: self.dev_key.clone(),
            secret_key: self.secret_key.clone(),
            notify_url: self.notify_url.clone(),
            events_per_second: self.events_per_second.max(0.0),
            error_rate: self.error_rate,
            rate_limit: (self.rate_limit > 0).then_some(self.rate_limit),
            latency: Duration::from_millis(self.latency_ms),
            ticket_delay: Duration::from_secs(self.ticket_delay_secs),
            partial_refunds: self.partial_refunds,
            ins_version: self.ins_version,
            ins_outage: (self.ins_outage_secs > 0).then(|| {
                (
                    Duration::from_secs(self.ins_outage_after_secs),
                    Duration::from_secs(self.ins_outage_secs),
                )
            }),
            ..SandboxConfig::default()
        }
    }
}

/// Run the sandbox until Ctrl-C, printing its base URL and credentials.
pub async fn run_sandbox(args: SandboxArgs) -> std::io::Result<()> {
    let config = args.to_config();
    let handle = Sandbox::start(config)?;
    let transactions = handle.transactions().len();
    let auth = match handle.dev_key() {
        Some(dev) => format!("{dev}:{}", handle.api_key()),
        None => handle.api_key().to_string(),
    };
    println!("ClickBank sandbox running");
    println!("  API base URL   : {}", handle.base_url());
    println!("  Site           : {}", handle.site());
    println!("  API key        : {}", handle.api_key());
    match handle.dev_key() {
        Some(dev) => println!("  Developer key  : {dev}"),
        None => println!("  Developer key  : (any DEV-... key is accepted)"),
    }
    println!("  Authorization  : {auth}");
    println!("  INS secret key : {}", handle.secret_key());
    println!(
        "  Notify URL     : {}",
        args.notify_url.as_deref().unwrap_or("(none: pass --notify-url)")
    );
    println!(
        "  Dataset        : {} orders over {} days (seed {}), {} transactions",
        args.orders, args.days, args.seed, transactions
    );
    println!(
        "  Faults         : error rate {}, rate limit {}, latency {} ms",
        args.error_rate,
        if args.rate_limit > 0 {
            format!("{}/s", args.rate_limit)
        } else {
            "off".to_string()
        },
        args.latency_ms
    );
    println!(
        "  Line items     : {}% of one-off sales with two lines of one SKU",
        args.same_sku_bumps.min(100)
    );
    if args.ins_outage_secs > 0 {
        println!(
            "  INS outage     : {} s, from {} s after the start",
            args.ins_outage_secs, args.ins_outage_after_secs
        );
    }
    println!("Press Ctrl-C to stop.");
    actix_web::rt::signal::ctrl_c().await?;
    println!("Stopping the sandbox.");
    handle.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sandbox: SandboxArgs,
    }

    #[test]
    fn parses_sandbox_options() {
        let cli = Cli::try_parse_from([
            "sandbox",
            "--bind",
            "0.0.0.0:9000",
            "--orders",
            "50",
            "--rate-limit",
            "10",
            "--error-rate",
            "0.25",
            "--latency-ms",
            "150",
            "--notify-url",
            "http://localhost:8080/clickbank/",
            "--anchor-date",
            "2025-06-15",
            "--ins-version",
            "7",
            "--same-sku-bumps",
            "12",
            "--ins-outage-secs",
            "60",
            "--ins-outage-after-secs",
            "5",
        ])
        .unwrap();
        let c = cli.sandbox.to_config();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.orders, 50);
        assert_eq!(c.rate_limit, Some(10));
        assert_eq!(c.error_rate, 0.25);
        assert_eq!(c.latency, Duration::from_millis(150));
        assert_eq!(c.ins_version, 7);
        assert_eq!(c.same_sku_bumps, 12);
        assert_eq!(
            c.ins_outage,
            Some((Duration::from_secs(5), Duration::from_secs(60)))
        );
        assert_eq!(c.anchor.unwrap().to_rfc3339(), "2025-06-15T12:00:00+00:00");
        let defaults = Cli::try_parse_from(["sandbox"]).unwrap().sandbox;
        assert_eq!(defaults.bind.to_string(), "127.0.0.1:8090");
        assert_eq!(defaults.to_config().rate_limit, None);
        assert_eq!(defaults.to_config().same_sku_bumps, DEMO_SAME_SKU_BUMPS);
        assert_eq!(defaults.to_config().ins_outage, None);
        assert!(Cli::try_parse_from(["sandbox", "--error-rate", "2"]).is_err());
        assert!(Cli::try_parse_from(["sandbox", "--ins-version", "5"]).is_err());
    }
}
