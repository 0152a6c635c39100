//! The sandbox's fixed product catalog and name lists.

use chrono::{DateTime, Duration, Utc};

use super::model::{FunnelRole, Plan, SbProduct};
use crate::clickbank::types::Frequency;

struct Item {
    sku: &'static str,
    title: &'static str,
    currency: &'static str,
    price: i64,
    extra: &'static [(&'static str, i64)],
    shipping: i64,
    physical: bool,
    plan: Option<(Frequency, i64, u32, u32)>,
    category: &'static [&'static str],
    role: FunnelRole,
}

/// Currencies the sandbox sells in.
pub const CURRENCIES: [&str; 6] = ["USD", "EUR", "GBP", "CAD", "AUD", "JPY"];

fn items() -> Vec<Item> {
    use FunnelRole::*;
    use Frequency::*;
    vec![
        Item { sku: "1", title: "Keto Kickstart Guide", currency: "USD", price: 3700, extra: &[("EUR", 3400)], shipping: 0, physical: false, plan: None, category: &["HEALTH", "DIET"], role: Front },
        Item { sku: "2", title: "Keto Recipe Pack", currency: "USD", price: 995, extra: &[], shipping: 0, physical: false, plan: None, category: &["HEALTH"], role: Bump },
        Item { sku: "3", title: "Keto Burn Supplement (Monthly)", currency: "USD", price: 4900, extra: &[], shipping: 595, physical: true, plan: Some((Monthly, 4900, 12, 0)), category: &["HEALTH", "SUPPLEMENTS"], role: Front },
        Item { sku: "4", title: "Keto Masterclass", currency: "USD", price: 9700, extra: &[], shipping: 0, physical: false, plan: None, category: &["HEALTH"], role: Upsell },
        Item { sku: "5", title: "VIP Coaching Club (7-day trial)", currency: "USD", price: 100, extra: &[], shipping: 0, physical: false, plan: Some((Monthly, 2995, 999, 7)), category: &["HEALTH", "COACHING"], role: Front },
        Item { sku: "6", title: "Flat Belly Shake 3-Pack", currency: "USD", price: 11900, extra: &[], shipping: 995, physical: true, plan: None, category: &["SUPPLEMENTS"], role: Front },
        Item { sku: "7", title: "Yoga Flow DVD", currency: "EUR", price: 2900, extra: &[], shipping: 490, physical: true, plan: None, category: &["FITNESS"], role: Front },
        Item { sku: "8", title: "Yoga Club Monatlich", currency: "EUR", price: 1490, extra: &[], shipping: 0, physical: false, plan: Some((Monthly, 1490, 999, 0)), category: &["FITNESS"], role: Front },
        Item { sku: "9", title: "Yoga Bonus Poster", currency: "EUR", price: 500, extra: &[], shipping: 0, physical: true, plan: None, category: &["FITNESS"], role: Bump },
        Item { sku: "10", title: "Garden Planner eBook", currency: "GBP", price: 2400, extra: &[], shipping: 0, physical: false, plan: None, category: &["HOME", "GARDEN"], role: Front },
        Item { sku: "11", title: "Seed Box Quarterly", currency: "GBP", price: 3900, extra: &[], shipping: 350, physical: true, plan: Some((Quarterly, 3900, 8, 0)), category: &["GARDEN"], role: Front },
        Item { sku: "12", title: "Fishing Secrets Course", currency: "CAD", price: 4700, extra: &[("USD", 3500)], shipping: 0, physical: false, plan: None, category: &["OUTDOORS"], role: Front },
        Item { sku: "13", title: "Fishing Secrets Advanced", currency: "CAD", price: 6700, extra: &[], shipping: 0, physical: false, plan: None, category: &["OUTDOORS"], role: Upsell },
        Item { sku: "14", title: "Fit in 30 App", currency: "AUD", price: 3995, extra: &[], shipping: 0, physical: false, plan: Some((Monthly, 3995, 999, 0)), category: &["FITNESS"], role: Front },
        Item { sku: "15", title: "Japanese Calligraphy Course", currency: "JPY", price: 4980, extra: &[], shipping: 0, physical: false, plan: None, category: &["ARTS"], role: Front },
        Item { sku: "16", title: "Daily Devotional (Bi-Weekly)", currency: "USD", price: 499, extra: &[], shipping: 0, physical: false, plan: Some((BiWeekly, 499, 12, 0)), category: &["SPIRITUALITY"], role: Front },
        Item { sku: "17", title: "Pro Toolkit Annual", currency: "USD", price: 19900, extra: &[], shipping: 0, physical: false, plan: Some((Yearly, 19900, 5, 0)), category: &["BUSINESS"], role: Front },
        Item { sku: "18", title: "Yoga Mat Kit", currency: "EUR", price: 5900, extra: &[], shipping: 690, physical: true, plan: Some((HalfYearly, 4900, 4, 0)), category: &["FITNESS"], role: Front },
        Item { sku: "OLD-1", title: "Old Keto Guide (retired)", currency: "USD", price: 2700, extra: &[], shipping: 0, physical: false, plan: None, category: &["HEALTH"], role: Retired },
    ]
}

