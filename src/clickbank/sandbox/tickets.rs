//! Tickets: refunds and cancellations, their refusals, previews and delayed completion.

use std::time::Instant;

use chrono::Duration;

use super::dataset::negate;
use super::model::{ReceiptInfo, SbLine, SbTicket};
use super::state::{bad_request, forbidden, param, required, ApiError, Job, Params, Pending, State};
use crate::clickbank::money::parse_minor;
use crate::clickbank::requests::reasons;
use crate::clickbank::types::{LineItemStatus, RefundType, TicketStatus, TicketType, TransactionType};

/// The line a partial refund of `amount` pays back, out of `lines` (the SKU's, or all, of
/// the last payment; not empty): the line of exactly that price when there is one (one of
/// two lines of a SKU paid back), else the first, with the vendor's share in proportion.
fn partial_line(lines: &[&SbLine], amount: i64) -> SbLine {
    let of = lines
        .iter()
        .find(|l| l.customer_amount == amount)
        .or(lines.first())
        .map(|l| (*l).clone())
        .unwrap_or(SbLine {
            product: 0,
            line_type: crate::clickbank::types::LineItemType::Original,
            qty: 1,
            customer_amount: amount,
            account_amount: amount,
            tax: 0,
            shipping: 0,
        });
    SbLine {
        customer_amount: -amount,
        account_amount: -(amount * of.account_amount / of.customer_amount.max(1)),
        tax: 0,
        shipping: 0,
        ..of
    }
}

