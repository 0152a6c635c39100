//! ClickBank's endpoints (orders, subscriptions, products, tickets, shipping) on top of
//! the transport, and the [`ClickBankApi`] implementation.

use chrono::NaiveDate;
use reqwest::{Method, StatusCode};

use super::bodies::{parse_one_ticket, parse_tickets, ProductBody, RefundAmountsBody};
use super::{decode_err, invalid, ClickBankClient};
use crate::clickbank::api::{ApiFuture, ClickBankApi};
use crate::clickbank::error::ClickBankError;
use crate::clickbank::requests::{
    AddressChange, OrdersQuery, ProductChange, ProductsQuery, RefundKind, ShipNotice, TicketRequest,
};
use crate::clickbank::types::{
    parse_orders, parse_products, OrderRecord, OrdersPage, Product, ProductsPage, RefundAmounts,
    SubscriptionStatus, Ticket, TicketType,
};

impl ClickBankClient {
    async fn get_orders_page(&self, query: &OrdersQuery, page: u32) -> Result<OrdersPage, ClickBankError> {
        let pairs = query.to_pairs()?;
        let page = page.max(1);
        let answer = self
            .read(Method::GET, &["orders2", "list"], &pairs, Some(page), &[])
            .await?;
        let records = parse_orders(&answer.body).map_err(decode_err)?;
        Ok(OrdersPage {
            page,
            records,
            more: answer.status == StatusCode::PARTIAL_CONTENT,
        })
    }

    async fn get_count(&self, query: &OrdersQuery) -> Result<u64, ClickBankError> {
        let pairs = query.to_pairs()?;
        let answer = self
            .read(Method::GET, &["orders2", "count"], &pairs, None, &[])
            .await?;
        let text = String::from_utf8_lossy(&answer.body);
        let t = text.trim().trim_matches('"');
        t.parse::<u64>()
            .map_err(|_| decode_err(format!("`{t}` is not an order count")))
    }

    async fn get_order(&self, receipt: &str, sku: Option<&str>) -> Result<Vec<OrderRecord>, ClickBankError> {
        let pairs: Vec<_> = sku.map(|s| ("sku", s.to_string())).into_iter().collect();
        let answer = self
            .read(Method::GET, &["orders2", receipt], &pairs, None, &[])
            .await?;
        parse_orders(&answer.body).map_err(decode_err)
    }

    async fn get_upsells(&self, receipt: &str) -> Result<Vec<OrderRecord>, ClickBankError> {
        let answer = self
            .read(Method::GET, &["orders2", receipt, "upsells"], &[], None, &[])
            .await?;
        parse_orders(&answer.body).map_err(decode_err)
    }

    async fn head_status(
        &self,
        receipt: &str,
        sku: Option<&str>,
    ) -> Result<SubscriptionStatus, ClickBankError> {
        let pairs: Vec<_> = sku.map(|s| ("sku", s.to_string())).into_iter().collect();
        let answer = self
            .read(
                Method::HEAD,
                &["orders2", receipt],
                &pairs,
                None,
                &[StatusCode::FORBIDDEN],
            )
            .await?;
        Ok(
            if answer.status == StatusCode::NO_CONTENT || answer.status == StatusCode::OK {
                SubscriptionStatus::Active
            } else {
                SubscriptionStatus::NotActive
            },
        )
    }

