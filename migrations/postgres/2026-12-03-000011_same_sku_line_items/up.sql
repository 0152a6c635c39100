-- An order may hold two line items with the same SKU (an ORIGINAL and a BUMP of one product,
-- or a cart with the SKU twice): order_items loses UNIQUE (order_id, item_no).
ALTER TABLE order_items DROP CONSTRAINT order_items_order_id_item_no_key;
CREATE INDEX order_items_order ON order_items (order_id, item_no);
