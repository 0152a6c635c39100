//! Subscription actions with ClickBank's rules (changeDate, pause, reinstate, extend,
//! changeProduct, changeAddress) and subscription lookups.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{add_period, SbEvent, SbLine, Subscription};
use super::state::{bad_request, date_param, forbidden, param, required, ApiError, Params, State};
use crate::clickbank::rules;
use crate::clickbank::time::pacific_date;
use crate::clickbank::types::{LineItemStatus, LineItemType, TransactionType};

impl State {
    /// The subscription of a receipt (by SKU for multi-subscription receipts).
    pub fn find_sub(&self, receipt: &str, sku: Option<&str>) -> Result<usize, ApiError> {
        let key = receipt.to_ascii_uppercase();
        self.receipt(&key)?;
        let subs = self
            .sub_index
            .get(&key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| forbidden("Order is not a subscription"))?;
        match sku {
            Some(sku) => subs
                .iter()
                .copied()
                .find(|&i| self.products[self.subs[i].product].sku.eq_ignore_ascii_case(sku))
                .ok_or_else(|| forbidden(format!("No subscription for sku {sku} on this order"))),
            None if subs.len() == 1 => Ok(subs[0]),
            None => Err(bad_request(
                "sku is required for an order with several subscriptions",
            )),
        }
    }

    pub(super) fn require_active(&self, i: usize) -> Result<(), ApiError> {
        match self.subs[i].status {
            LineItemStatus::Active => Ok(()),
            LineItemStatus::Canceled => Err(forbidden("Subscription already canceled")),
            LineItemStatus::Completed => Err(forbidden("Subscription already completed")),
            _ => Err(forbidden("Subscription is not active")),
        }
    }

    pub(super) fn at_same_time_of_day(
        &self,
        date: NaiveDate,
        like_time: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        rules::at_same_time_of_day(date, like_time)
    }

    pub fn change_date(&mut self, receipt: &str, p: &Params) -> Result<(), ApiError> {
        let date = date_param(p, "changeDate")?;
        let i = self.find_sub(receipt, param(p, "sku"))?;
        self.require_active(i)?;
        rules::check_change_date(date, self.today()).map_err(forbidden)?;
        let t = self.at_same_time_of_day(date, self.subs[i].next_payment);
        let sub = &mut self.subs[i];
        sub.next_payment = Some(t);
        sub.paused_until = None;
        self.version += 1;
        Ok(())
    }

    pub fn pause(&mut self, receipt: &str, p: &Params) -> Result<(), ApiError> {
        let restart = date_param(p, "restartDate")?;
        let i = self.find_sub(receipt, param(p, "sku"))?;
        self.require_active(i)?;
        let next = self.subs[i]
            .next_payment
            .ok_or_else(|| forbidden("Subscription has no scheduled payment"))?;
        rules::check_pause(restart, pacific_date(next), self.today()).map_err(forbidden)?;
        let t = self.at_same_time_of_day(restart, Some(next));
        let sub = &mut self.subs[i];
        sub.next_payment = Some(t);
        sub.paused_until = Some(t);
        self.version += 1;
        Ok(())
    }

    pub fn reinstate(&mut self, receipt: &str, p: &Params) -> Result<u64, ApiError> {
        let i = self.find_sub(receipt, param(p, "sku"))?;
        let now = self.now();
        let sub = &self.subs[i];
        if sub.status != LineItemStatus::Canceled {
            return Err(forbidden("Subscription is not canceled"));
        }
        let info = self.receipt(receipt)?;
        if info.chargeback || info.refundable() == 0 {
            return Err(forbidden("A refunded subscription cannot be reinstated"));
        }
        rules::check_reinstate(sub.canceled_at, now).map_err(forbidden)?;
        Ok(self.apply_uncancel(i, now))
    }

    pub(super) fn apply_uncancel(&mut self, i: usize, now: DateTime<Utc>) -> u64 {
        let receipt = self.subs[i].receipt.clone();
        let last = self
            .receipts
            .get(&receipt)
            .map(|r| r.last_payment.time)
            .unwrap_or(now);
        let sub = &mut self.subs[i];
        let mut next = add_period(last, &sub.frequency);
        while next <= now {
            next = add_period(next, &sub.frequency);
        }
        sub.status = LineItemStatus::Active;
        sub.canceled_at = None;
        sub.next_payment = Some(next);
        let ev = self.sub_event(i, TransactionType::UncancelRebill, now);
        let id = self.push_event(ev);
        self.queue_delivery(id);
        id
    }

