//! Deterministic dataset generation (same seed and anchor, same data).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalog::{
    catalog, AFFILIATES, COUNTRIES, FIRST_NAMES, HOSTILE_FIRST, HOSTILE_LAST, LAST_NAMES, PAYMENT_METHODS,
    STREETS,
};
use super::model::{
    add_period, FunnelRole, Payment, Plan, ReceiptInfo, SbAddress, SbCustomer, SbEvent, SbLine, SbProduct,
    SubIndex, Subscription,
};
use crate::clickbank::types::{LineItemStatus, LineItemType, TransactionType};

/// Inputs of the generator.
#[derive(Debug, Clone)]
pub(crate) struct GenConfig {
    pub seed: u64,
    pub orders: usize,
    pub days: u32,
    /// Percent of subscription sales made before the `days` (see `SandboxConfig`).
    pub older_subscriptions: u32,
    /// Percent of one-off sales whose lines share a SKU (see `SandboxConfig`).
    pub same_sku_bumps: u32,
    pub anchor: DateTime<Utc>,
}

/// The generated ClickBank world.
pub(crate) struct World {
    pub products: Vec<SbProduct>,
    pub customers: Vec<SbCustomer>,
    /// Sorted by time; `id` equals the index.
    pub events: Vec<SbEvent>,
    pub receipts: HashMap<String, ReceiptInfo>,
    pub subs: Vec<Subscription>,
    pub sub_index: SubIndex,
    pub used_receipts: HashSet<String>,
    pub rng: StdRng,
}

const RECEIPT_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A fresh unique 8-character receipt.
pub(crate) fn new_receipt(rng: &mut StdRng, used: &mut HashSet<String>) -> String {
    loop {
        let r: String = (0..8)
            .map(|_| char::from(RECEIPT_CHARS[rng.gen_range(0..RECEIPT_CHARS.len())]))
            .collect();
        if used.insert(r.clone()) {
            return r;
        }
    }
}

fn pattern(rng: &mut StdRng, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + rng.gen_range(0..10u8)),
            'A' => char::from(b'A' + rng.gen_range(0..26u8)),
            other => other,
        })
        .collect()
}

fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A customer; about 2% carry hostile names (HTML, quotes) to prove escaping.
pub(crate) fn make_customer(rng: &mut StdRng, index: usize) -> SbCustomer {
    let total: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
    let mut pick = rng.gen_range(0..total);
    let country = COUNTRIES
        .iter()
        .find(|c| {
            if pick < c.weight {
                true
            } else {
                pick -= c.weight;
                false
            }
        })
        .unwrap_or(&COUNTRIES[0]);
    let first = if rng.gen_ratio(1, 50) {
        HOSTILE_FIRST[rng.gen_range(0..HOSTILE_FIRST.len())]
    } else {
        FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())]
    };
    let last = if rng.gen_ratio(1, 50) {
        HOSTILE_LAST[rng.gen_range(0..HOSTILE_LAST.len())]
    } else {
        LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())]
    };
    let mut local = format!("{}.{}", ascii_slug(first), ascii_slug(last));
    if local.len() < 3 {
        local = "customer".to_string();
    }
    let domain = ["example.com", "mail.example.net", "inbox.example.org"][rng.gen_range(0..3)];
    let city_idx = rng.gen_range(0..country.cities.len());
    SbCustomer {
        first: first.to_string(),
        last: last.to_string(),
        email: format!("{local}{index}@{domain}"),
        phone: format!("{} {}", country.phone_prefix, pattern(rng, "### ### ####")),
        address: SbAddress {
            address1: format!(
                "{} {}",
                rng.gen_range(1..9999),
                STREETS[rng.gen_range(0..STREETS.len())]
            ),
            address2: rng
                .gen_ratio(1, 5)
                .then(|| format!("Apt {}", rng.gen_range(1..400))),
            city: country.cities[city_idx].to_string(),
            county: None,
            state: country.states.get(city_idx).map(|s| s.to_string()),
            postal_code: pattern(rng, country.postal),
            country: country.code.to_string(),
        },
        currency: country.currency,
    }
}

