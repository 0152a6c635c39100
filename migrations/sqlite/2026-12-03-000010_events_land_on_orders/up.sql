-- Every event lands on an order at once (issue 15). An event for a receipt the CRM has not
-- seen builds the order from the event itself, marked "sale not seen yet" (sale_seen false);
-- a background look-up reads the original from ClickBank and adds its SALE.
ALTER TABLE orders ADD COLUMN sale_seen BOOLEAN NOT NULL DEFAULT 1;
CREATE INDEX orders_sale_unseen ON orders (plugin_id, created_at) WHERE sale_seen = 0;

-- Time, not arrival, decides a subscription's state: the ClickBank time (and type rank, for
-- equal times) of the event that last set its status (and cancellation), and of the one
-- that last set its next bill date (and rebill amount). An older event does not overwrite.
ALTER TABLE purchases ADD COLUMN state_at TIMESTAMP;
ALTER TABLE purchases ADD COLUMN state_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN schedule_at TIMESTAMP;
ALTER TABLE purchases ADD COLUMN schedule_rank INTEGER NOT NULL DEFAULT 0;

-- Import runs count the events that landed on an order whose sale is not seen yet apart.
ALTER TABLE import_tasks ADD COLUMN awaiting_sale BIGINT NOT NULL DEFAULT 0;

-- The SHIPPED cut-off of the plugin (set by its initial import): an item ships if and only if
-- its own event (its sale or its rebill) is newer.
ALTER TABLE plugins ADD COLUMN ship_cutoff_at TIMESTAMP;

-- The look-ups of original sales still to read from ClickBank (GET /orders2/{receipt}),
-- one per order built from a later event; the row goes once the SALE is added.
CREATE TABLE sale_lookups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id BIGINT NOT NULL REFERENCES plugins(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    receipt TEXT NOT NULL,
    -- The SKUs the order is known to have, '+'-joined (ClickBank wants one per request on a
    -- multi-item order).
    skus TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (plugin_id, receipt)
);
CREATE INDEX sale_lookups_due ON sale_lookups (next_attempt_at);
