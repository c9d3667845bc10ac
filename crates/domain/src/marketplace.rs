//! SP-API regions and the marketplace table, as data.
//!
//! Source: <https://developer-docs.amazon.com/sp-api/docs/marketplace-ids> and
//! <https://developer-docs.amazon.com/sp-api/docs/sp-api-endpoints> (api-facts.md §2).
//! A marketplace belongs to exactly one SP-API region; calling a region's endpoint for
//! another region's marketplace fails, so config validation checks the pairing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An SP-API selling region: one endpoint host and one LWA-backed AWS region each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// North America: US, CA, MX, BR.
    Na,
    /// Europe, Middle East, Africa and India.
    Eu,
    /// Far East: JP, AU, SG.
    Fe,
}

impl Region {
    /// Every region, in config order.
    pub const ALL: [Region; 3] = [Region::Na, Region::Eu, Region::Fe];

    /// The lower-case code used in parameter paths (`regions/na`).
    pub const fn code(self) -> &'static str {
        match self {
            Region::Na => "na",
            Region::Eu => "eu",
            Region::Fe => "fe",
        }
    }

    /// Amazon's production SP-API endpoint for the region.
    pub const fn production_endpoint(self) -> &'static str {
        match self {
            Region::Na => "https://sellingpartnerapi-na.amazon.com",
            Region::Eu => "https://sellingpartnerapi-eu.amazon.com",
            Region::Fe => "https://sellingpartnerapi-fe.amazon.com",
        }
    }

    /// Amazon Ads API host serving the region's marketplaces (api-facts §6).
    pub const fn ads_production_endpoint(self) -> &'static str {
        match self {
            Region::Na => "https://advertising-api.amazon.com",
            Region::Eu => "https://advertising-api-eu.amazon.com",
            Region::Fe => "https://advertising-api-fe.amazon.com",
        }
    }

    /// Amazon's sandbox SP-API endpoint for the region (static answers, 5 r/s).
    pub const fn sandbox_endpoint(self) -> &'static str {
        match self {
            Region::Na => "https://sandbox.sellingpartnerapi-na.amazon.com",
            Region::Eu => "https://sandbox.sellingpartnerapi-eu.amazon.com",
            Region::Fe => "https://sandbox.sellingpartnerapi-fe.amazon.com",
        }
    }

    /// The AWS region Amazon runs the SP-API region in.
    pub const fn aws_region(self) -> &'static str {
        match self {
            Region::Na => "us-east-1",
            Region::Eu => "eu-west-1",
            Region::Fe => "us-west-2",
        }
    }
}

/// The LWA token endpoint SP-API documents for every region.
pub const LWA_TOKEN_ENDPOINT: &str = "https://api.amazon.com/auth/o2/token";

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| format!("`{s}` is not a region; expected one of na, eu, fe"))
    }
}

/// One Amazon marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marketplace {
    /// The marketplace id, e.g. `ATVPDKIKX0DER`.
    pub id: &'static str,
    /// ISO country code Amazon uses (`UK` for the United Kingdom).
    pub country: &'static str,
    /// Country name, for messages.
    pub name: &'static str,
    /// The SP-API region serving it.
    pub region: Region,
}

