//! Flat-file (TSV) documents: the tables Amazon's flat-file reports have (orders,
//! listings, FBA inventory, settlement, and a generic one for other types), their
//! header lines, and rows written field by field.

use super::catalog::{address, decimals, fnsku, listing_id, order_id};
use super::{CATALOG_SIZE, ContentChunks, SplitMix64};

/// Flat-file tables the simulator knows; anything else gets a generic inventory-like table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TsvTable {
    Orders,
    Listings,
    FbaInventory,
    Settlement,
    Generic,
}

impl ContentChunks {
    pub(super) fn write_tsv_row(
        &self,
        buf: &mut String,
        table: TsvTable,
        row: u64,
        rng: &mut SplitMix64,
    ) {
        let market = self.row_market(rng);
        let product = self.product(rng.below(CATALOG_SIZE));
        let currency = market.currency;
        let mut line = TsvLine::new(buf, currency);
        match table {
            TsvTable::Orders => {
                let by_update = self.spec.report_type.ends_with("BY_LAST_UPDATE_GENERAL");
                let anchor = self.row_time(row, rng).timestamp();
                let (purchased, updated) = if by_update {
                    (anchor - 60 * rng.between(30, 4320) as i64, anchor)
                } else {
                    (anchor, anchor + 60 * rng.between(5, 2880) as i64)
                };
                let status = *rng.pick(&[
                    "Shipped",
                    "Shipped",
                    "Shipped",
                    "Pending",
                    "Unshipped",
                    "Cancelled",
                ]);
                let item_status = match status {
                    "Cancelled" => "Cancelled",
                    "Shipped" => "Shipped",
                    _ => "Unshipped",
                };
                let fulfilment = *rng.pick(&["Amazon", "Amazon", "Merchant"]);
                let quantity = rng.between(1, 3);
                let price = product.price_minor * quantity;
                let shipping = if fulfilment == "Merchant" {
                    rng.between(0, 1) * 499
                } else {
                    0
                };
                let address = address(market.language, rng);
                let business = rng.chance(8);
                let order_id = order_id(market, rng);
                let service_level = *rng.pick(&["Standard", "Expedited", "SecondDay"]);
                line.text(&order_id)
                    .text(&order_id)
                    .iso_time(purchased)
                    .iso_time(updated);
                line.text(status)
                    .text(fulfilment)
                    .text(market.sales_channel)
                    .text("")
                    .text("");
                line.text(service_level)
                    .text(&product.name)
                    .text(&product.sku)
                    .text(&product.asin);
                line.text(item_status).number(quantity).text(currency);
                line.money(price).money(price / 10).money(shipping);
                for _ in 0..5 {
                    line.money(0);
                }
                line.text(address.city)
                    .text(address.state)
                    .text(address.postal_code)
                    .text(market.country_code)
                    .text("");
                line.text(if business { "true" } else { "false" });
                if business {
                    line.text("PO-")
                        .append_number(rng.between(10_000, 99_999))
                        .text("BusinessPrice");
                } else {
                    line.text("").text("");
                }
            }
            TsvTable::Listings => {
                let quantity = rng.below(250);
                let opened = self.spec.data_start.timestamp() - 86_400 * rng.between(1, 900) as i64;
                let afn = rng.chance(60);
                line.text(&product.name)
                    .text(&product.name)
                    .text(&listing_id(rng))
                    .text(&product.sku);
                line.money(product.price_minor);
                if afn {
                    line.text("");
                } else {
                    line.number(quantity);
                }
                line.utc_time(opened)
                    .text("")
                    .text("y")
                    .text("1")
                    .text("")
                    .text("")
                    .text("11");
                line.text("")
                    .text("")
                    .text("")
                    .text(&product.asin)
                    .text("")
                    .text("")
                    .text("")
                    .text("")
                    .text("");
                line.text(&product.asin).text("").text("").text("0");
                line.text(if afn { "AMAZON_NA" } else { "DEFAULT" })
                    .text(if afn { "" } else { "Migrated Template" });
                line.text(if rng.chance(90) { "Active" } else { "Inactive" });
            }
            TsvTable::FbaInventory => {
                let fulfillable = rng.below(500);
                let unsellable = rng.below(5);
                let reserved = rng.below(20);
                let inbound = rng.below(100);
                line.text(&product.sku)
                    .text(&fnsku(rng))
                    .text(&product.asin)
                    .text(&product.name)
                    .text("New");
                line.money(product.price_minor)
                    .text("No")
                    .text("0")
                    .text("Yes");
                line.number(fulfillable + unsellable + reserved)
                    .number(fulfillable)
                    .number(unsellable)
                    .number(reserved);
                line.number(fulfillable + unsellable + reserved + inbound);
                line.text(if rng.chance(50) { "0." } else { "1." })
                    .append_number(10 + rng.below(90))
                    .text("0")
                    .number(inbound)
                    .text("0")
                    .text("0")
                    .text("0")
                    .text("0");
            }
            TsvTable::Settlement => {
                let settlement_id = 10_000_000_000 + self.document_seed % 9_000_000_000;
                line.number(settlement_id);
                if row == 0 {
                    // The first line of a settlement file is its summary.
                    let total = self.spec.seed % 1_000_000 + 10_000;
                    line.utc_time(self.spec.data_start.timestamp())
                        .utc_time(self.spec.data_end.timestamp());
                    line.utc_time(self.spec.data_end.timestamp() + 2 * 86_400)
                        .money(total)
                        .text(currency);
                    for _ in 0..18 {
                        line.text("");
                    }
                } else {
                    let posted = self.row_time(row, rng);
                    let (amount_type, description, amount) = match rng.below(4) {
                        0 => ("ItemPrice", "Principal", i128::from(product.price_minor)),
                        1 => ("ItemPrice", "Tax", i128::from(product.price_minor / 10)),
                        2 => (
                            "ItemFees",
                            "Commission",
                            -i128::from(product.price_minor * 15 / 100),
                        ),
                        _ => (
                            "ItemFees",
                            "FBAPerUnitFulfillmentFee",
                            -i128::from(rng.between(250, 600)),
                        ),
                    };
                    let order = order_id(market, rng);
                    line.text("")
                        .text("")
                        .text("")
                        .text("")
                        .text("")
                        .text("Order")
                        .text(&order)
                        .text(&order)
                        .text("");
                    line.text("D")
                        .append_number(rng.between(10_000_000, 99_999_999))
                        .text(market.sales_channel);
                    line.text(amount_type)
                        .text(description)
                        .text(if amount < 0 { "-" } else { "" });
                    line.append_money(u64::try_from(amount.unsigned_abs()).unwrap_or(u64::MAX))
                        .text("AFN");
                    line.date(posted.timestamp()).utc_time(posted.timestamp());
                    line.number(rng.between(10_000_000_000_000, 99_999_999_999_999))
                        .text("")
                        .text("");
                    line.text(&product.sku).number(rng.between(1, 3)).text("");
                }
            }
            TsvTable::Generic => {
                let day = self.row_time(row, rng).timestamp();
                line.date(day)
                    .text(&product.sku)
                    .text(&product.asin)
                    .text(&product.name);
                line.number(rng.below(500))
                    .money(product.price_minor)
                    .text(currency)
                    .text(market.id);
            }
        }
        line.end();
    }
}

