-- Phone search by digits (Customer Service): a customer's (and an abandoned cart's) phone
-- digits, last digit first, so the last digits staff type are a prefix of it. Written with
-- every customer and cart by `domain::phone::digits_reversed`; the rows before this
-- migration are filled here, walking each phone one character at a time.
ALTER TABLE customers ADD COLUMN phone_digits_rev TEXT NOT NULL DEFAULT '';
ALTER TABLE partials ADD COLUMN phone_digits_rev TEXT NOT NULL DEFAULT '';
-- What an abandoned cart held, when ClickBank sent its line items: the first item's title
-- (its SKU is `item_no`) and how many items there were.
ALTER TABLE partials ADD COLUMN item_title TEXT;
ALTER TABLE partials ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;
UPDATE partials SET item_count = 1 WHERE item_no IS NOT NULL;

WITH RECURSIVE walk(id, rest, acc) AS (
    SELECT id, phone, '' FROM customers WHERE phone <> ''
    UNION ALL
    SELECT id, substr(rest, 2),
           CASE WHEN substr(rest, 1, 1) BETWEEN '0' AND '9' THEN substr(rest, 1, 1) || acc ELSE acc END
    FROM walk WHERE rest <> ''
)
UPDATE customers SET phone_digits_rev = walk.acc
FROM walk WHERE walk.id = customers.id AND walk.rest = '';

WITH RECURSIVE walk(id, rest, acc) AS (
    SELECT id, phone, '' FROM partials WHERE phone <> ''
    UNION ALL
    SELECT id, substr(rest, 2),
           CASE WHEN substr(rest, 1, 1) BETWEEN '0' AND '9' THEN substr(rest, 1, 1) || acc ELSE acc END
    FROM walk WHERE rest <> ''
)
UPDATE partials SET phone_digits_rev = walk.acc
FROM walk WHERE walk.id = partials.id AND walk.rest = '';

-- The search reads the digits, not the phone as stored.
DROP INDEX customers_phone;
CREATE INDEX customers_phone_digits ON customers (phone_digits_rev);
