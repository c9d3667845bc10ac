-- Traffic and conversion per ASIN and period: which products are seen, and which sell
-- once seen? From `sales_traffic_by_asin` (GET_SALES_AND_TRAFFIC_REPORT, by child ASIN).
CREATE OR REPLACE VIEW asin_conversion AS
SELECT
    selling_partner_id,
    marketplace,
    start_date,
    end_date,
    parent_asin,
    child_asin,
    sessions,
    page_views,
    units_ordered,
    ordered_product_sales,
    ordered_product_sales_currency,
    CASE WHEN sessions > 0 THEN CAST(units_ordered AS DOUBLE) / sessions END AS units_per_session,
    buy_box_percentage
FROM sales_traffic_by_asin