/// Every marketplace SP-API documents (api-facts.md §2).
pub const MARKETPLACES: [Marketplace; 23] = [
    mp("A2EUQ1WTGCTBG2", "CA", "Canada", Region::Na),
    mp("ATVPDKIKX0DER", "US", "United States", Region::Na),
    mp("A1AM78C64UM0Y8", "MX", "Mexico", Region::Na),
    mp("A2Q3Y263D00KWC", "BR", "Brazil", Region::Na),
    mp("A28R8C7NBKEWEA", "IE", "Ireland", Region::Eu),
    mp("A1RKKUPIHCS9HS", "ES", "Spain", Region::Eu),
    mp("A1F83G8C2ARO7P", "UK", "United Kingdom", Region::Eu),
    mp("A13V1IB3VIYZZH", "FR", "France", Region::Eu),
    mp("AMEN7PMS3EDWL", "BE", "Belgium", Region::Eu),
    mp("A1805IZSGTT6HS", "NL", "Netherlands", Region::Eu),
    mp("A1PA6795UKMFR9", "DE", "Germany", Region::Eu),
    mp("APJ6JRA9NG5V4", "IT", "Italy", Region::Eu),
    mp("A2NODRKZP88ZB9", "SE", "Sweden", Region::Eu),
    mp("AE08WJ6YKNBMC", "ZA", "South Africa", Region::Eu),
    mp("A1C3SOZRARQ6R3", "PL", "Poland", Region::Eu),
    mp("ARBP9OOSHTCHU", "EG", "Egypt", Region::Eu),
    mp("A33AVAJ2PDY3EV", "TR", "Turkey", Region::Eu),
    mp("A17E79C6D8DWNP", "SA", "Saudi Arabia", Region::Eu),
    mp("A2VIGQ35RCS4UG", "AE", "United Arab Emirates", Region::Eu),
    mp("A21TJRUUN4KGV", "IN", "India", Region::Eu),
    mp("A19VAU5U5O7RUS", "SG", "Singapore", Region::Fe),
    mp("A39IBJ37TRP1C6", "AU", "Australia", Region::Fe),
    mp("A1VC38T7YXB528", "JP", "Japan", Region::Fe),
];

const fn mp(
    id: &'static str,
    country: &'static str,
    name: &'static str,
    region: Region,
) -> Marketplace {
    Marketplace {
        id,
        country,
        name,
        region,
    }
}

/// The Japan marketplace, whose flat files come in CP932 (api-facts.md §8 pitfall 7).
pub const JAPAN: &str = "A1VC38T7YXB528";

/// Looks a marketplace up by id.
pub fn marketplace(id: &str) -> Option<&'static Marketplace> {
    MARKETPLACES.iter().find(|m| m.id == id)
}

/// The legacy charset Amazon uses for flat-file reports of a marketplace when the download
/// does not say and the content is not UTF-8 (api-facts.md §8 pitfall 7): CP932 for Japan
/// (<https://github.com/amzn/selling-partner-api-models/issues/545>), Cp1252 for the
/// Western European marketplaces (listings; #2293, #2748). Elsewhere UTF-8.
pub fn default_flat_file_charset(marketplace_id: &str) -> &'static str {
    const CP1252: [&str; 9] = [
        "A1F83G8C2ARO7P", // UK
        "A1PA6795UKMFR9", // DE
        "A13V1IB3VIYZZH", // FR
        "APJ6JRA9NG5V4",  // IT
        "A1RKKUPIHCS9HS", // ES
        "A1805IZSGTT6HS", // NL
        "AMEN7PMS3EDWL",  // BE
        "A28R8C7NBKEWEA", // IE
        "A2NODRKZP88ZB9", // SE
    ];
    if marketplace_id == JAPAN {
        "Cp932"
    } else if CP1252.contains(&marketplace_id) {
        "Cp1252"
    } else {
        "UTF-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_every_documented_marketplace_once() {
        let mut ids: Vec<_> = MARKETPLACES.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 23);
        assert_eq!(
            marketplace("ATVPDKIKX0DER").map(|m| m.region),
            Some(Region::Na)
        );
        assert_eq!(marketplace("A1PA6795UKMFR9").map(|m| m.country), Some("DE"));
        assert_eq!(marketplace(JAPAN).map(|m| m.region), Some(Region::Fe));
        assert_eq!(
            marketplace("A21TJRUUN4KGV").map(|m| m.region),
            Some(Region::Eu)
        );
        assert!(marketplace("ATVPDKIKX0DEX").is_none());
    }

    #[test]
    fn region_codes_round_trip() {
        for region in Region::ALL {
            assert_eq!(region.code().parse::<Region>(), Ok(region));
        }
        assert!("us".parse::<Region>().unwrap_err().contains("na, eu, fe"));
    }

    #[test]
    fn japan_flat_files_default_to_cp932() {
        assert_eq!(default_flat_file_charset(JAPAN), "Cp932");
        assert_eq!(default_flat_file_charset("ATVPDKIKX0DER"), "UTF-8");
    }
}
