//! Query strings as SP-API clients send them: array parameters either comma-separated
//! (Swagger 2's default `csv` format, which Amazon's SDKs use) or repeated.

use url::form_urlencoded;

use crate::api_error::ApiError;

/// Decoded query parameters in order.
#[derive(Debug, Default)]
pub(crate) struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses a raw query string (`None` = no query).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|raw| {
                form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// Names of all parameters present.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(name, _)| name.as_str())
    }

    /// The first value of a parameter.
    pub(crate) fn single(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of an array parameter, split on commas; `None` when absent.
    pub(crate) fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .pairs
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect();
        self.pairs
            .iter()
            .any(|(key, _)| key == name)
            .then_some(values)
    }

    /// An array parameter that must hold between `min` and `max` values.
    pub(crate) fn bounded_list(
        &self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<Vec<String>>, ApiError> {
        match self.list(name) {
            Some(values) if values.len() < min || values.len() > max => {
                Err(ApiError::invalid_input(format!(
                    "{name} must contain between {min} and {max} values; got {}.",
                    values.len()
                )))
            }
            other => Ok(other),
        }
    }

    /// An integer parameter within `min..=max`.
    pub(crate) fn bounded_integer(
        &self,
        name: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.single(name) else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
            _ => Err(ApiError::invalid_input(format!(
                "{name} must be an integer between {min} and {max}; got {text:?}."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_commas_and_repetition() {
        let params = QueryParams::parse(Some("reportTypes=A,B&reportTypes=C&pageSize=5&x=%20"));
        assert_eq!(params.list("reportTypes").unwrap(), vec!["A", "B", "C"]);
        assert_eq!(params.list("missing"), None);
        assert_eq!(params.bounded_integer("pageSize", 1, 100).unwrap(), Some(5));
        assert!(params.bounded_integer("pageSize", 10, 100).is_err());
        assert!(params.bounded_list("reportTypes", 1, 2).is_err());
        assert_eq!(params.names().count(), 4);
    }
}
