DROP INDEX order_items_type;
DROP TABLE campaign_products;
ALTER TABLE products DROP COLUMN msrp_by_merchant;
