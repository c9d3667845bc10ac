//! Where the client sends requests: the SP-API host and the LWA token URL, as configuration.
//!
//! Nothing in the request path assumes Amazon's hosts: the same client talks to production,
//! the sandbox or the local simulator depending only on the [`Endpoints`] it is given
//! (design.md "Endpoints are config"). Amazon's hosts are data in `domain::marketplace`
//! (api-facts.md §1.1, §2); the constructors here only pair them up.

use domain::Region;
use domain::marketplace::LWA_TOKEN_ENDPOINT;
use url::Url;

use crate::error::Error;

/// The two base URLs the client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// SP-API base URL, e.g. `https://sellingpartnerapi-na.amazon.com` or a simulator's
    /// `http://127.0.0.1:PORT`; operation paths are appended to its path.
    pub spapi: Url,
    /// The LWA token URL the grants are POSTed to.
    pub lwa_token: Url,
}

impl Endpoints {
    /// Endpoints from two URL strings (configuration, the simulator, the CLI).
    pub fn parse(spapi: &str, lwa_token: &str) -> Result<Self, Error> {
        Self::new(
            parse_url("spapi", spapi)?,
            parse_url("lwa_token", lwa_token)?,
        )
    }

    /// Endpoints from parsed URLs; fails when the SP-API URL cannot take a path.
    pub fn new(spapi: Url, lwa_token: Url) -> Result<Self, Error> {
        if spapi.cannot_be_a_base() {
            return Err(Error::InvalidEndpoint {
                which: "spapi",
                url: spapi.to_string(),
                reason: "it cannot be a base for request paths".to_owned(),
            });
        }
        Ok(Endpoints { spapi, lwa_token })
    }

    /// Amazon's production SP-API host for `region` with the global LWA token URL.
    pub fn production(region: Region) -> Self {
        Self::amazon(region.production_endpoint())
    }

    /// Amazon's sandbox SP-API host for `region` with the global LWA token URL.
    pub fn sandbox(region: Region) -> Self {
        Self::amazon(region.sandbox_endpoint())
    }

    fn amazon(host: &'static str) -> Self {
        // Amazon's hosts in `domain::marketplace` are valid absolute https URLs; the unit
        // test `amazon_hosts_are_valid_urls` checks every one of them.
        let parse = |s: &str| Url::parse(s).expect("Amazon host constants are valid URLs");
        Endpoints {
            spapi: parse(host),
            lwa_token: parse(LWA_TOKEN_ENDPOINT),
        }
    }

    /// The SP-API URL of an operation: the base path followed by `segments`, each
    /// percent-encoded (report ids and notification types go in path segments).
    pub(crate) fn spapi_url(&self, segments: &[&str]) -> Url {
        let mut url = self.spapi.clone();
        // `new` rejected cannot-be-a-base URLs, so `path_segments_mut` succeeds; on the
        // impossible failure the base URL is used unchanged and the server answers 404.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

fn parse_url(which: &'static str, value: &str) -> Result<Url, Error> {
    Url::parse(value).map_err(|source| Error::InvalidEndpoint {
        which,
        url: value.to_owned(),
        reason: source.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_hosts_are_valid_urls() {
        for region in Region::ALL {
            let production = Endpoints::production(region);
            assert_eq!(production.spapi.scheme(), "https");
            assert_eq!(production.lwa_token.as_str(), LWA_TOKEN_ENDPOINT);
            assert!(
                Endpoints::sandbox(region)
                    .spapi
                    .host_str()
                    .unwrap_or_default()
                    .starts_with("sandbox.")
            );
        }
    }

    #[test]
    fn operation_paths_are_appended_to_the_configured_base_path() {
        let endpoints = Endpoints::parse(
            "http://127.0.0.1:9000/sp/",
            "http://127.0.0.1:9000/auth/o2/token",
        )
        .unwrap();
        let url = endpoints.spapi_url(&["reports", "2021-06-30", "reports", "a/b c"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/sp/reports/2021-06-30/reports/a%2Fb%20c"
        );

        let bare = Endpoints::parse("http://127.0.0.1:9000", "http://x/token").unwrap();
        assert_eq!(
            bare.spapi_url(&["notifications", "v1"]).as_str(),
            "http://127.0.0.1:9000/notifications/v1"
        );
    }

    #[test]
    fn unusable_urls_are_config_errors() {
        let err = Endpoints::parse("not a url", LWA_TOKEN_ENDPOINT).unwrap_err();
        assert_eq!(err.name(), domain::ErrorName::ConfigInvalid);
        let err = Endpoints::parse("mailto:ops@example.com", LWA_TOKEN_ENDPOINT).unwrap_err();
        assert!(err.to_string().contains("spapi"), "{err}");
    }
}
