//! JSON documents of the analytics report families (Sales and Traffic, Vendor, Brand
//! Analytics): the `reportSpecification` echo, side arrays such as
//! `salesAndTrafficByDate`, and the main array whose records are the rows.
//! Shapes: `SCHEMAS/reports/*.json`.

use chrono::{Duration, NaiveDate, SecondsFormat};
use serde_json::{Value, json};

use super::catalog::decimals;
use super::{CATALOG_SIZE, ContentChunks, SplitMix64};

/// Upper bound of per-day records in side arrays such as `salesAndTrafficByDate`.
const MAX_DAYS: i64 = 731;

/// JSON report families: their side arrays and the main array that counts as rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JsonReport {
    SalesAndTraffic,
    VendorSales,
    VendorTraffic,
    VendorInventory,
    VendorMargin,
    VendorForecast,
    VendorRealTime,
    SearchTerms,
    BrandAnalyticsByAsin,
    Generic,
}

impl JsonReport {
    pub(super) fn of(report_type: &str) -> Self {
        match report_type {
            "GET_SALES_AND_TRAFFIC_REPORT" => JsonReport::SalesAndTraffic,
            "GET_VENDOR_SALES_REPORT" => JsonReport::VendorSales,
            "GET_VENDOR_TRAFFIC_REPORT" => JsonReport::VendorTraffic,
            "GET_VENDOR_INVENTORY_REPORT" => JsonReport::VendorInventory,
            "GET_VENDOR_NET_PURE_PRODUCT_MARGIN_REPORT" => JsonReport::VendorMargin,
            "GET_VENDOR_FORECASTING_REPORT" => JsonReport::VendorForecast,
            "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT" => JsonReport::SearchTerms,
            t if t.starts_with("GET_VENDOR_REAL_TIME_") => JsonReport::VendorRealTime,
            t if t.starts_with("GET_BRAND_ANALYTICS_") => JsonReport::BrandAnalyticsByAsin,
            _ => JsonReport::Generic,
        }
    }

    /// Name of the array whose records are the document's rows.
    pub(super) fn main_array(self) -> &'static str {
        match self {
            JsonReport::SalesAndTraffic => "salesAndTrafficByAsin",
            JsonReport::VendorSales => "salesByAsin",
            JsonReport::VendorTraffic => "trafficByAsin",
            JsonReport::VendorInventory => "inventoryByAsin",
            JsonReport::VendorMargin => "netPureProductMarginByAsin",
            JsonReport::VendorForecast => "forecastByAsin",
            JsonReport::VendorRealTime => "reportData",
            JsonReport::SearchTerms => "dataByDepartmentAndSearchTerm",
            JsonReport::BrandAnalyticsByAsin | JsonReport::Generic => "dataByAsin",
        }
    }

    /// Vendor documents carry `lastUpdatedDate` in their specification.
    fn is_vendor(self) -> bool {
        matches!(
            self,
            JsonReport::VendorSales
                | JsonReport::VendorTraffic
                | JsonReport::VendorInventory
                | JsonReport::VendorMargin
                | JsonReport::VendorForecast
        )
    }
}