/// USD cents per 100 minor units of a currency (fixed sandbox rates).
pub(crate) fn usd_rate_percent(currency: &str) -> i64 {
    match currency {
        "EUR" => 108,
        "GBP" => 127,
        "CAD" => 73,
        "AUD" => 66,
        // 1 yen = 0.67 US cents.
        "JPY" => 67,
        _ => 100,
    }
}

/// The catalog, with creation dates before `anchor`.
pub(crate) fn catalog(anchor: DateTime<Utc>) -> Vec<SbProduct> {
    items()
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            let i = i as i64;
            let created = anchor - Duration::days(900 - i * 17) + Duration::seconds(i * 3_671);
            SbProduct {
                sku: it.sku.to_string(),
                id: 100_000 + i as u32,
                title: it.title.to_string(),
                description: format!("{} - sold through the ClickBank sandbox.", it.title),
                currency: it.currency,
                price: it.price,
                extra_pricings: it.extra.to_vec(),
                shipping: it.shipping,
                physical: it.physical,
                plan: it.plan.map(|(frequency, rebill, duration, trial_days)| Plan {
                    frequency,
                    rebill,
                    duration,
                    trial_days,
                }),
                category: it.category.to_vec(),
                role: it.role,
                created,
                updated: created + Duration::days(30 + i),
                active: it.role != FunnelRole::Retired,
            }
        })
        .collect()
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra",
    "Zoë", "José", "Renée", "Björn", "Siobhán", "Kenji", "Aiko", "Liam", "Olivia", "Noah",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Müller", "Schmidt", "Dubois", "Tanaka", "Smith-Jones", "O'Brien", "MacDonald", "Nguyen",
];

/// Names that prove escaping downstream (HTML, quotes, ampersands).
pub(crate) const HOSTILE_FIRST: &[&str] = &[
    "<script>alert('x')</script>",
    "Renée & \"Bob\"",
    "<b>Bold</b>",
    "Robert'); DROP TABLE customers;--",
];

pub(crate) const HOSTILE_LAST: &[&str] = &["O'Brien \"The Boss\"", "<img src=x onerror=alert(1)>", "Smith & Sons"];

pub(crate) const STREETS: &[&str] = &[
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Rd", "High St", "Church Rd",
];

/// Country, cities, state/province codes, postal pattern (`#` digit, `A` letter).
pub(crate) struct CountryInfo {
    pub code: &'static str,
    pub currency: &'static str,
    pub weight: u32,
    pub cities: &'static [&'static str],
    pub states: &'static [&'static str],
    pub postal: &'static str,
    pub phone_prefix: &'static str,
}

pub(crate) const COUNTRIES: &[CountryInfo] = &[
    CountryInfo { code: "US", currency: "USD", weight: 45, cities: &["Austin", "Denver", "Boise", "Tampa", "Portland"], states: &["TX", "CO", "ID", "FL", "OR"], postal: "#####", phone_prefix: "+1" },
    CountryInfo { code: "PH", currency: "USD", weight: 4, cities: &["Cebu City", "Manila"], states: &[], postal: "####", phone_prefix: "+63" },
    CountryInfo { code: "DE", currency: "EUR", weight: 8, cities: &["Berlin", "Hamburg", "München"], states: &[], postal: "#####", phone_prefix: "+49" },
    CountryInfo { code: "FR", currency: "EUR", weight: 4, cities: &["Paris", "Lyon"], states: &[], postal: "#####", phone_prefix: "+33" },
    CountryInfo { code: "NL", currency: "EUR", weight: 2, cities: &["Utrecht"], states: &[], postal: "#### AA", phone_prefix: "+31" },
    CountryInfo { code: "GB", currency: "GBP", weight: 10, cities: &["London", "Leeds", "Bristol"], states: &[], postal: "A## #AA", phone_prefix: "+44" },
    CountryInfo { code: "CA", currency: "CAD", weight: 10, cities: &["Toronto", "Calgary", "Halifax"], states: &["ON", "AB", "NS"], postal: "A#A #A#", phone_prefix: "+1" },
    CountryInfo { code: "AU", currency: "AUD", weight: 10, cities: &["Sydney", "Perth", "Hobart"], states: &["NSW", "WA", "TAS"], postal: "####", phone_prefix: "+61" },
    CountryInfo { code: "JP", currency: "JPY", weight: 5, cities: &["Tokyo", "Osaka"], states: &[], postal: "###-####", phone_prefix: "+81" },
];

pub(crate) const AFFILIATES: &[&str] = &[
    "superaff", "healthguru", "topseller99", "dealhunter", "fitblogger", "keto4life", "yogamom",
    "gardenpro", "fishfinder", "appreviewer", "bigmailer", "nichekings", "trafficpro",
    "socialstar", "couponbox", "reviewhub", "emailqueen", "mediabuyr", "podcastguy", "ytchannel",
];

pub(crate) const PAYMENT_METHODS: &[(&str, u32)] = &[
    ("VISA", 45),
    ("MSTR", 30),
    ("AMEX", 8),
    ("DISC", 5),
    ("PYPL", 12),
];
