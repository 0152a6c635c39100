-- Customer Service: requests staff send to ClickBank from a customer's profile (refund and
-- cancel tickets, pause, resume, next-bill-date changes), staff notes, and the indexes the
-- search and the profile read through.

-- One row per request. `open_key` is set while the request is in flight or its ticket is
-- open ("order:7:refund", "purchase:9:cancel", "purchase:9:change"); the unique index on it
-- is what makes a double click unable to open two tickets. It is cleared when the request
-- fails, is completed by the RFND / CANCEL-REBILL that ClickBank sends, or is answered.
CREATE TABLE service_requests (
    id BIGSERIAL PRIMARY KEY,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    purchase_id BIGINT REFERENCES purchases(id),
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    ticket_id TEXT,
    error TEXT,
    open_key TEXT UNIQUE,
    requested_by BIGINT REFERENCES users(id),
    requested_by_label TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX service_requests_customer ON service_requests (customer_id, id);
CREATE INDEX service_requests_order ON service_requests (order_id, status);

CREATE TABLE customer_notes (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    author_user_id BIGINT REFERENCES users(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_notes_customer ON customer_notes (customer_id, id);

-- Search: emails are stored lower-case; names are matched case-insensitively by prefix.
-- text_pattern_ops lets LIKE 'prefix%' use the index whatever the database's collation.
CREATE INDEX customers_email ON customers (email text_pattern_ops);
CREATE INDEX customers_last_name ON customers (lower(last_name) text_pattern_ops);
CREATE INDEX customers_first_name ON customers (lower(first_name) text_pattern_ops);
CREATE INDEX customers_phone ON customers (phone text_pattern_ops);
CREATE INDEX orders_time ON orders (transaction_time, id);
-- The campaign list (keyset by time) and its totals read only this index: it replaces
-- orders_campaign_time with the money columns added, so inserts maintain one index, not two.
DROP INDEX orders_campaign_time;
CREATE INDEX orders_campaign_time ON orders (campaign_id, transaction_time, id, total_minor, refunded_minor);
CREATE INDEX orders_affiliate ON orders (lower(affiliate), transaction_time, id);
CREATE INDEX purchases_status ON purchases (status, order_id);
CREATE INDEX partials_time ON partials (event_time, id);
CREATE INDEX partials_plugin_time ON partials (plugin_id, event_time, id);
CREATE INDEX audit_log_target ON audit_log (target, at);