impl ContentChunks {
    pub(super) fn json_prologue(&self, report: JsonReport) -> String {
        let spec = &self.spec;
        let start = spec.data_start.date_naive();
        let end = spec.data_end.date_naive();
        let mut specification = json!({
            "reportType": spec.report_type,
            "reportOptions": spec.report_options,
            "dataStartTime": start.to_string(),
            "dataEndTime": end.to_string(),
            "marketplaceIds": spec.marketplace_ids,
        });
        if report.is_vendor() {
            specification["lastUpdatedDate"] = json!(end.to_string());
        }
        let mut text = String::from("{\"reportSpecification\":");
        text.push_str(&specification.to_string());
        let currency = self.market.currency;
        let mut rng = SplitMix64::new(self.document_seed ^ 0xA66);
        let side: Option<(&str, Vec<Value>)> = match report {
            JsonReport::SalesAndTraffic => Some((
                "salesAndTrafficByDate",
                days(start, end)
                    .map(|day| sales_and_traffic_by_date(day, currency, &mut rng))
                    .collect(),
            )),
            JsonReport::VendorSales => Some((
                "salesAggregate",
                vec![json!({
                    "startDate": start.to_string(), "endDate": end.to_string(),
                    "customerReturns": rng.below(50),
                    "orderedRevenue": amount(rng.between(100_000, 9_000_000), currency),
                    "orderedUnits": rng.between(100, 9000),
                    "shippedCogs": amount(rng.between(50_000, 4_000_000), currency),
                    "shippedRevenue": amount(rng.between(100_000, 9_000_000), currency),
                    "shippedUnits": rng.between(100, 9000),
                })],
            )),
            JsonReport::VendorTraffic => Some((
                "trafficAggregate",
                vec![
                    json!({"startDate": start.to_string(), "endDate": end.to_string(), "glanceViews": rng.between(1000, 900_000)}),
                ],
            )),
            JsonReport::VendorInventory => Some((
                "inventoryAggregate",
                vec![json!({
                    "startDate": start.to_string(), "endDate": end.to_string(),
                    "sellThroughRate": ratio(&mut rng),
                    "netReceivedInventoryCost": amount(rng.between(0, 4_000_000), currency),
                    "netReceivedInventoryUnits": rng.below(4000),
                    "openPurchaseOrderUnits": rng.below(5000),
                    "sellableOnHandInventoryUnits": rng.below(50_000),
                    "sellableOnHandInventoryCost": amount(rng.between(100_000, 9_000_000), currency),
                })],
            )),
            JsonReport::VendorMargin => Some((
                "netPureProductMarginAggregate",
                vec![
                    json!({"startDate": start.to_string(), "endDate": end.to_string(), "netPureProductMargin": ratio(&mut rng)}),
                ],
            )),
            _ => None,
        };
        if let Some((name, records)) = side {
            text.push_str(",\"");
            text.push_str(name);
            text.push_str("\":");
            text.push_str(&Value::Array(records).to_string());
        }
        text.push_str(",\"");
        text.push_str(report.main_array());
        text.push_str("\":[");
        text
    }

