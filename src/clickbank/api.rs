//! The ClickBank API as a trait, so the app can use the real client, the sandbox or a fake.

use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDate;

use super::error::ClickBankError;
use super::requests::{
    AddressChange, OrdersQuery, ProductChange, ProductsQuery, RefundKind, ShipNotice, TicketRequest,
};
use super::types::{
    OrderRecord, OrdersPage, Product, ProductsPage, RefundAmounts, SubscriptionStatus, Ticket,
};

/// The boxed future every [`ClickBankApi`] method returns (object safe, `Send`).
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClickBankError>> + Send + 'a>>;

/// Every ClickBank operation the portal uses. `Arc<dyn ClickBankApi>` is the usual handle.
///
/// Receipts and SKUs are ClickBank's; `sku` is needed for multi-item orders.
pub trait ClickBankApi: Send + Sync {
    /// One page (1-based) of `orders2/list`; `more` tells whether another page follows.
    fn orders_page<'a>(&'a self, query: &'a OrdersQuery, page: u32) -> ApiFuture<'a, OrdersPage>;
    /// `orders2/count`.
    fn orders_count<'a>(&'a self, query: &'a OrdersQuery) -> ApiFuture<'a, u64>;
    /// The transactions of one receipt (`orders2/{receipt}`).
    fn order<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>) -> ApiFuture<'a, Vec<OrderRecord>>;
    /// Upsell orders bought after `receipt`.
    fn upsells<'a>(&'a self, receipt: &'a str) -> ApiFuture<'a, Vec<OrderRecord>>;
    /// Whether the subscription of `receipt` is active (`HEAD orders2/{receipt}`).
    fn subscription_status<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
    ) -> ApiFuture<'a, SubscriptionStatus>;
    /// Move the next rebill to `date` (a future day).
    fn change_date<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
        date: NaiveDate,
    ) -> ApiFuture<'a, ()>;
    /// Pause until `restart_date` (not before the next payment, at most 60 days out).
    fn pause<'a>(
        &'a self,
        receipt: &'a str,
        sku: Option<&'a str>,
        restart_date: NaiveDate,
    ) -> ApiFuture<'a, ()>;
    /// Resume a subscription canceled less than 60 days ago.
    fn reinstate<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>) -> ApiFuture<'a, ()>;
    /// Add `num_periods` payments.
    fn extend<'a>(&'a self, receipt: &'a str, sku: Option<&'a str>, num_periods: u32) -> ApiFuture<'a, ()>;
    /// Change the shipping address.
    fn change_address<'a>(&'a self, receipt: &'a str, change: &'a AddressChange) -> ApiFuture<'a, ()>;
    /// Switch the subscription to another product.
    fn change_product<'a>(&'a self, receipt: &'a str, change: &'a ProductChange) -> ApiFuture<'a, ()>;
    /// One page of `products/list`.
    fn products_page<'a>(&'a self, query: &'a ProductsQuery, page: u32) -> ApiFuture<'a, ProductsPage>;
    /// One product by SKU.
    fn product<'a>(&'a self, site: &'a str, sku: &'a str) -> ApiFuture<'a, Product>;
    /// Open a ticket. A creation that timed out is not re-posted blindly: the receipt's
    /// open tickets are checked first and a matching one is returned.
    fn create_ticket<'a>(&'a self, receipt: &'a str, request: &'a TicketRequest) -> ApiFuture<'a, Ticket>;
    /// Preview what a refund would pay back.
    fn refund_amounts<'a>(
        &'a self,
        receipt: &'a str,
        kind: &'a RefundKind,
        sku: Option<&'a str>,
    ) -> ApiFuture<'a, RefundAmounts>;
    /// One ticket.
    fn ticket<'a>(&'a self, ticket_id: &'a str) -> ApiFuture<'a, Ticket>;
    /// All tickets of a receipt.
    fn tickets_for_receipt<'a>(&'a self, receipt: &'a str) -> ApiFuture<'a, Vec<Ticket>>;
    /// Close a ticket (an open refund is then not paid).
    fn close_ticket<'a>(&'a self, ticket_id: &'a str, comment: Option<&'a str>) -> ApiFuture<'a, Ticket>;
    /// Post a shipping notice.
    fn ship_notice<'a>(&'a self, receipt: &'a str, notice: &'a ShipNotice) -> ApiFuture<'a, ()>;
    /// HTTP requests this handle has sent so far, retries included (for the account's daily
    /// count).
    fn requests_sent(&self) -> u64 {
        0
    }
}

/// Walks the orders list page by page (the import job can persist [`OrderPages::next_page_number`]).
pub struct OrderPages<'a> {
    api: &'a dyn ClickBankApi,
    query: OrdersQuery,
    next: u32,
    done: bool,
}

impl<'a> OrderPages<'a> {
    /// Start at page 1.
    pub fn new(api: &'a dyn ClickBankApi, query: OrdersQuery) -> Self {
        Self::starting_at(api, query, 1)
    }

    /// Resume at `page` (1-based).
    pub fn starting_at(api: &'a dyn ClickBankApi, query: OrdersQuery, page: u32) -> Self {
        OrderPages {
            api,
            query,
            next: page.max(1),
            done: false,
        }
    }

    /// The page the next call fetches.
    pub fn next_page_number(&self) -> u32 {
        self.next
    }

    /// Fetch the next page; `None` once the last page (HTTP 200) was returned. An
    /// empty page also ends the walk, so a misbehaving server cannot loop it forever.
    pub async fn next_page(&mut self) -> Result<Option<OrdersPage>, ClickBankError> {
        if self.done {
            return Ok(None);
        }
        let page = self.api.orders_page(&self.query, self.next).await?;
        self.next += 1;
        self.done = !page.more || page.records.is_empty();
        Ok(Some(page))
    }
}

/// Every record matching `query`, all pages.
pub async fn fetch_all_orders(
    api: &dyn ClickBankApi,
    query: &OrdersQuery,
) -> Result<Vec<OrderRecord>, ClickBankError> {
    let mut pages = OrderPages::new(api, query.clone());
    let mut out = Vec::new();
    while let Some(page) = pages.next_page().await? {
        out.extend(page.records);
    }
    Ok(out)
}

/// Every product of a site, all pages.
pub async fn fetch_all_products(
    api: &dyn ClickBankApi,
    query: &ProductsQuery,
) -> Result<Vec<Product>, ClickBankError> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let p = api.products_page(query, page).await?;
        let empty = p.products.is_empty();
        out.extend(p.products);
        if !p.more || empty {
            return Ok(out);
        }
        page += 1;
    }
}