pub(super) fn tsv_columns(table: TsvTable) -> &'static [&'static str] {
    match table {
        TsvTable::Orders => &[
            "amazon-order-id",
            "merchant-order-id",
            "purchase-date",
            "last-updated-date",
            "order-status",
            "fulfillment-channel",
            "sales-channel",
            "order-channel",
            "url",
            "ship-service-level",
            "product-name",
            "sku",
            "asin",
            "item-status",
            "quantity",
            "currency",
            "item-price",
            "item-tax",
            "shipping-price",
            "shipping-tax",
            "gift-wrap-price",
            "gift-wrap-tax",
            "item-promotion-discount",
            "ship-promotion-discount",
            "ship-city",
            "ship-state",
            "ship-postal-code",
            "ship-country",
            "promotion-ids",
            "is-business-order",
            "purchase-order-number",
            "price-designation",
        ],
        TsvTable::Listings => &[
            "item-name",
            "item-description",
            "listing-id",
            "seller-sku",
            "price",
            "quantity",
            "open-date",
            "image-url",
            "item-is-marketplace",
            "product-id-type",
            "zshop-shipping-fee",
            "item-note",
            "item-condition",
            "zshop-category1",
            "zshop-browse-path",
            "zshop-storefront-feature",
            "asin1",
            "asin2",
            "asin3",
            "will-ship-internationally",
            "expedited-shipping",
            "zshop-boldface",
            "product-id",
            "bid-for-featured-placement",
            "add-delete",
            "pending-quantity",
            "fulfillment-channel",
            "merchant-shipping-group",
            "status",
        ],
        TsvTable::FbaInventory => &[
            "sku",
            "fnsku",
            "asin",
            "product-name",
            "condition",
            "your-price",
            "mfn-listing-exists",
            "mfn-fulfillable-quantity",
            "afn-listing-exists",
            "afn-warehouse-quantity",
            "afn-fulfillable-quantity",
            "afn-unsellable-quantity",
            "afn-reserved-quantity",
            "afn-total-quantity",
            "per-unit-volume",
            "afn-inbound-working-quantity",
            "afn-inbound-shipped-quantity",
            "afn-inbound-receiving-quantity",
            "afn-researching-quantity",
            "afn-reserved-future-supply",
            "afn-future-supply-buyable",
        ],
        TsvTable::Settlement => &[
            "settlement-id",
            "settlement-start-date",
            "settlement-end-date",
            "deposit-date",
            "total-amount",
            "currency",
            "transaction-type",
            "order-id",
            "merchant-order-id",
            "adjustment-id",
            "shipment-id",
            "marketplace-name",
            "amount-type",
            "amount-description",
            "amount",
            "fulfillment-id",
            "posted-date",
            "posted-date-time",
            "order-item-code",
            "merchant-order-item-id",
            "merchant-adjustment-item-id",
            "sku",
            "quantity-purchased",
            "promotion-id",
        ],
        TsvTable::Generic => &[
            "snapshot-date",
            "sku",
            "asin",
            "product-name",
            "quantity",
            "price",
            "currency",
            "marketplace-id",
        ],
    }
}