    pub(super) fn json_record(&self, report: JsonReport, row: u64, rng: &mut SplitMix64) -> Value {
        let market = self.row_market(rng);
        let currency = market.currency;
        let product = self.product(rng.below(CATALOG_SIZE));
        let start = self.spec.data_start.date_naive().to_string();
        let end = self.spec.data_end.date_naive().to_string();
        match report {
            JsonReport::SalesAndTraffic => {
                let units = rng.between(0, 120);
                let sessions = rng.between(units.max(1), units * 20 + 50);
                let page_views = sessions + rng.below(sessions);
                json!({
                    "parentAsin": product.parent_asin,
                    "childAsin": product.asin,
                    "sku": product.sku,
                    "salesByAsin": {
                        "unitsOrdered": units,
                        "unitsOrderedB2B": units / 10,
                        "orderedProductSales": amount(units * product.price_minor, currency),
                        "orderedProductSalesB2B": amount(units / 10 * product.price_minor, currency),
                        "totalOrderItems": units.saturating_sub(units / 8),
                        "totalOrderItemsB2B": units / 12,
                    },
                    "trafficByAsin": {
                        "browserSessions": sessions / 2,
                        "mobileAppSessions": sessions - sessions / 2,
                        "sessions": sessions,
                        "browserPageViews": page_views / 2,
                        "mobileAppPageViews": page_views - page_views / 2,
                        "pageViews": page_views,
                        "browserSessionPercentage": percent(rng),
                        "mobileAppSessionPercentage": percent(rng),
                        "sessionPercentage": percent(rng),
                        "browserPageViewsPercentage": percent(rng),
                        "mobileAppPageViewsPercentage": percent(rng),
                        "pageViewsPercentage": percent(rng),
                        "buyBoxPercentage": percent(rng),
                        "unitSessionPercentage": percent(rng),
                    },
                })
            }
            JsonReport::VendorSales => json!({
                "startDate": start, "endDate": end, "asin": product.asin,
                "customerReturns": rng.below(10),
                "orderedRevenue": amount(rng.between(1000, 900_000), currency),
                "orderedUnits": rng.below(900),
                "shippedCogs": amount(rng.between(500, 400_000), currency),
                "shippedRevenue": amount(rng.between(1000, 900_000), currency),
                "shippedUnits": rng.below(900),
            }),
            JsonReport::VendorTraffic => json!({
                "startDate": start, "endDate": end, "asin": product.asin, "glanceViews": rng.below(90_000),
            }),
            JsonReport::VendorInventory => json!({
                "startDate": start, "endDate": end, "asin": product.asin,
                "sellThroughRate": ratio(rng),
                "netReceivedInventoryCost": amount(rng.between(0, 400_000), currency),
                "netReceivedInventoryUnits": rng.below(400),
                "openPurchaseOrderUnits": rng.below(500),
                "sellableOnHandInventoryUnits": rng.below(5000),
                "sellableOnHandInventoryCost": amount(rng.between(1000, 900_000), currency),
                "unsellableOnHandInventoryUnits": rng.below(50),
            }),
            JsonReport::VendorMargin => json!({
                "startDate": start, "endDate": end, "asin": product.asin, "netPureProductMargin": ratio(rng),
            }),
            JsonReport::VendorForecast => {
                let mean = rng.between(1, 500) as f64;
                json!({
                    "forecastGenerationDate": end, "asin": product.asin,
                    "startDate": start, "endDate": end,
                    "meanForecastUnits": mean, "p70ForecastUnits": mean * 1.2,
                    "p80ForecastUnits": mean * 1.35, "p90ForecastUnits": mean * 1.6,
                })
            }
            JsonReport::VendorRealTime => {
                let hour = self.row_time(row, rng);
                json!({
                    "startTime": hour.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "endTime": (hour + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
                    "asin": product.asin,
                    "orderedUnits": rng.below(50),
                    "orderedRevenue": money_number(rng.between(0, 100_000), currency),
                })
            }
            JsonReport::SearchTerms => json!({
                "departmentName": "Amazon.com",
                "searchTerm": product.name.to_lowercase(),
                "searchFrequencyRank": row + 1,
                "clickedAsin": product.asin,
                "clickShareRank": rng.between(1, 3),
                "clickShare": ratio(rng),
                "conversionShare": ratio(rng),
            }),
            JsonReport::BrandAnalyticsByAsin | JsonReport::Generic => json!({
                "startDate": start, "endDate": end, "asin": product.asin,
                "orders": rng.below(900),
                "uniqueCustomers": rng.below(800),
                "repeatCustomersPctTotal": ratio(rng),
                "repeatPurchaseRevenue": amount(rng.between(1000, 900_000), currency),
                "repeatPurchaseRevenuePctTotal": ratio(rng),
            }),
        }
    }
}

fn money_number(minor: u64, currency: &str) -> f64 {
    match decimals(currency) {
        0 => minor as f64,
        _ => minor as f64 / 100.0,
    }
}

fn amount(minor: u64, currency: &str) -> Value {
    json!({ "amount": money_number(minor, currency), "currencyCode": currency })
}

fn percent(rng: &mut SplitMix64) -> f64 {
    rng.below(10_001) as f64 / 100.0
}

fn ratio(rng: &mut SplitMix64) -> f64 {
    rng.below(10_001) as f64 / 10_000.0
}

fn days(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let count = (end - start).num_days().clamp(0, MAX_DAYS - 1) + 1;
    (0..count).map(move |offset| start + Duration::days(offset))
}

fn sales_and_traffic_by_date(day: NaiveDate, currency: &str, rng: &mut SplitMix64) -> Value {
    let units = rng.between(0, 900);
    let price = rng.between(500, 5000);
    let sessions = rng.between(units.max(1), units * 15 + 100);
    json!({
        "date": day.to_string(),
        "salesByDate": {
            "orderedProductSales": amount(units * price, currency),
            "unitsOrdered": units,
            "totalOrderItems": units.saturating_sub(units / 8),
            "averageSalesPerOrderItem": amount(price, currency),
            "averageUnitsPerOrderItem": 1.0 + ratio(rng),
            "averageSellingPrice": amount(price, currency),
            "unitsRefunded": units / 30,
            "refundRate": ratio(rng),
            "claimsGranted": units / 200,
            "claimsAmount": amount(units / 200 * price, currency),
            "shippedProductSales": amount(units * price * 9 / 10, currency),
            "unitsShipped": units * 9 / 10,
            "ordersShipped": units * 8 / 10,
        },
        "trafficByDate": {
            "browserPageViews": sessions,
            "mobileAppPageViews": sessions / 2,
            "pageViews": sessions + sessions / 2,
            "browserSessions": sessions * 2 / 3,
            "mobileAppSessions": sessions - sessions * 2 / 3,
            "sessions": sessions,
            "buyBoxPercentage": percent(rng),
            "orderItemSessionPercentage": percent(rng),
            "unitSessionPercentage": percent(rng),
            "averageOfferCount": rng.between(1, 9),
            "averageParentItems": rng.between(1, 400),
            "feedbackReceived": rng.below(20),
            "negativeFeedbackReceived": rng.below(3),
            "receivedNegativeFeedbackRate": ratio(rng),
        },
    })
}
