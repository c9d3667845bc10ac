//! Amazon's marketplaces: the ids createReport accepts and what the generated content
//! needs to look local (currency, sales channel, language, SP-API region).
//! Ids: <https://developer-docs.amazon.com/sp-api/docs/marketplace-ids>
//!
//! The ids and regions are Amazon's and also in `domain::marketplace` (which the client and
//! config validation use); the columns here are only what generated content needs, and a
//! test keeps the two tables in step.

/// The marketplace id of Amazon.co.jp, whose flat files are served in Cp932.
pub(crate) use domain::marketplace::JAPAN;

/// Language of product names and addresses in generated documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    English,
    German,
    French,
    Spanish,
    Japanese,
}

/// One marketplace.
#[derive(Debug)]
pub(crate) struct Marketplace {
    pub id: &'static str,
    pub country_code: &'static str,
    /// SP-API region: `na`, `eu` or `fe` (also used in document ids).
    pub region: &'static str,
    pub currency: &'static str,
    pub sales_channel: &'static str,
    pub language: Language,
}

const fn marketplace(
    id: &'static str,
    country_code: &'static str,
    region: &'static str,
    currency: &'static str,
    sales_channel: &'static str,
    language: Language,
) -> Marketplace {
    Marketplace {
        id,
        country_code,
        region,
        currency,
        sales_channel,
        language,
    }
}

/// Every marketplace SP-API knows (api-facts §2).
#[rustfmt::skip]
pub(crate) static MARKETPLACES: [Marketplace; 23] = [
    marketplace("A2EUQ1WTGCTBG2", "CA", "na", "CAD", "Amazon.ca",     Language::English),
    marketplace("ATVPDKIKX0DER",  "US", "na", "USD", "Amazon.com",    Language::English),
    marketplace("A1AM78C64UM0Y8", "MX", "na", "MXN", "Amazon.com.mx", Language::Spanish),
    marketplace("A2Q3Y263D00KWC", "BR", "na", "BRL", "Amazon.com.br", Language::English),
    marketplace("A28R8C7NBKEWEA", "IE", "eu", "EUR", "Amazon.ie",     Language::English),
    marketplace("A1RKKUPIHCS9HS", "ES", "eu", "EUR", "Amazon.es",     Language::Spanish),
    marketplace("A1F83G8C2ARO7P", "GB", "eu", "GBP", "Amazon.co.uk",  Language::English),
    marketplace("A13V1IB3VIYZZH", "FR", "eu", "EUR", "Amazon.fr",     Language::French),
    marketplace("AMEN7PMS3EDWL",  "BE", "eu", "EUR", "Amazon.com.be", Language::French),
    marketplace("A1805IZSGTT6HS", "NL", "eu", "EUR", "Amazon.nl",     Language::English),
    marketplace("A1PA6795UKMFR9", "DE", "eu", "EUR", "Amazon.de",     Language::German),
    marketplace("APJ6JRA9NG5V4",  "IT", "eu", "EUR", "Amazon.it",     Language::English),
    marketplace("A2NODRKZP88ZB9", "SE", "eu", "SEK", "Amazon.se",     Language::English),
    marketplace("AE08WJ6YKNBMC",  "ZA", "eu", "ZAR", "Amazon.co.za",  Language::English),
    marketplace("A1C3SOZRARQ6R3", "PL", "eu", "PLN", "Amazon.pl",     Language::English),
    marketplace("ARBP9OOSHTCHU",  "EG", "eu", "EGP", "Amazon.eg",     Language::English),
    marketplace("A33AVAJ2PDY3EV", "TR", "eu", "TRY", "Amazon.com.tr", Language::English),
    marketplace("A17E79C6D8DWNP", "SA", "eu", "SAR", "Amazon.sa",     Language::English),
    marketplace("A2VIGQ35RCS4UG", "AE", "eu", "AED", "Amazon.ae",     Language::English),
    marketplace("A21TJRUUN4KGV",  "IN", "eu", "INR", "Amazon.in",     Language::English),
    marketplace("A19VAU5U5O7RUS", "SG", "fe", "SGD", "Amazon.sg",     Language::English),
    marketplace("A39IBJ37TRP1C6", "AU", "fe", "AUD", "Amazon.com.au", Language::English),
    marketplace(JAPAN,            "JP", "fe", "JPY", "Amazon.co.jp",  Language::Japanese),
];

/// The marketplace with this id.
pub(crate) fn find(id: &str) -> Option<&'static Marketplace> {
    MARKETPLACES.iter().find(|m| m.id == id)
}

/// The marketplace used for content when a request names an unknown one (cannot happen
/// for validated requests; keeps content generation total).
pub(crate) fn find_or_us(id: &str) -> &'static Marketplace {
    find(id).unwrap_or(&MARKETPLACES[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_is_far_east_yen() {
        let jp = find(JAPAN).unwrap();
        assert_eq!(
            (jp.region, jp.currency, jp.language),
            ("fe", "JPY", Language::Japanese)
        );
        assert!(find("XXXXXXXXXXXXX").is_none());
        assert_eq!(find_or_us("nope").id, "ATVPDKIKX0DER");
    }

    #[test]
    fn ids_and_regions_agree_with_the_domain_table() {
        assert_eq!(MARKETPLACES.len(), domain::marketplace::MARKETPLACES.len());
        for market in &MARKETPLACES {
            let amazon = domain::marketplace::marketplace(market.id)
                .unwrap_or_else(|| panic!("{} is not in domain's table", market.id));
            assert_eq!(market.region, amazon.region.code(), "{}", market.id);
        }
    }
}
