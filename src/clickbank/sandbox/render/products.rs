//! Products in REST style (`products/list`, `products/{sku}`).

use super::json::{b, Json};
use crate::clickbank::money::format_minor;
use crate::clickbank::sandbox::catalog::usd_rate_percent;
use crate::clickbank::sandbox::model::SbProduct;
use crate::clickbank::sandbox::state::State;
use crate::clickbank::time::format_pacific_abbrev;

fn price_obj(j: &mut Json, minor: i64, currency: &str) {
    j.begin_obj();
    j.f_str("native_price", &format_minor(minor, currency));
    j.f_str(
        "usd",
        &format_minor(minor * usd_rate_percent(currency) / 100, "USD"),
    );
    j.end_obj();
}

/// One product in REST style.
fn rest_product(st: &State, p: &SbProduct, j: &mut Json) {
    let recurring = p.plan.is_some();
    j.begin_obj();
    j.f_str("@sku", &p.sku);
    j.f_str("id", &p.id.to_string());
    j.f_str("status", if p.active { "ACTIVE" } else { "INACTIVE" });
    j.f_str("site", &st.vendor);
    j.f_str("created", &format_pacific_abbrev(p.created));
    j.f_str("updated", &format_pacific_abbrev(p.updated));
    j.f_str("digital", b(!p.physical && !recurring));
    j.f_str("physical", b(p.physical && !recurring));
    j.f_str("digitalRecurring", b(!p.physical && recurring));
    j.f_str("physicalRecurring", b(p.physical && recurring));
    j.f_str("language", "EN");
    j.f_str("title", &p.title);
    j.f_str("description", &p.description);
    j.f_opt("image", None);
    j.key("categories");
    j.begin_obj();
    j.key("category");
    if p.category.len() != 1 {
        j.begin_arr();
    }
    for c in &p.category {
        j.str(c);
    }
    if p.category.len() != 1 {
        j.end_arr();
    }
    j.end_obj();
    let mut pricings: Vec<(&str, i64)> = vec![(p.currency, p.price)];
    pricings.extend(p.extra_pricings.iter().copied());
    let many = pricings.len() != 1;
    j.key("pricings");
    j.begin_obj();
    j.key("pricing");
    if many {
        j.begin_arr();
    }
    for (cur, price) in pricings {
        j.begin_obj();
        j.f_str("@currency", cur);
        j.key("standard");
        j.begin_obj();
        j.key("price");
        price_obj(j, price, cur);
        j.end_obj();
        if let Some(plan) = &p.plan {
            let rebill = if cur == p.currency { plan.rebill } else { price };
            j.key("recurring");
            j.begin_obj();
            j.key("price");
            price_obj(j, rebill, cur);
            j.f_str("frequency", plan.frequency.as_str());
            j.f_str("duration", &plan.duration.to_string());
            j.f_str("trial_days", &plan.trial_days.to_string());
            j.end_obj();
        }
        if p.physical {
            j.key("physical");
            j.begin_obj();
            j.f_str("shipping_profile", "Standard");
            j.end_obj();
        }
        j.end_obj();
    }
    if many {
        j.end_arr();
    }
    j.end_obj();
    j.end_obj();
}

/// `{"products":{"product": ...}}`.
pub(crate) fn rest_products(st: &State, products: &[&SbProduct]) -> String {
    let mut j = Json::with_capacity(products.len() * 900 + 32);
    j.begin_obj();
    j.key("products");
    if products.is_empty() {
        j.nil();
    } else {
        j.begin_obj();
        j.key("product");
        if products.len() != 1 {
            j.begin_arr();
        }
        for p in products {
            rest_product(st, p, &mut j);
        }
        if products.len() != 1 {
            j.end_arr();
        }
        j.end_obj();
    }
    j.end_obj();
    j.finish()
}

/// `{"product": {...}}`.
pub(crate) fn rest_one_product(st: &State, p: &SbProduct) -> String {
    let mut j = Json::with_capacity(1_000);
    j.begin_obj();
    j.key("product");
    rest_product(st, p, &mut j);
    j.end_obj();
    j.finish()
}