    pub fn extend(&mut self, receipt: &str, p: &Params) -> Result<(), ApiError> {
        let n = required(p, "numPeriods")?;
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| (1..=99).contains(n))
            .ok_or_else(|| bad_request(format!("Invalid numPeriods: {n}")))?;
        let i = self.find_sub(receipt, param(p, "sku"))?;
        self.require_active(i)?;
        self.subs[i].total += n;
        self.version += 1;
        Ok(())
    }

    pub fn change_product(&mut self, receipt: &str, p: &Params) -> Result<u64, ApiError> {
        let old = required(p, "oldSku")?;
        let new = required(p, "newSku")?;
        let i = self.find_sub(receipt, Some(old))?;
        self.require_active(i)?;
        let cur = self.products[self.subs[i].product].currency;
        let np = self
            .product_index(new)
            .filter(|&n| {
                let pr = &self.products[n];
                pr.active && pr.plan.is_some() && pr.currency == cur
            })
            .ok_or_else(|| forbidden("newSku is not an active recurring product in the same currency"))?;
        let next_date = match param(p, "nextRebillDate") {
            Some(_) => Some(date_param(p, "nextRebillDate")?),
            None => None,
        };
        if next_date.is_some_and(|d| d <= self.today()) {
            return Err(forbidden("nextRebillDate must be a future date"));
        }
        let now = self.now();
        let next_time = next_date.map(|d| self.at_same_time_of_day(d, self.subs[i].next_payment));
        let plan = self.products[np].plan.clone();
        let sub = &mut self.subs[i];
        sub.product = np;
        if let Some(plan) = plan {
            sub.rebill = plan.rebill;
            sub.frequency = plan.frequency;
            sub.total = sub.processed + plan.duration;
        }
        if let Some(t) = next_time {
            sub.next_payment = Some(t);
        }
        let ev = self.sub_event(i, TransactionType::SubscriptionChg, now);
        let id = self.push_event(ev);
        self.queue_delivery(id);
        Ok(id)
    }

    pub fn change_address(&mut self, receipt: &str, p: &Params) -> Result<(), ApiError> {
        let address1 = required(p, "address1")?.to_string();
        let city = required(p, "city")?.to_string();
        let country = required(p, "countryCode")?.to_ascii_uppercase();
        let info = self.receipt(receipt)?;
        if !info.has_physical(&self.products) {
            return Err(forbidden("Order has no physical products"));
        }
        let base = self.customers[info.customer].address.clone();
        let text = |k: &str| param(p, k).map(str::to_string);
        let addr = super::model::SbAddress {
            address1,
            address2: text("address2"),
            city,
            county: text("county"),
            state: text("province"),
            postal_code: text("postalCode").unwrap_or(base.postal_code),
            country,
        };
        let key = receipt.to_ascii_uppercase();
        if let Some(r) = self.receipts.get_mut(&key) {
            r.address_override = Some(addr);
        }
        self.version += 1;
        Ok(())
    }

    /// An INS-only subscription event (no money) for subscription `i`.
    pub(super) fn sub_event(&self, i: usize, tx_type: TransactionType, now: DateTime<Utc>) -> SbEvent {
        let sub = &self.subs[i];
        let info = self.receipts.get(&sub.receipt);
        let line = SbLine {
            product: sub.product,
            line_type: LineItemType::Original,
            qty: 1,
            customer_amount: 0,
            account_amount: 0,
            tax: 0,
            shipping: 0,
        };
        SbEvent {
            id: 0,
            time: now,
            receipt: Some(sub.receipt.clone()),
            tx_type,
            customer: info.map(|r| r.customer).unwrap_or(0),
            affiliate: info.and_then(|r| r.affiliate),
            payment_method: info.map(|r| r.payment_method).unwrap_or("VISA"),
            currency: self.products[sub.product].currency,
            lines: vec![line],
            tracking_id: info.and_then(|r| r.tracking_id.clone()),
            upsell_original: None,
            vendor_vars: info.map(|r| r.vendor_vars.clone()).unwrap_or_default(),
        }
    }

    /// `HEAD /orders2/{receipt}`: an active subscription?
    pub fn subscription_active(&self, receipt: &str, sku: Option<&str>) -> bool {
        let key = receipt.to_ascii_uppercase();
        self.sub_index.get(&key).is_some_and(|subs| {
            subs.iter().any(|&i| {
                let s = &self.subs[i];
                s.status == LineItemStatus::Active
                    && sku.is_none_or(|k| self.products[s.product].sku.eq_ignore_ascii_case(k))
            })
        })
    }

    pub fn subscription_of(&self, receipt: &str, product: usize) -> Option<&Subscription> {
        self.sub_index
            .get(receipt)?
            .iter()
            .map(|&i| &self.subs[i])
            .find(|s| s.product == product)
            .or_else(|| {
                // After a product change the line still names the old product.
                self.sub_index.get(receipt)?.first().map(|&i| &self.subs[i])
            })
    }

    pub(super) fn cancel_subs_of(&mut self, receipt: &str, now: DateTime<Utc>) {
        if let Some(subs) = self.sub_index.get(receipt) {
            for &s in subs {
                let sub = &mut self.subs[s];
                if sub.status == LineItemStatus::Active {
                    sub.status = LineItemStatus::Canceled;
                    sub.canceled_at = Some(now);
                    sub.next_payment = None;
                }
            }
        }
    }
}