    async fn subscription_action(
        &self,
        receipt: &str,
        action: &str,
        mut pairs: Vec<(&'static str, String)>,
        sku: Option<&str>,
    ) -> Result<(), ClickBankError> {
        if let Some(s) = sku {
            pairs.push(("sku", s.to_string()));
        }
        self.write(Method::POST, &["orders2", receipt, action], &pairs)
            .await
            .map(|_| ())
    }

    async fn get_products_page(
        &self,
        query: &ProductsQuery,
        page: u32,
    ) -> Result<ProductsPage, ClickBankError> {
        if query.site.trim().is_empty() {
            return Err(invalid("the products list needs a site nickname"));
        }
        let page = page.max(1);
        let answer = self
            .read(
                Method::GET,
                &["products", "list"],
                &query.to_pairs(),
                Some(page),
                &[],
            )
            .await?;
        Ok(ProductsPage {
            page,
            products: parse_products(&answer.body).map_err(decode_err)?,
            more: answer.status == StatusCode::PARTIAL_CONTENT,
        })
    }

    async fn get_product(&self, site: &str, sku: &str) -> Result<Product, ClickBankError> {
        let answer = self
            .read(
                Method::GET,
                &["products", sku],
                &[("site", site.to_string())],
                None,
                &[],
            )
            .await?;
        let wrapped: ProductBody = serde_json::from_slice(&answer.body).map_err(decode_err)?;
        match wrapped.product {
            Some(p) => Ok(p),
            None => serde_json::from_slice::<Product>(&answer.body).map_err(decode_err),
        }
    }

    async fn list_tickets(&self, receipt: &str) -> Result<Vec<Ticket>, ClickBankError> {
        let pairs = vec![("receipt", receipt.to_string())];
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let answer = self
                .read(Method::GET, &["tickets", "list"], &pairs, Some(page), &[])
                .await?;
            let tickets = parse_tickets(&answer.body)?;
            let empty = tickets.is_empty();
            out.extend(tickets);
            if answer.status != StatusCode::PARTIAL_CONTENT || empty {
                return Ok(out);
            }
            page += 1;
        }
    }