/// A priced line for `product` bought by a customer of `country`.
pub(crate) fn make_line(
    product: &SbProduct,
    index: usize,
    line_type: LineItemType,
    qty: u32,
    price: i64,
    has_affiliate: bool,
    country: &str,
) -> SbLine {
    let customer_amount = price * i64::from(qty);
    let share = if has_affiliate { 50 } else { 90 };
    SbLine {
        product: index,
        line_type,
        qty,
        customer_amount,
        account_amount: customer_amount * share / 100,
        tax: if product.physical && country == "US" {
            customer_amount * 725 / 10_000
        } else {
            0
        },
        shipping: if product.physical {
            product.shipping * i64::from(qty)
        } else {
            0
        },
    }
}

/// The line items of the `n`-th abandoned cart: ClickBank usually sends none, so only one
/// cart in three carries one (a front product of its currency). No random draw: datasets stay
/// as they were.
pub(crate) fn cart_lines(products: &[SbProduct], n: usize, currency: &str, country: &str) -> Vec<SbLine> {
    if n % 3 != 0 {
        return Vec::new();
    }
    products
        .iter()
        .enumerate()
        .filter(|(_, p)| p.role == FunnelRole::Front && p.currency == currency)
        .nth(n / 3 % 2)
        .or_else(|| products.iter().enumerate().find(|(_, p)| p.currency == currency))
        .map(|(i, p)| {
            vec![make_line(
                p,
                i,
                LineItemType::Original,
                1,
                p.price,
                false,
                country,
            )]
        })
        .unwrap_or_default()
}

/// The lines negated (a refund or chargeback of them).
pub(crate) fn negate(lines: &[SbLine]) -> Vec<SbLine> {
    lines
        .iter()
        .map(|l| SbLine {
            customer_amount: -l.customer_amount,
            account_amount: -l.account_amount,
            tax: -l.tax,
            shipping: -l.shipping,
            ..l.clone()
        })
        .collect()
}

/// A second line of the product of `first` (a one-off front): mostly a BUMP of it at three
/// quarters of its price (a second one at the order form), one time in four a cart holding
/// it twice (both lines then `CART`). Real accounts have both; each line is an item of its own.
pub(crate) fn same_sku_line(
    rng: &mut StdRng,
    first: &mut SbLine,
    product: &SbProduct,
    has_affiliate: bool,
    country: &str,
) -> SbLine {
    if rng.gen_ratio(1, 4) {
        first.line_type = LineItemType::Cart;
        make_line(
            product,
            first.product,
            LineItemType::Cart,
            first.qty,
            product.price,
            has_affiliate,
            country,
        )
    } else {
        let price = (product.price * 3 / 4).max(1);
        make_line(
            product,
            first.product,
            LineItemType::Bump,
            1,
            price,
            has_affiliate,
            country,
        )
    }
}

/// First rebill after a purchase at `t`.
pub(crate) fn first_rebill(t: DateTime<Utc>, plan: &Plan) -> DateTime<Utc> {
    if plan.trial_days > 0 {
        t + Duration::days(i64::from(plan.trial_days))
    } else {
        add_period(t, &plan.frequency)
    }
}

pub(crate) fn pick_payment_method(rng: &mut StdRng) -> &'static str {
    let total: u32 = PAYMENT_METHODS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.gen_range(0..total);
    for (m, w) in PAYMENT_METHODS {
        if pick < *w {
            return m;
        }
        pick -= w;
    }
    "VISA"
}

pub(crate) fn pick_vendor_vars(
    rng: &mut StdRng,
    lines: &[SbLine],
    products: &[SbProduct],
) -> Vec<(&'static str, String)> {
    if !rng.gen_ratio(3, 10) {
        return Vec::new();
    }
    let source = ["facebook", "google", "email", "youtube"][rng.gen_range(0..4)];
    let items: Vec<&str> = lines.iter().map(|l| products[l.product].sku.as_str()).collect();
    vec![("utm_source", source.to_string()), ("cbitems", items.join(","))]
}

/// Front, bump and upsell products of one currency.
type Funnel = (Vec<usize>, Vec<usize>, Vec<usize>);

