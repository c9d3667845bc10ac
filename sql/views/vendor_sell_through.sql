-- Vendor sell-through per ASIN and period: what sells through, what sits on hand, what
-- is on order? From `vendor_inventory_by_asin` (GET_VENDOR_INVENTORY_REPORT).
CREATE OR REPLACE VIEW vendor_sell_through AS
SELECT
    selling_partner_id,
    marketplace,
    start_date,
    end_date,
    asin,
    sell_through_rate,
    sellable_on_hand_inventory_units,
    sellable_on_hand_inventory_cost,
    sellable_on_hand_inventory_cost_currency,
    open_purchase_order_units,
    unfilled_customer_ordered_units
FROM vendor_inventory_by_asin
