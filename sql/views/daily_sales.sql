-- Daily ordered sales and units per seller and marketplace: how much did we sell each
-- day, where? From `orders` (one row per order item), cancelled items left out; money in
-- each row's currency. Athena (Trino) and DuckDB both run it.
CREATE OR REPLACE VIEW daily_sales AS
SELECT
    selling_partner_id,
    marketplace,
    CAST(purchase_date AS DATE) AS day,
    currency,
    COUNT(DISTINCT amazon_order_id) AS orders,
    SUM(quantity) AS units,
    SUM(item_price) AS sales
FROM orders
WHERE order_status <> 'Cancelled'
GROUP BY 1, 2, 3, 4