struct Outcome {
    time: DateTime<Utc>,
    kind: OutcomeKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OutcomeKind {
    FullRefund,
    PartialRefund,
    Chargeback,
}

/// Build the world. Events happen before `anchor`, sales spread over `days` days.
pub(crate) fn generate(cfg: &GenConfig) -> World {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let products = catalog(cfg.anchor);
    let n_customers = (cfg.orders * 7 / 10).max(5);
    let customers: Vec<SbCustomer> = (0..n_customers).map(|i| make_customer(&mut rng, i)).collect();
    let by_role = |role: FunnelRole, cur: &str| -> Vec<usize> {
        products
            .iter()
            .enumerate()
            .filter(|(_, p)| p.role == role && p.currency == cur)
            .map(|(i, _)| i)
            .collect()
    };
    let mut funnels: HashMap<&'static str, Funnel> = HashMap::new();
    for c in COUNTRIES {
        funnels.entry(c.currency).or_insert_with(|| {
            (
                by_role(FunnelRole::Front, c.currency),
                by_role(FunnelRole::Bump, c.currency),
                by_role(FunnelRole::Upsell, c.currency),
            )
        });
    }

    let mut events: Vec<SbEvent> = Vec::with_capacity(cfg.orders * 3);
    let mut receipts: HashMap<String, ReceiptInfo> = HashMap::with_capacity(cfg.orders * 5 / 4);
    let mut used = HashSet::with_capacity(cfg.orders * 5 / 4);
    let mut subs: Vec<Subscription> = Vec::new();
    let mut sub_index: SubIndex = HashMap::new();
    let span = i64::from(cfg.days.max(1)) * 86_400;
    let anchor = cfg.anchor;
    let empty = (Vec::new(), Vec::new(), Vec::new());

    for _ in 0..cfg.orders {
        let cust = rng.gen_range(0..n_customers);
        let customer = &customers[cust];
        let country = customer.address.country.clone();
        let (fronts, bumps, upsells) = funnels.get(customer.currency).unwrap_or(&empty);
        if fronts.is_empty() {
            continue;
        }
        let front = fronts[rng.gen_range(0..fronts.len())];
        // An older subscriber: sold before the listed days, rebilling (or refunded, or
        // cancelled) in them. The draw happens only when asked for, so datasets without
        // older subscriptions stay as they were.
        let older = cfg.older_subscriptions > 0
            && products[front].plan.is_some()
            && rng.gen_ratio(cfg.older_subscriptions.min(100), 100);
        let t = if older {
            anchor
                - Duration::seconds(span)
                - Duration::seconds(rng.gen_range(60..=super::config::OLDER_SALES_DAYS * 86_400))
        } else {
            anchor - Duration::seconds(rng.gen_range(60..=span))
        };
        let test = rng.gen_ratio(1, 100);
        let affiliate = (!test && rng.gen_ratio(3, 5)).then(|| rng.gen_range(0..AFFILIATES.len()) as u16);
        let pm = if test {
            "TEST"
        } else {
            pick_payment_method(&mut rng)
        };
        let fp = &products[front];
        let qty = if fp.physical && fp.plan.is_none() && rng.gen_ratio(1, 10) {
            2
        } else {
            1
        };
        let mut lines = vec![make_line(
            fp,
            front,
            LineItemType::Original,
            qty,
            fp.price,
            affiliate.is_some(),
            &country,
        )];
        // Lines sharing a SKU (one-off fronts only: a subscription is one line of its SKU). The
        // draw happens only when asked for, so datasets without them stay as they were.
        let same_sku =
            cfg.same_sku_bumps > 0 && fp.plan.is_none() && rng.gen_ratio(cfg.same_sku_bumps.min(100), 100);
        if same_sku {
            let second = same_sku_line(&mut rng, &mut lines[0], fp, affiliate.is_some(), &country);
            lines.push(second);
        } else if !bumps.is_empty() && rng.gen_ratio(3, 10) {
            let b = bumps[rng.gen_range(0..bumps.len())];
            lines.push(make_line(
                &products[b],
                b,
                LineItemType::Bump,
                1,
                products[b].price,
                affiliate.is_some(),
                &country,
            ));
        }
        let receipt = new_receipt(&mut rng, &mut used);
        let tracking_id = rng
            .gen_ratio(1, 5)
            .then(|| format!("tid{}", rng.gen_range(1000..99_999)));
        let vendor_vars = pick_vendor_vars(&mut rng, &lines, &products);
        let base = SbEvent {
            id: 0,
            time: t,
            receipt: Some(receipt.clone()),
            tx_type: if test {
                TransactionType::TestSale
            } else {
                TransactionType::Sale
            },
            customer: cust,
            affiliate,
            payment_method: pm,
            currency: customer.currency,
            lines: lines.clone(),
            tracking_id: tracking_id.clone(),
            upsell_original: None,
            vendor_vars: vendor_vars.clone(),
        };
        events.push(base.clone());
        let mut info = ReceiptInfo {
            customer: cust,
            currency: customer.currency,
            affiliate,
            payment_method: pm,
            test,
            sale_lines: lines.clone(),
            last_payment: Payment {
                time: t,
                lines: lines.clone(),
            },
            refunded_of_last: 0,
            chargeback: false,
            upsell_original: None,
            upsells: Vec::new(),
            tracking_id,
            vendor_vars,
            address_override: None,
        };

        let outcome = if test {
            None
        } else {
            let roll = rng.gen_range(0..1000);
            let (kind, days) = match roll {
                0..=59 => (Some(OutcomeKind::FullRefund), rng.gen_range(1..30)),
                60..=79 => (Some(OutcomeKind::PartialRefund), rng.gen_range(1..20)),
                80..=89 => (Some(OutcomeKind::Chargeback), rng.gen_range(10..60)),
                _ => (None, 0),
            };
            kind.map(|kind| Outcome {
                time: t + Duration::days(days) + Duration::seconds(rng.gen_range(0..86_400)),
                kind,
            })
            .filter(|o| o.time < anchor)
        };
        let stop_at = outcome
            .as_ref()
            .filter(|o| o.kind != OutcomeKind::PartialRefund)
            .map(|o| o.time);

        // Subscription and its rebills.
        let mut sub_slot = None;
        if let Some(plan) = fp.plan.clone() {
            let mut sub = Subscription {
                receipt: receipt.clone(),
                product: front,
                rebill: plan.rebill,
                frequency: plan.frequency.clone(),
                processed: 1,
                total: plan.duration,
                next_payment: Some(first_rebill(t, &plan)),
                status: LineItemStatus::Active,
                canceled_at: None,
                paused_until: None,
            };
            while let Some(next) = sub.next_payment {
                if sub.processed >= sub.total {
                    sub.status = LineItemStatus::Completed;
                    sub.next_payment = None;
                    break;
                }
                if next >= anchor || stop_at.is_some_and(|s| next >= s) {
                    break;
                }
                if !test && rng.gen_ratio(8, 100) {
                    let last = info.last_payment.time;
                    let cancel_time = (next - Duration::seconds(rng.gen_range(3_600..5 * 86_400)))
                        .max(last + Duration::seconds(60));
                    let mut cancel = base.clone();
                    cancel.time = cancel_time;
                    cancel.tx_type = TransactionType::CancelRebill;
                    cancel.lines = vec![SbLine {
                        customer_amount: 0,
                        account_amount: 0,
                        tax: 0,
                        shipping: 0,
                        ..lines[0].clone()
                    }];
                    events.push(cancel);
                    sub.status = LineItemStatus::Canceled;
                    sub.canceled_at = Some(cancel_time);
                    sub.next_payment = None;
                    break;
                }
                if !test && rng.gen_ratio(2, 100) {
                    sub.status = LineItemStatus::AuthorizationFailure;
                    sub.next_payment = None;
                    break;
                }
                let line = make_line(
                    fp,
                    front,
                    LineItemType::Original,
                    1,
                    plan.rebill,
                    affiliate.is_some(),
                    &country,
                );
                let mut bill = base.clone();
                bill.time = next;
                bill.tx_type = if test {
                    TransactionType::TestBill
                } else {
                    TransactionType::Bill
                };
                bill.lines = vec![line];
                info.last_payment = Payment {
                    time: next,
                    lines: bill.lines.clone(),
                };
                events.push(bill);
                sub.processed += 1;
                sub.next_payment = Some(add_period(next, &plan.frequency));
            }
            sub_slot = Some(subs.len());
            sub_index.entry(receipt.clone()).or_default().push(subs.len());
            subs.push(sub);
        }

        if let Some(o) = outcome {
            let mut ev = base.clone();
            ev.time = o.time;
            match o.kind {
                OutcomeKind::FullRefund | OutcomeKind::Chargeback => {
                    ev.tx_type = if o.kind == OutcomeKind::Chargeback {
                        TransactionType::Cgbk
                    } else {
                        TransactionType::Rfnd
                    };
                    ev.lines = negate(&info.last_payment.lines);
                    info.refunded_of_last = info.last_payment.total();
                    info.chargeback = o.kind == OutcomeKind::Chargeback;
                    if let Some(s) = sub_slot.map(|i| &mut subs[i]) {
                        if s.status == LineItemStatus::Active {
                            s.status = LineItemStatus::Canceled;
                            s.canceled_at = Some(o.time);
                            s.next_payment = None;
                        }
                    }
                }
                OutcomeKind::PartialRefund if same_sku => {
                    // One of the two lines paid back in full, the other kept.
                    ev.tx_type = TransactionType::Rfnd;
                    ev.lines = negate(&info.last_payment.lines[1..]);
                    info.refunded_of_last += info.last_payment.lines[1..]
                        .iter()
                        .map(|l| l.customer_amount + l.tax + l.shipping)
                        .sum::<i64>();
                }
                OutcomeKind::PartialRefund => {
                    let first = &info.last_payment.lines[0];
                    let amount = first.customer_amount / 2;
                    ev.tx_type = TransactionType::Rfnd;
                    ev.lines = vec![SbLine {
                        customer_amount: -amount,
                        account_amount: -(first.account_amount / 2),
                        tax: 0,
                        shipping: 0,
                        ..first.clone()
                    }];
                    info.refunded_of_last += amount;
                }
            }
            events.push(ev);
        }

        // A separate upsell receipt a few minutes later.
        if !test && !upsells.is_empty() && rng.gen_ratio(1, 4) {
            let u = upsells[rng.gen_range(0..upsells.len())];
            let ut = t + Duration::seconds(rng.gen_range(60..600));
            if ut < anchor {
                let up_receipt = new_receipt(&mut rng, &mut used);
                let up_lines = vec![make_line(
                    &products[u],
                    u,
                    LineItemType::Upsell,
                    1,
                    products[u].price,
                    affiliate.is_some(),
                    &country,
                )];
                let mut ev = base.clone();
                ev.time = ut;
                ev.receipt = Some(up_receipt.clone());
                ev.lines = up_lines.clone();
                ev.upsell_original = Some(receipt.clone());
                events.push(ev);
                info.upsells.push(up_receipt.clone());
                receipts.insert(
                    up_receipt,
                    ReceiptInfo {
                        sale_lines: up_lines.clone(),
                        last_payment: Payment {
                            time: ut,
                            lines: up_lines,
                        },
                        refunded_of_last: 0,
                        chargeback: false,
                        upsell_original: Some(receipt.clone()),
                        upsells: Vec::new(),
                        ..info.clone()
                    },
                );
            }
        }
        receipts.insert(receipt, info);
    }

    // Abandoned carts: INS only, no receipt; one in three carries its line item.
    for n in 0..cfg.orders / 10 {
        let cust = rng.gen_range(0..n_customers);
        let t = anchor - Duration::seconds(rng.gen_range(60..=span));
        let lines = cart_lines(
            &products,
            n,
            customers[cust].currency,
            &customers[cust].address.country,
        );
        events.push(SbEvent {
            id: 0,
            time: t,
            receipt: None,
            tx_type: TransactionType::AbandonedOrder,
            customer: cust,
            affiliate: None,
            payment_method: "",
            currency: customers[cust].currency,
            lines,
            tracking_id: None,
            upsell_original: None,
            vendor_vars: Vec::new(),
        });
    }

    events.sort_by_key(|e| e.time);
    for (i, e) in events.iter_mut().enumerate() {
        e.id = i as u64;
    }
    World {
        products,
        customers,
        events,
        receipts,
        subs,
        sub_index,
        used_receipts: used,
        rng,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cfg(seed: u64) -> GenConfig {
        GenConfig {
            seed,
            orders: 400,
            days: 120,
            older_subscriptions: 0,
            same_sku_bumps: 0,
            anchor: Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = generate(&cfg(7));
        let b = generate(&cfg(7));
        let c = generate(&cfg(8));
        let sig = |w: &World| {
            w.events
                .iter()
                .map(|e| format!("{:?}{}{}", e.receipt, e.tx_type, e.total()))
                .collect::<Vec<_>>()
        };
        assert_eq!(sig(&a), sig(&b));
        assert_ne!(sig(&a), sig(&c));
    }

    #[test]
    fn covers_every_kind_of_event() {
        let w = generate(&cfg(1));
        let has = |t: TransactionType| w.events.iter().any(|e| e.tx_type == t);
        for t in [
            TransactionType::Sale,
            TransactionType::Bill,
            TransactionType::Rfnd,
            TransactionType::Cgbk,
            TransactionType::CancelRebill,
            TransactionType::AbandonedOrder,
            TransactionType::TestSale,
        ] {
            assert!(has(t.clone()), "no {t}");
        }
        assert!(w
            .events
            .iter()
            .any(|e| e.lines.iter().any(|l| l.line_type == LineItemType::Bump)));
        assert!(w.events.iter().any(|e| e.upsell_original.is_some()));
        assert!(w.events.iter().any(|e| e.affiliate.is_none() && e.listed()));
        assert!(w.events.windows(2).all(|p| p[0].time <= p[1].time));
        assert!(w.events.iter().all(|e| e.time < cfg(1).anchor));
        let currencies: HashSet<&str> = w.events.iter().map(|e| e.currency).collect();
        for c in ["USD", "EUR", "GBP", "CAD", "AUD"] {
            assert!(currencies.contains(c), "no {c}");
        }
        // Some customers bought more than once.
        let mut per_customer: HashMap<usize, usize> = HashMap::new();
        for e in w.events.iter().filter(|e| e.tx_type == TransactionType::Sale) {
            *per_customer.entry(e.customer).or_default() += 1;
        }
        assert!(per_customer.values().any(|&n| n > 1));
    }

    fn shares_a_sku(e: &SbEvent) -> bool {
        e.lines
            .iter()
            .enumerate()
            .any(|(i, l)| e.lines[..i].iter().any(|k| k.product == l.product))
    }

    #[test]
    fn same_sku_lines_only_when_asked_for() {
        let plain = generate(&cfg(3));
        assert!(!plain.events.iter().any(shares_a_sku));
        let w = generate(&GenConfig {
            orders: 2_000,
            same_sku_bumps: 50,
            ..cfg(3)
        });
        let sales: Vec<&SbEvent> = w
            .events
            .iter()
            .filter(|e| e.tx_type == TransactionType::Sale && shares_a_sku(e))
            .collect();
        assert!(sales.len() > 10, "{} same-SKU sales", sales.len());
        let kinds = |e: &SbEvent| e.lines.iter().map(|l| l.line_type.clone()).collect::<Vec<_>>();
        assert!(sales
            .iter()
            .any(|e| kinds(e) == [LineItemType::Original, LineItemType::Bump]));
        assert!(sales
            .iter()
            .any(|e| kinds(e) == [LineItemType::Cart, LineItemType::Cart]));
        // Some refund pays back one of the two lines and keeps the other.
        assert!(w.events.iter().any(|e| {
            e.tx_type == TransactionType::Rfnd
                && e.lines.len() == 1
                && w.receipts[e.receipt.as_deref().unwrap_or("")].sale_lines.len() == 2
                && shares_a_sku(&SbEvent {
                    lines: w.receipts[e.receipt.as_deref().unwrap_or("")].sale_lines.clone(),
                    ..e.clone()
                })
        }));
    }
}