/// Writes one tab-separated line field by field without `format!`, whose machinery
/// dominates generation time in debug builds (tests stream hundreds of MB).
struct TsvLine<'a> {
    buf: &'a mut String,
    decimals: u32,
    started: bool,
}

impl<'a> TsvLine<'a> {
    fn new(buf: &'a mut String, currency: &str) -> Self {
        Self {
            buf,
            decimals: decimals(currency),
            started: false,
        }
    }

    fn next_field(&mut self) {
        if self.started {
            self.buf.push('\t');
        }
        self.started = true;
    }

    fn text(&mut self, text: &str) -> &mut Self {
        self.next_field();
        self.buf.push_str(text);
        self
    }

    fn number(&mut self, value: u64) -> &mut Self {
        self.next_field();
        self.append_number(value)
    }

    /// Appends digits to the current field.
    fn append_number(&mut self, value: u64) -> &mut Self {
        push_digits(self.buf, value, 1);
        self
    }

    /// An amount in minor units, written with the currency's decimals (`19.99`, `1980`).
    fn money(&mut self, minor: u64) -> &mut Self {
        self.next_field();
        self.append_money(minor)
    }

    fn append_money(&mut self, minor: u64) -> &mut Self {
        if self.decimals == 0 {
            push_digits(self.buf, minor, 1);
        } else {
            push_digits(self.buf, minor / 100, 1);
            self.buf.push('.');
            push_digits(self.buf, minor % 100, 2);
        }
        self
    }

    fn date(&mut self, unix: i64) -> &mut Self {
        self.next_field();
        let (year, month, day, ..) = civil(unix);
        push_digits(self.buf, year, 4);
        self.buf.push('-');
        push_digits(self.buf, month, 2);
        self.buf.push('-');
        push_digits(self.buf, day, 2);
        self
    }

    fn clock(&mut self, unix: i64) {
        let (.., hour, minute, second) = civil(unix);
        push_digits(self.buf, hour, 2);
        self.buf.push(':');
        push_digits(self.buf, minute, 2);
        self.buf.push(':');
        push_digits(self.buf, second, 2);
    }

    /// Order flat files write times as ISO 8601 with an explicit offset.
    fn iso_time(&mut self, unix: i64) -> &mut Self {
        self.date(unix);
        self.buf.push('T');
        self.clock(unix);
        self.buf.push_str("+00:00");
        self
    }

    /// Settlement and listing files write `2024-05-01 07:12:45 UTC`.
    fn utc_time(&mut self, unix: i64) -> &mut Self {
        self.date(unix);
        self.buf.push(' ');
        self.clock(unix);
        self.buf.push_str(" UTC");
        self
    }

    fn end(self) {
        self.buf.push('\n');
    }
}

/// Decimal digits of `value`, zero-padded to `width`.
pub(super) fn push_digits(buf: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    start = start.min(digits.len().saturating_sub(width));
    for &digit in &digits[start..] {
        buf.push(char::from(digit));
    }
}

/// Calendar date and time of a Unix timestamp (UTC), by Howard Hinnant's
/// days-from-civil inverse: <https://howardhinnant.github.io/date_algorithms.html>.
fn civil(unix: i64) -> (u64, u64, u64, u64, u64, u64) {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let unsigned = |value: i64| u64::try_from(value).unwrap_or(0);
    (
        unsigned(year),
        unsigned(month),
        unsigned(day),
        unsigned(seconds / 3600),
        unsigned(seconds % 3600 / 60),
        unsigned(seconds % 60),
    )
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    #[test]
    fn hand_written_times_match_chrono() {
        for unix in [
            0i64,
            951_782_400,
            1_709_210_096,
            1_714_521_599,
            4_102_444_800,
            1_234_567_890,
        ] {
            let time = DateTime::from_timestamp(unix, 0).unwrap();
            let mut buf = String::new();
            let mut line = TsvLine::new(&mut buf, "USD");
            line.iso_time(unix).utc_time(unix).money(123_405).number(0);
            line.end();
            let expected = format!(
                "{}\t{}\t1234.05\t0\n",
                time.format("%Y-%m-%dT%H:%M:%S+00:00"),
                time.format("%Y-%m-%d %H:%M:%S UTC")
            );
            assert_eq!(buf, expected);
        }
        let mut buf = String::new();
        TsvLine::new(&mut buf, "JPY")
            .money(1980)
            .text("x")
            .append_number(7);
        assert_eq!(buf, "1980\tx7");
    }
}
