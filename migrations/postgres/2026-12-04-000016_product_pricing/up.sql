-- A recurring product's pricing as ClickBank gives it (the product import) or the first
-- Instant Notification that carried it: its rebill frequency, shown for subscriptions built
-- from records of the orders list (which carry none), and its trial days: the first payment
-- of a product with trial days is a trial until the first rebill.
ALTER TABLE products ADD COLUMN rebill_frequency TEXT;
ALTER TABLE products ADD COLUMN trial_days INTEGER NOT NULL DEFAULT 0;