    async fn find_open_ticket(
        &self,
        receipt: &str,
        ticket_type: &TicketType,
        sku: Option<&str>,
    ) -> Result<Option<Ticket>, ClickBankError> {
        let tickets = self.list_tickets(receipt).await?;
        Ok(tickets.into_iter().find(|t| {
            t.is_open()
                && t.ticket_type.as_ref() == Some(ticket_type)
                && match (sku, t.product_item_no.as_deref()) {
                    (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
                    _ => true,
                }
        }))
    }

    async fn post_ticket(
        &self,
        receipt: &str,
        pairs: &[(&'static str, String)],
    ) -> Result<Ticket, ClickBankError> {
        let answer = self.write(Method::POST, &["tickets", receipt], pairs).await?;
        parse_one_ticket(&answer.body)
    }

    async fn open_ticket(&self, receipt: &str, request: &TicketRequest) -> Result<Ticket, ClickBankError> {
        let pairs = request.to_pairs()?;
        let ticket_type = request.ticket_type();
        let sku = request.sku.as_deref();
        let first = match self.post_ticket(receipt, &pairs).await {
            Err(e) if e.is_ambiguous() => e,
            other => return other,
        };
        // The ticket may exist although no answer came: look before posting again.
        tracing::warn!(error = %first, receipt, "ticket creation unanswered; checking open tickets");
        if let Some(t) = self.find_open_ticket(receipt, &ticket_type, sku).await? {
            return Ok(t);
        }
        match self.post_ticket(receipt, &pairs).await {
            Err(ClickBankError::Forbidden { text }) if text.to_ascii_lowercase().contains("already open") => {
                self.find_open_ticket(receipt, &ticket_type, sku)
                    .await?
                    .ok_or(ClickBankError::Forbidden { text })
            }
            other => other,
        }
    }

    async fn get_refund_amounts(
        &self,
        receipt: &str,
        kind: &RefundKind,
        sku: Option<&str>,
    ) -> Result<RefundAmounts, ClickBankError> {
        let mut pairs = kind.to_pairs()?;
        if let Some(s) = sku {
            pairs.push(("sku", s.to_string()));
        }
        let answer = self
            .read(
                Method::GET,
                &["tickets", "refundAmounts", receipt],
                &pairs,
                None,
                &[],
            )
            .await?;
        let wrapped: RefundAmountsBody = serde_json::from_slice(&answer.body).map_err(decode_err)?;
        match wrapped.refund_amounts {
            Some(r) => Ok(r),
            None => serde_json::from_slice::<RefundAmounts>(&answer.body).map_err(decode_err),
        }
    }

    async fn get_ticket(&self, id: &str) -> Result<Ticket, ClickBankError> {
        let answer = self.read(Method::GET, &["tickets", id], &[], None, &[]).await?;
        parse_one_ticket(&answer.body)
    }

    async fn put_close(&self, id: &str, comment: Option<&str>) -> Result<Ticket, ClickBankError> {
        let mut pairs = vec![("action", "close".to_string())];
        if let Some(c) = comment {
            pairs.push(("comment", c.to_string()));
        }
        let answer = self.write(Method::PUT, &["tickets", id], &pairs).await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return self.get_ticket(id).await;
        }
        parse_one_ticket(&answer.body)
    }
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl ClickBankApi for ClickBankClient {
    fn requests_sent(&self) -> u64 {
        self.stats().requests
    }

    fn orders_page<'a>(&'a self, query: &'a OrdersQuery, page: u32) -> ApiFuture<'a, OrdersPage> {
        Box::pin(self.get_orders_page(query, page))
    }

    fn orders_count<'a>(&'a self, query: &'a OrdersQuery) -> ApiFuture<'a, u64> {
        Box::pin(self.get_count(query))
    }

    fn order<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>) -> ApiFuture<'a, Vec<OrderRecord>> {
        Box::pin(self.get_order(receipt, sku))
    }

    fn upsells<'a>(&'a self, receipt: &'a str) -> ApiFuture<'a, Vec<OrderRecord>> {
        Box::pin(self.get_upsells(receipt))
    }

    fn subscription_status<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
    ) -> ApiFuture<'a, SubscriptionStatus> {
        Box::pin(self.head_status(receipt, sku))
    }

    fn change_date<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
        date: NaiveDate,
    ) -> ApiFuture<'a, ()> {
        Box::pin(self.subscription_action(receipt, "changeDate", vec![("changeDate", date_text(date))], sku))
    }

    fn pause<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
        restart_date: NaiveDate,
    ) -> ApiFuture<'a, ()> {
        Box::pin(self.subscription_action(
            receipt,
            "pause",
            vec![("restartDate", date_text(restart_date))],
            sku,
        ))
    }

    fn reinstate<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>) -> ApiFuture<'a, ()> {
        Box::pin(self.subscription_action(receipt, "reinstate", Vec::new(), sku))
    }

    fn extend<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>, num_periods: u32) -> ApiFuture<'a, ()> {
        Box::pin(self.subscription_action(
            receipt,
            "extend",
            vec![("numPeriods", num_periods.to_string())],
            sku,
        ))
    }

    fn change_address<'a>(&'a self, receipt: &'a str, change: &'a AddressChange) -> ApiFuture<'a, ()> {
        Box::pin(async move {
            let pairs = change.to_pairs()?;
            self.subscription_action(receipt, "changeAddress", pairs, None)
                .await
        })
    }

    fn change_product<'a>(&'a self, receipt: &'a str, change: &'a ProductChange) -> ApiFuture<'a, ()> {
        Box::pin(self.subscription_action(receipt, "changeProduct", change.to_pairs(), None))
    }

    fn products_page<'a>(&'a self, query: &'a ProductsQuery, page: u32) -> ApiFuture<'a, ProductsPage> {
        Box::pin(self.get_products_page(query, page))
    }

    fn product<'a>(&'a self, site: &'a str, sku: &'a str) -> ApiFuture<'a, Product> {
        Box::pin(self.get_product(site, sku))
    }

    fn create_ticket<'a>(&'a self, receipt: &'a str, request: &'a TicketRequest) -> ApiFuture<'a, Ticket> {
        Box::pin(self.open_ticket(receipt, request))
    }

    fn refund_amounts<'a>(
        &'a self,
        receipt: &'a str,
        kind: &'a RefundKind,
        sku: Option<&'a str>,
    ) -> ApiFuture<'a, RefundAmounts> {
        Box::pin(self.get_refund_amounts(receipt, kind, sku))
    }

    fn ticket<'a>(&'a self, ticket_id: &'a str) -> ApiFuture<'a, Ticket> {
        Box::pin(self.get_ticket(ticket_id))
    }

    fn tickets_for_receipt<'a>(&'a self, receipt: &'a str) -> ApiFuture<'a, Vec<Ticket>> {
        Box::pin(self.list_tickets(receipt))
    }

    fn close_ticket<'a>(&'a self, ticket_id: &'a str, comment: Option<&'a str>) -> ApiFuture<'a, Ticket> {
        Box::pin(self.put_close(ticket_id, comment))
    }

    fn ship_notice<'a>(&'a self, receipt: &'a str, notice: &'a ShipNotice) -> ApiFuture<'a, ()> {
        Box::pin(async move {
            self.write(
                Method::POST,
                &["shipping", "shipnotice", receipt],
                &notice.to_pairs(),
            )
            .await
            .map(|_| ())
        })
    }
}
