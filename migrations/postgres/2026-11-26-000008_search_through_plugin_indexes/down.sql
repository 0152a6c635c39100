CREATE INDEX orders_receipt ON orders (receipt);
