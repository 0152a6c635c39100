-- Nothing ships without an address (issue 15): items on hold from earlier versions whose
-- address has no street or no city wait for one (NEEDS_ADDRESS) instead of going to a house.
-- (A missing postal code is judged by the country table in code, for new items.)
UPDATE fulfillments SET status = 'NEEDS_ADDRESS'
WHERE status = 'HOLD'
  AND (ship_to IS NULL OR ship_to LIKE '%"address1":""%' OR ship_to LIKE '%"city":""%');
