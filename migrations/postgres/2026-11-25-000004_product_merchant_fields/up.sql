-- Products: the merchant's own MSRP survives re-imports (the other merchant fields are
-- covered by products.merchant_edited). Campaign products: offers and upsales in order.

ALTER TABLE products ADD COLUMN msrp_by_merchant BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE campaign_products (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    kind TEXT NOT NULL CHECK (kind IN ('offer', 'upsale')),
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (campaign_id, product_id)
);
CREATE INDEX campaign_products_order ON campaign_products (campaign_id, kind, position);
CREATE INDEX order_items_type ON order_items (line_item_type, order_id);
