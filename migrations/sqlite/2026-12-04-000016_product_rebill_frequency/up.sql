-- A recurring product's rebill frequency from its ClickBank pricing (the product import) or
-- from the first Instant Notification that carried it: subscriptions built from records of
-- the orders list (which carry no frequency) show the product's.
ALTER TABLE products ADD COLUMN rebill_frequency TEXT;
