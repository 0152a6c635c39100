-- An order may hold two line items with the same SKU (an ORIGINAL and a BUMP of one product,
-- or a cart with the SKU twice): order_items loses UNIQUE (order_id, item_no). SQLite drops a
-- table constraint only by rebuilding the table, which purchases and fulfillments reference,
-- so this runs outside diesel's transaction: foreign keys are switched off around a
-- transaction of its own (the SQLite "other kinds of table schema changes" procedure).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE order_items_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    item_no TEXT NOT NULL,
    title TEXT NOT NULL,
    line_item_type TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount_minor BIGINT NOT NULL,
    shippable BOOLEAN NOT NULL,
    recurring BOOLEAN NOT NULL
);
INSERT INTO order_items_rebuilt (id, order_id, product_id, item_no, title, line_item_type, quantity, amount_minor, shippable, recurring)
    SELECT id, order_id, product_id, item_no, title, line_item_type, quantity, amount_minor, shippable, recurring FROM order_items;
DROP TABLE order_items;
ALTER TABLE order_items_rebuilt RENAME TO order_items;
CREATE INDEX order_items_order ON order_items (order_id, item_no);
CREATE INDEX order_items_type ON order_items (line_item_type, order_id);
COMMIT;
PRAGMA foreign_keys = ON;
