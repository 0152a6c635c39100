DROP INDEX order_items_order;
ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_item_no_key UNIQUE (order_id, item_no);
