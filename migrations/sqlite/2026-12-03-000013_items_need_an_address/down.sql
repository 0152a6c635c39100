UPDATE fulfillments SET status = 'HOLD' WHERE status = 'NEEDS_ADDRESS';
