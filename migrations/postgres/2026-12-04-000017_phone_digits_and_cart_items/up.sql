-- Phone search by digits (Customer Service): a customer's (and an abandoned cart's) phone
-- digits, last digit first, so the last digits staff type are a prefix of it. Written with
-- every customer and cart by `domain::phone::digits_reversed`; the rows before this
-- migration are filled here.
ALTER TABLE customers ADD COLUMN phone_digits_rev TEXT NOT NULL DEFAULT '';
ALTER TABLE partials ADD COLUMN phone_digits_rev TEXT NOT NULL DEFAULT '';
-- What an abandoned cart held, when ClickBank sent its line items: the first item's title
-- (its SKU is `item_no`) and how many items there were.
ALTER TABLE partials ADD COLUMN item_title TEXT;
ALTER TABLE partials ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;
UPDATE partials SET item_count = 1 WHERE item_no IS NOT NULL;

UPDATE customers SET phone_digits_rev = reverse(regexp_replace(phone, '[^0-9]', '', 'g'))
WHERE phone <> '';
UPDATE partials SET phone_digits_rev = reverse(regexp_replace(phone, '[^0-9]', '', 'g'))
WHERE phone <> '';

-- The search reads the digits, not the phone as stored.
DROP INDEX customers_phone;
CREATE INDEX customers_phone_digits ON customers (phone_digits_rev text_pattern_ops);

-- The affiliate search is a prefix, any case: outside the "C" collation PostgreSQL reads a
-- LIKE prefix from an index only with text_pattern_ops (equality still works on it).
DROP INDEX orders_affiliate;
CREATE INDEX orders_affiliate ON orders (lower(affiliate) text_pattern_ops, transaction_time, id);
