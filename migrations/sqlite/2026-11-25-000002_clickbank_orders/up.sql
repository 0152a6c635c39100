-- ClickBank data sources, API users, the INS inbox and the order model.

CREATE TABLE plugins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'clickbank',
    name TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL,
    dev_key_enc TEXT,
    api_key_enc TEXT NOT NULL,
    secret_key_enc TEXT,
    include_test BOOLEAN NOT NULL DEFAULT 0,
    send_confirmations BOOLEAN NOT NULL DEFAULT 0,
    unique_products BOOLEAN NOT NULL DEFAULT 0,
    clickbank_ships BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    last_connected_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX plugins_site ON plugins (site);

CREATE TABLE api_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login_id TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    allow_ips TEXT NOT NULL,
    permissions TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE fulfillment_houses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO fulfillment_houses (name, kind, created_at) VALUES ('ClickBank', 'clickbank', CURRENT_TIMESTAMP);

CREATE TABLE product_categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    plugin_id BIGINT REFERENCES plugins(id),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id BIGINT NOT NULL REFERENCES product_categories(id),
    sku TEXT NOT NULL,
    title TEXT NOT NULL,
    currency TEXT,
    msrp_minor BIGINT,
    cost_minor BIGINT,
    description TEXT NOT NULL DEFAULT '',
    shippable BOOLEAN NOT NULL DEFAULT 0,
    recurring BOOLEAN NOT NULL DEFAULT 0,
    fulfillment_house_id BIGINT NOT NULL REFERENCES fulfillment_houses(id),
    fulfillment_type TEXT NOT NULL DEFAULT 'standard',
    delay_hours INTEGER NOT NULL DEFAULT 0,
    merchant_edited BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (category_id, sku)
);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id BIGINT REFERENCES plugins(id),
    currency TEXT NOT NULL,
    is_test BOOLEAN NOT NULL DEFAULT 0,
    name TEXT NOT NULL UNIQUE,
    name_locked BOOLEAN NOT NULL DEFAULT 0,
    bundle_window_hours INTEGER NOT NULL DEFAULT 24,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (plugin_id, currency, is_test)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    email TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    bill_address1 TEXT NOT NULL DEFAULT '',
    bill_address2 TEXT NOT NULL DEFAULT '',
    bill_city TEXT NOT NULL DEFAULT '',
    bill_state TEXT NOT NULL DEFAULT '',
    bill_postal_code TEXT NOT NULL DEFAULT '',
    bill_country TEXT NOT NULL DEFAULT '',
    ship_first_name TEXT NOT NULL DEFAULT '',
    ship_last_name TEXT NOT NULL DEFAULT '',
    ship_address1 TEXT NOT NULL DEFAULT '',
    ship_address2 TEXT NOT NULL DEFAULT '',
    ship_city TEXT NOT NULL DEFAULT '',
    ship_state TEXT NOT NULL DEFAULT '',
    ship_postal_code TEXT NOT NULL DEFAULT '',
    ship_country TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (plugin_id, email)
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    receipt TEXT NOT NULL,
    parent_receipt TEXT,
    order_type TEXT NOT NULL,
    status TEXT NOT NULL,
    affiliate TEXT,
    payment_method TEXT,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL DEFAULT 0,
    shipping_minor BIGINT NOT NULL DEFAULT 0,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    transaction_time TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (plugin_id, receipt)
);
CREATE INDEX orders_campaign_time ON orders (campaign_id, transaction_time, id);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_receipt ON orders (receipt);

CREATE TABLE order_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    item_no TEXT NOT NULL,
    title TEXT NOT NULL,
    line_item_type TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount_minor BIGINT NOT NULL,
    shippable BOOLEAN NOT NULL,
    recurring BOOLEAN NOT NULL,
    UNIQUE (order_id, item_no)
);

CREATE TABLE transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    kind TEXT NOT NULL,
    item_no TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    transaction_time TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX transactions_order ON transactions (order_id);

CREATE TABLE purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    order_item_id BIGINT NOT NULL UNIQUE REFERENCES order_items(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    status TEXT NOT NULL,
    pending_request TEXT,
    billing_cycle INTEGER NOT NULL DEFAULT 1,
    rebill_amount_minor BIGINT,
    frequency TEXT,
    next_bill_date TIMESTAMP,
    cancelled_at TIMESTAMP,
    paused_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX purchases_customer ON purchases (customer_id);
CREATE INDEX purchases_order ON purchases (order_id);

CREATE TABLE fulfillments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    order_item_id BIGINT NOT NULL REFERENCES order_items(id),
    cycle INTEGER NOT NULL DEFAULT 1,
    house_id BIGINT NOT NULL REFERENCES fulfillment_houses(id),
    status TEXT NOT NULL,
    shipment_id TEXT,
    tracking_number TEXT,
    carrier TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (order_item_id, cycle)
);
CREATE INDEX fulfillments_status ON fulfillments (status, house_id);
CREATE INDEX fulfillments_order ON fulfillments (order_id);

CREATE TABLE partials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    email TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    item_no TEXT,
    event_time TIMESTAMP NOT NULL,
    converted_order_id BIGINT REFERENCES orders(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX partials_email ON partials (plugin_id, email);

-- Every event applied, by its one key (plugin, receipt, type, time, item): the same event
-- seen twice (INS retry, INS + import) is applied once.
CREATE TABLE applied_events (
    event_key TEXT PRIMARY KEY NOT NULL,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    order_id BIGINT REFERENCES orders(id),
    applied_at TIMESTAMP NOT NULL
);

-- Events whose parent order has not arrived yet (an RFND before its SALE).
CREATE TABLE pending_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL UNIQUE,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    receipt TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_events_receipt ON pending_events (plugin_id, receipt);

-- The raw INS inbox: written before anything else happens to a notification.
CREATE TABLE inbound_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TIMESTAMP NOT NULL,
    source_ip TEXT NOT NULL,
    api_user_id BIGINT REFERENCES api_users(id),
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    plugin_id BIGINT REFERENCES plugins(id),
    transaction_type TEXT,
    receipt TEXT,
    vendor TEXT,
    payload TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    processed_at TIMESTAMP
);
CREATE INDEX inbound_notifications_status ON inbound_notifications (status, id);
CREATE INDEX inbound_notifications_plugin ON inbound_notifications (plugin_id, id);
CREATE INDEX inbound_notifications_receipt ON inbound_notifications (receipt, status);
