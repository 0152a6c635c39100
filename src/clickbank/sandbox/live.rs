//! New events at the sandbox's current time: sales, rebills, refunds, cancellations,
//! abandoned carts, test events, for test hooks and the live stream.

use chrono::Duration;
use rand::Rng;

use super::catalog::AFFILIATES;
use super::dataset::{
    first_rebill, make_customer, make_line, negate, new_receipt, pick_payment_method, pick_vendor_vars,
    same_sku_line,
};
use super::model::{add_period, FunnelRole, Payment, ReceiptInfo, SbEvent, SbLine, SbProduct, Subscription};
use super::state::{Job, State};
use crate::clickbank::types::{LineItemStatus, LineItemType, TransactionType};

impl State {
    fn new_sale(&mut self, test: bool, recurring: bool) -> u64 {
        let now = self.now();
        let cust = if !self.customers.is_empty() && self.rng.gen_ratio(1, 3) {
            self.rng.gen_range(0..self.customers.len())
        } else {
            let i = self.customers.len();
            let c = make_customer(&mut self.rng, i);
            self.customers.push(c);
            i
        };
        let currency = self.customers[cust].currency;
        let country = self.customers[cust].address.country.clone();
        let mut fronts: Vec<usize> = self
            .products
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.role == FunnelRole::Front && p.currency == currency && (!recurring || p.plan.is_some())
            })
            .map(|(i, _)| i)
            .collect();
        if fronts.is_empty() {
            fronts = self
                .products
                .iter()
                .enumerate()
                .filter(|(_, p)| p.role == FunnelRole::Front && (!recurring || p.plan.is_some()))
                .map(|(i, _)| i)
                .collect();
        }
        let front = match fronts.len() {
            0 => 0,
            n => fronts[self.rng.gen_range(0..n)],
        };
        let product: SbProduct = self.products[front].clone();
        let currency = product.currency;
        let affiliate =
            (!test && self.rng.gen_ratio(1, 2)).then(|| self.rng.gen_range(0..AFFILIATES.len()) as u16);
        let pm = if test {
            "TEST"
        } else {
            pick_payment_method(&mut self.rng)
        };
        let mut lines = vec![make_line(
            &product,
            front,
            LineItemType::Original,
            1,
            product.price,
            affiliate.is_some(),
            &country,
        )];
        let bump = self
            .products
            .iter()
            .position(|p| p.role == FunnelRole::Bump && p.currency == currency);
        let pct = self.settings.same_sku_bumps;
        if pct > 0 && product.plan.is_none() && self.rng.gen_ratio(pct.min(100), 100) {
            let second = same_sku_line(
                &mut self.rng,
                &mut lines[0],
                &product,
                affiliate.is_some(),
                &country,
            );
            lines.push(second);
        } else if let Some(b) = bump.filter(|_| self.rng.gen_ratio(1, 3)) {
            let bp = self.products[b].clone();
            lines.push(make_line(
                &bp,
                b,
                LineItemType::Bump,
                1,
                bp.price,
                affiliate.is_some(),
                &country,
            ));
        }
        let receipt = new_receipt(&mut self.rng, &mut self.used_receipts);
        let vendor_vars = pick_vendor_vars(&mut self.rng, &lines, &self.products);
        let ev = SbEvent {
            id: 0,
            time: now,
            receipt: Some(receipt.clone()),
            tx_type: if test {
                TransactionType::TestSale
            } else {
                TransactionType::Sale
            },
            customer: cust,
            affiliate,
            payment_method: pm,
            currency,
            lines: lines.clone(),
            tracking_id: None,
            upsell_original: None,
            vendor_vars: vendor_vars.clone(),
        };
        self.receipts.insert(
            receipt.clone(),
            ReceiptInfo {
                customer: cust,
                currency,
                affiliate,
                payment_method: pm,
                test,
                sale_lines: lines.clone(),
                last_payment: Payment { time: now, lines },
                refunded_of_last: 0,
                chargeback: false,
                upsell_original: None,
                upsells: Vec::new(),
                tracking_id: None,
                vendor_vars,
                address_override: None,
            },
        );
        if let Some(plan) = &product.plan {
            self.sub_index
                .entry(receipt.clone())
                .or_default()
                .push(self.subs.len());
            self.subs.push(Subscription {
                receipt,
                product: front,
                rebill: plan.rebill,
                frequency: plan.frequency.clone(),
                processed: 1,
                total: plan.duration,
                next_payment: Some(first_rebill(now, plan)),
                status: LineItemStatus::Active,
                canceled_at: None,
                paused_until: None,
            });
        }
        self.push_event(ev)
    }

    fn pick_sub(&mut self, status: LineItemStatus, test: bool) -> Option<usize> {
        let now = self.now();
        let candidates: Vec<usize> = (0..self.subs.len())
            .filter(|&i| {
                let s = &self.subs[i];
                let info = self.receipts.get(&s.receipt);
                s.status == status
                    && info.is_some_and(|r| r.test == test && !r.chargeback && r.refundable() > 0)
                    && s.canceled_at.is_none_or(|c| now - c < Duration::days(55))
            })
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.gen_range(0..candidates.len())])
    }

    fn active_sub(&mut self, test: bool) -> usize {
        if let Some(i) = self.pick_sub(LineItemStatus::Active, test) {
            return i;
        }
        let id = self.new_sale(test, true);
        let receipt = self.events[id as usize].receipt.clone().unwrap_or_default();
        self.sub_index
            .get(&receipt)
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
    }

    fn refundable_receipt(&mut self, test: bool) -> String {
        let now = self.now();
        let recent: Vec<&String> = self
            .receipts
            .iter()
            .filter(|(r, i)| {
                i.test == test
                    && !i.chargeback
                    && i.refunded_of_last == 0
                    && i.refundable() > 0
                    && now - i.last_payment.time < Duration::days(55)
                    && !self.open_refunds.contains(*r)
            })
            .map(|(r, _)| r)
            .collect();
        if recent.is_empty() {
            let id = self.new_sale(test, false);
            return self.events[id as usize].receipt.clone().unwrap_or_default();
        }
        let mut sorted: Vec<String> = recent.into_iter().cloned().collect();
        sorted.sort();
        let i = self.rng.gen_range(0..sorted.len());
        sorted.swap_remove(i)
    }

    /// Create a new event of `tx_type` at the current sandbox time (dataset rules apply:
    /// a BILL rebills an active subscription, an RFND refunds a recent sale, ...).
    pub fn create_event(&mut self, tx_type: &TransactionType) -> u64 {
        use TransactionType as T;
        let now = self.now();
        match tx_type {
            T::Sale => self.new_sale(false, false),
            T::TestSale => self.new_sale(true, false),
            T::Bill | T::TestBill => {
                let test = *tx_type == T::TestBill;
                let i = self.active_sub(test);
                let sub = self.subs[i].clone();
                let product = self.products[sub.product].clone();
                let Some(info) = self.receipts.get(&sub.receipt).cloned() else {
                    return self.new_sale(test, true);
                };
                let country = self.customers[info.customer].address.country.clone();
                let line = make_line(
                    &product,
                    sub.product,
                    LineItemType::Original,
                    1,
                    sub.rebill,
                    info.affiliate.is_some(),
                    &country,
                );
                let mut ev = self.receipt_event(&sub.receipt, &info, now);
                ev.tx_type = tx_type.clone();
                ev.lines = vec![line.clone()];
                let s = &mut self.subs[i];
                s.processed += 1;
                s.next_payment = if s.processed >= s.total {
                    s.status = LineItemStatus::Completed;
                    None
                } else {
                    Some(add_period(now, &s.frequency))
                };
                if let Some(r) = self.receipts.get_mut(&sub.receipt) {
                    r.last_payment = Payment {
                        time: now,
                        lines: vec![line],
                    };
                    r.refunded_of_last = 0;
                }
                self.push_event(ev)
            }
            T::Rfnd | T::TestRfnd | T::Cgbk | T::Insf => {
                let receipt = self.refundable_receipt(*tx_type == T::TestRfnd);
                let Some(info) = self.receipts.get(&receipt).cloned() else {
                    return self.new_sale(false, false);
                };
                let mut ev = self.receipt_event(&receipt, &info, now);
                ev.tx_type = tx_type.clone();
                ev.lines = negate(&info.last_payment.lines);
                if let Some(r) = self.receipts.get_mut(&receipt) {
                    r.refunded_of_last = r.last_payment.total();
                    r.chargeback = matches!(tx_type, T::Cgbk | T::Insf);
                }
                self.cancel_subs_of(&receipt, now);
                self.push_event(ev)
            }
            T::CancelRebill | T::CancelTestRebill => {
                let i = self.active_sub(*tx_type == T::CancelTestRebill);
                let s = &mut self.subs[i];
                s.status = LineItemStatus::Canceled;
                s.canceled_at = Some(now);
                s.next_payment = None;
                let ev = self.sub_event(i, tx_type.clone(), now);
                self.push_event(ev)
            }
            T::UncancelRebill | T::UncancelTestRebill => {
                let test = *tx_type == T::UncancelTestRebill;
                let i = match self.pick_sub(LineItemStatus::Canceled, test) {
                    Some(i) => i,
                    None => {
                        let ty = if test {
                            T::CancelTestRebill
                        } else {
                            T::CancelRebill
                        };
                        let id = self.create_event(&ty);
                        let receipt = self.events[id as usize].receipt.clone().unwrap_or_default();
                        self.sub_index
                            .get(&receipt)
                            .and_then(|v| v.first().copied())
                            .unwrap_or(0)
                    }
                };
                let id = self.apply_uncancel(i, now);
                // apply_uncancel queued its own delivery; the caller decides on delivery.
                self.pending
                    .retain(|p| !matches!(p.job, Job::Deliver { event, .. } if event == id));
                if test {
                    self.events[id as usize].tx_type = T::UncancelTestRebill;
                }
                id
            }
            T::SubscriptionChg => {
                let i = self.active_sub(false);
                let cur = self.products[self.subs[i].product].currency;
                let old = self.subs[i].product;
                let alternative = self
                    .products
                    .iter()
                    .enumerate()
                    .find(|(n, p)| *n != old && p.active && p.plan.is_some() && p.currency == cur)
                    .map(|(n, _)| n);
                if let Some(n) = alternative {
                    if let Some(plan) = self.products[n].plan.clone() {
                        let s = &mut self.subs[i];
                        s.product = n;
                        s.rebill = plan.rebill;
                        s.frequency = plan.frequency;
                        s.total = s.processed + plan.duration;
                    }
                }
                let ev = self.sub_event(i, T::SubscriptionChg, now);
                self.push_event(ev)
            }
            T::AbandonedOrder => {
                let cust = self.rng.gen_range(0..self.customers.len().max(1));
                let cust = if self.customers.is_empty() {
                    let c = make_customer(&mut self.rng, 0);
                    self.customers.push(c);
                    0
                } else {
                    cust
                };
                let c = &self.customers[cust];
                let lines = super::dataset::cart_lines(
                    &self.products,
                    self.events.len(),
                    c.currency,
                    &c.address.country,
                );
                let ev = SbEvent {
                    id: 0,
                    time: now,
                    receipt: None,
                    tx_type: T::AbandonedOrder,
                    customer: cust,
                    affiliate: None,
                    payment_method: "",
                    currency: self.customers[cust].currency,
                    lines,
                    tracking_id: None,
                    upsell_original: None,
                    vendor_vars: Vec::new(),
                };
                self.push_event(ev)
            }
            T::Test => {
                let cust = 0;
                let product = self
                    .products
                    .iter()
                    .position(|p| p.role == FunnelRole::Front)
                    .unwrap_or(0);
                let p = self.products[product].clone();
                let ev = SbEvent {
                    id: 0,
                    time: now,
                    receipt: Some("********".into()),
                    tx_type: T::Test,
                    customer: cust,
                    affiliate: None,
                    payment_method: "VISA",
                    currency: p.currency,
                    lines: vec![make_line(
                        &p,
                        product,
                        LineItemType::Original,
                        1,
                        p.price,
                        false,
                        "",
                    )],
                    tracking_id: None,
                    upsell_original: None,
                    vendor_vars: Vec::new(),
                };
                self.push_event(ev)
            }
            T::Fee | T::TestFee => {
                let receipt = self.refundable_receipt(*tx_type == T::TestFee);
                let Some(info) = self.receipts.get(&receipt).cloned() else {
                    return self.new_sale(false, false);
                };
                let mut ev = self.receipt_event(&receipt, &info, now);
                ev.tx_type = tx_type.clone();
                ev.lines = info
                    .sale_lines
                    .iter()
                    .take(1)
                    .map(|l| SbLine {
                        customer_amount: 0,
                        account_amount: -100,
                        tax: 0,
                        shipping: 0,
                        ..l.clone()
                    })
                    .collect();
                self.push_event(ev)
            }
            other => {
                // Customer events and unknown types: about a recent sale, no money.
                let receipt = self.refundable_receipt(false);
                let Some(info) = self.receipts.get(&receipt).cloned() else {
                    return self.new_sale(false, false);
                };
                let mut ev = self.receipt_event(&receipt, &info, now);
                ev.tx_type = other.clone();
                ev.lines = info
                    .sale_lines
                    .iter()
                    .map(|l| SbLine {
                        customer_amount: 0,
                        account_amount: 0,
                        tax: 0,
                        shipping: 0,
                        ..l.clone()
                    })
                    .collect();
                self.push_event(ev)
            }
        }
    }

    /// A random live event for the `--events-per-second` stream.
    pub fn random_event(&mut self) -> u64 {
        use TransactionType as T;
        let roll = self.rng.gen_range(0..100);
        let t = match roll {
            0..=47 => T::Sale,
            48..=62 => T::Bill,
            63..=70 => T::Rfnd,
            71..=75 => T::CancelRebill,
            76..=85 => T::AbandonedOrder,
            86..=87 => T::Cgbk,
            88..=89 => T::UncancelRebill,
            90..=91 => T::SubscriptionChg,
            92..=93 => T::TestSale,
            94..=95 => T::CustomerEmailUpdate,
            96 => T::Insf,
            97 => T::CustomerAuthFailure,
            _ => T::Fee,
        };
        self.create_event(&t)
    }
}
