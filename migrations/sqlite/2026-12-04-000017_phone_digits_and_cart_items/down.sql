DROP INDEX customers_phone_digits;
CREATE INDEX customers_phone ON customers (phone);
ALTER TABLE partials DROP COLUMN item_count;
ALTER TABLE partials DROP COLUMN item_title;
ALTER TABLE partials DROP COLUMN phone_digits_rev;
ALTER TABLE customers DROP COLUMN phone_digits_rev;
