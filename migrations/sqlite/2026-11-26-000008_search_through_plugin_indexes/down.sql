CREATE INDEX orders_receipt ON orders (receipt);
CREATE INDEX customers_email ON customers (email);