impl State {
    /// The refund a request asks for: (type, lines paid back, money).
    fn refund_plan(
        &self,
        info: &ReceiptInfo,
        p: &Params,
    ) -> Result<(RefundType, Vec<SbLine>, i64), ApiError> {
        let rt = required(p, "refundType")?;
        let refund_type = match rt {
            "FULL" => RefundType::Full,
            "PARTIAL_PERCENT" => RefundType::PartialPercent,
            "PARTIAL_AMOUNT" => RefundType::PartialAmount,
            other => return Err(bad_request(format!("Invalid refundType: {other}"))),
        };
        let remaining = info.refundable();
        if remaining == 0 {
            return Err(forbidden("Order already refunded"));
        }
        if refund_type != RefundType::Full && !self.settings.partial_refunds {
            return Err(forbidden("Partial refunds are not enabled for this vendor"));
        }
        let sku = param(p, "sku");
        let base_lines: Vec<&SbLine> = info
            .last_payment
            .lines
            .iter()
            .filter(|l| sku.is_none_or(|s| self.products[l.product].sku.eq_ignore_ascii_case(s)))
            .collect();
        if base_lines.is_empty() {
            return Err(bad_request(format!(
                "sku {} is not part of this order",
                sku.unwrap_or("")
            )));
        }
        let partial_line = |amount: i64| partial_line(&base_lines, amount);
        match refund_type {
            RefundType::Full => {
                if info.refunded_of_last > 0 || sku.is_some() {
                    // Pay back what is left (of the SKU's lines).
                    let lines_total: i64 = base_lines
                        .iter()
                        .map(|l| l.customer_amount + l.tax + l.shipping)
                        .sum();
                    let amount = lines_total.min(remaining);
                    if amount == lines_total {
                        let owned: Vec<SbLine> = base_lines.into_iter().cloned().collect();
                        Ok((refund_type, negate(&owned), amount))
                    } else {
                        Ok((refund_type, vec![partial_line(amount)], amount))
                    }
                } else {
                    Ok((refund_type, negate(&info.last_payment.lines), remaining))
                }
            }
            RefundType::PartialPercent => {
                let v = required(p, "refundAmount")?;
                let pct: i64 = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=80).contains(n))
                    .ok_or_else(|| bad_request("refundAmount must be a whole percentage from 1 to 80"))?;
                let base: i64 = base_lines.iter().map(|l| l.customer_amount).sum();
                let amount = (base * pct / 100).clamp(1, remaining);
                Ok((refund_type, vec![partial_line(amount)], amount))
            }
            _ => {
                let v = required(p, "refundAmount")?;
                let amount = parse_minor(v, info.currency)
                    .map_err(|e| bad_request(format!("Invalid refundAmount: {e}")))?;
                if amount <= 0 {
                    return Err(bad_request("refundAmount must be positive"));
                }
                if amount > remaining {
                    return Err(bad_request("refundAmount exceeds the refundable amount"));
                }
                Ok((refund_type, vec![partial_line(amount)], amount))
            }
        }
    }

    /// `GET /tickets/refundAmounts/{receipt}`: (currency, type, subtotal, tax, shipping, total).
    pub fn refund_preview(
        &self,
        receipt: &str,
        p: &Params,
    ) -> Result<(&'static str, RefundType, i64, i64, i64, i64), ApiError> {
        let info = self.receipt(receipt)?;
        let (rt, lines, total) = self.refund_plan(info, p)?;
        let tax: i64 = -lines.iter().map(|l| l.tax).sum::<i64>();
        let shipping: i64 = -lines.iter().map(|l| l.shipping).sum::<i64>();
        Ok((info.currency, rt, total - tax - shipping, tax, shipping, total))
    }

    pub fn create_ticket(&mut self, receipt: &str, p: &Params) -> Result<u64, ApiError> {
        let key = receipt.to_ascii_uppercase();
        let info = self.receipt(&key)?.clone();
        let wire = required(p, "type")?;
        let ticket_type = match wire {
            "rfnd" => TicketType::Refund,
            "cncl" => TicketType::Cancel,
            "tech" => TicketType::TechSupport,
            other => return Err(bad_request(format!("Invalid ticket type: {other}"))),
        };
        let reason = required(p, "reason")?;
        if !reasons::is_valid(wire, reason) {
            return Err(bad_request(format!("Invalid reason: {reason}")));
        }
        let now = self.now();
        let open_of = |t: &TicketType| {
            self.tickets
                .iter()
                .any(|x| x.receipt == key && x.is_open() && &x.ticket_type == t)
        };
        let sku = param(p, "sku").map(str::to_string);
        let mut ticket = SbTicket {
            id: 1_000_001 + self.tickets.len() as u64,
            receipt: key.clone(),
            status: TicketStatus::Open,
            ticket_type: ticket_type.clone(),
            reason: reason.to_string(),
            opened: now,
            closed: None,
            updated: now,
            refund_type: None,
            refund_minor: 0,
            sku: sku.clone(),
            retain_subscription: param(p, "retainSubscription")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            comments: Vec::new(),
            processed: false,
        };
        if let Some(c) = param(p, "comment") {
            ticket.comments.push((now, c.to_string(), "OPEN"));
        }
        match ticket_type {
            TicketType::Refund => {
                if info.chargeback {
                    return Err(forbidden("Order has a chargeback and cannot be refunded"));
                }
                if open_of(&TicketType::Refund) {
                    return Err(forbidden("Refund ticket already open"));
                }
                if now - info.last_payment.time > Duration::days(60) {
                    return Err(forbidden("Order is too old to be refunded"));
                }
                let (rt, _, amount) = self.refund_plan(&info, p)?;
                ticket.refund_type = Some(rt);
                ticket.refund_minor = amount;
                self.open_refunds.insert(key.clone());
            }
            TicketType::Cancel => {
                if open_of(&TicketType::Cancel) {
                    return Err(forbidden("Cancel ticket already open"));
                }
                match self.find_sub(&key, sku.as_deref()) {
                    Ok(i) => self.require_active(i)?,
                    Err(e) if e.text == "Order is not a subscription" => {
                        // On a one-off order a cancel refunds it.
                        if info.refundable() == 0 {
                            return Err(forbidden("Order already refunded"));
                        }
                        ticket.refund_type = Some(RefundType::Full);
                        ticket.refund_minor = info.refundable();
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => {}
        }
        let id = ticket.id;
        let is_tech = ticket_type == TicketType::TechSupport;
        self.tickets.push(ticket);
        if !is_tech {
            self.pending.push(Pending {
                due: Instant::now() + self.settings.ticket_delay,
                job: Job::CompleteTicket(id),
            });
        }
        self.version += 1;
        Ok(id)
    }

    pub fn ticket_index(&self, id: &str) -> Result<usize, ApiError> {
        id.trim()
            .parse::<u64>()
            .ok()
            .and_then(|id| self.tickets.iter().position(|t| t.id == id))
            .ok_or_else(|| forbidden(format!("Ticket not found: {id}")))
    }

    pub fn update_ticket(&mut self, id: &str, p: &Params) -> Result<usize, ApiError> {
        let i = self.ticket_index(id)?;
        let action = required(p, "action")?;
        let now = self.now();
        let comment = param(p, "comment").map(str::to_string);
        let t = &mut self.tickets[i];
        match action.to_ascii_lowercase().as_str() {
            "close" => {
                if t.status == TicketStatus::Closed {
                    return Err(forbidden("Ticket already closed"));
                }
                t.status = TicketStatus::Closed;
                t.closed = Some(now);
                if t.ticket_type == TicketType::Refund && !t.processed {
                    let r = t.receipt.clone();
                    self.open_refunds.remove(&r);
                }
            }
            "reopen" => {
                if t.status != TicketStatus::Closed {
                    return Err(forbidden("Ticket is not closed"));
                }
                if t.processed {
                    return Err(forbidden("Ticket was already processed"));
                }
                t.status = TicketStatus::Reopened;
                t.closed = None;
                let (tid, refund, receipt) = (t.id, t.ticket_type == TicketType::Refund, t.receipt.clone());
                if refund {
                    self.open_refunds.insert(receipt);
                }
                self.pending.push(Pending {
                    due: Instant::now() + self.settings.ticket_delay,
                    job: Job::CompleteTicket(tid),
                });
            }
            "change" => {
                if comment.is_none() {
                    return Err(bad_request("Missing required parameter: comment"));
                }
            }
            other => return Err(bad_request(format!("Invalid action: {other}"))),
        }
        let t = &mut self.tickets[i];
        t.updated = now;
        if let Some(c) = comment {
            t.comments.push((now, c, "VENDOR"));
        }
        self.version += 1;
        Ok(i)
    }

    /// Apply a ticket whose delay has passed: RFND or CANCEL-REBILL. Returns the event id.
    pub fn complete_ticket(&mut self, id: u64) -> Option<u64> {
        let i = self.tickets.iter().position(|t| t.id == id)?;
        if !self.tickets[i].is_open() || self.tickets[i].processed {
            return None;
        }
        let now = self.now();
        let t = self.tickets[i].clone();
        let info = self.receipts.get(&t.receipt)?.clone();
        let event = if t.refund_minor > 0 {
            let mut p = Params::new();
            p.insert("refundType".into(), "FULL".into());
            if let Some(s) = &t.sku {
                p.insert("sku".into(), s.clone());
            }
            let lines = if t.refund_type == Some(RefundType::Full) {
                self.refund_plan(&info, &p).map(|(_, l, _)| l).unwrap_or_default()
            } else {
                let lines: Vec<&SbLine> = info
                    .last_payment
                    .lines
                    .iter()
                    .filter(|l| {
                        t.sku
                            .as_deref()
                            .is_none_or(|s| self.products[l.product].sku.eq_ignore_ascii_case(s))
                    })
                    .collect();
                if lines.is_empty() {
                    return None;
                }
                vec![partial_line(&lines, t.refund_minor)]
            };
            let refunded: i64 = -lines
                .iter()
                .map(|l| l.customer_amount + l.tax + l.shipping)
                .sum::<i64>();
            if let Some(r) = self.receipts.get_mut(&t.receipt) {
                r.refunded_of_last += refunded;
            }
            let stop_billing = t.ticket_type == TicketType::Cancel || !t.retain_subscription;
            if stop_billing {
                self.cancel_subs_of(&t.receipt, now);
            }
            let mut ev = self.receipt_event(&t.receipt, &info, now);
            ev.tx_type = if info.test {
                TransactionType::TestRfnd
            } else {
                TransactionType::Rfnd
            };
            ev.lines = lines;
            Some(ev)
        } else if t.ticket_type == TicketType::Cancel {
            let idx = self.find_sub(&t.receipt, t.sku.as_deref()).ok()?;
            self.subs[idx].status = LineItemStatus::Canceled;
            self.subs[idx].canceled_at = Some(now);
            self.subs[idx].next_payment = None;
            let ty = if info.test {
                TransactionType::CancelTestRebill
            } else {
                TransactionType::CancelRebill
            };
            Some(self.sub_event(idx, ty, now))
        } else {
            None
        };
        let tk = &mut self.tickets[i];
        tk.status = TicketStatus::Closed;
        tk.closed = Some(now);
        tk.updated = now;
        tk.processed = true;
        tk.comments.push((now, "Processed by ClickBank".into(), "CLOSE"));
        self.open_refunds.remove(&t.receipt);
        self.version += 1;
        let id = self.push_event(event?);
        self.queue_delivery(id);
        Some(id)
    }
}
