//! Removing what must never be stored from a text headed for the metadata table, the
//! execution history or a log: LWA tokens and presigned URLs' signatures.
//!
//! Causes of failures are written by many hands (our Lambdas, Step Functions, the AWS
//! SDK quoting a request); this is the last filter before one is recorded.

/// The longest cause kept; the execution history has the whole story.
const MAX_CHARS: usize = 2000;

/// `text` with LWA tokens (`Atza|…`, `Atzr|…`) and the query of any signed URL
/// (`X-Amz-Signature`, `Signature=`) replaced by `[redacted]`, cut to 2000 characters.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    let mut rest = text;
    while !rest.is_empty() {
        let token = ["Atza|", "Atzr|"]
            .iter()
            .filter_map(|prefix| rest.find(prefix))
            .min();
        let query = rest.find('?').filter(|&at| {
            let tail = &rest[at..at + word_end(&rest[at..])];
            tail.contains("X-Amz-Signature") || tail.contains("Signature=")
        });
        let cut = match (token, query) {
            (Some(t), Some(q)) => Some(t.min(q)),
            (t, q) => t.or(q),
        };
        let Some(at) = cut else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at]);
        let is_token = Some(at) == token;
        let (keep, end) = if is_token {
            (5, token_end(&rest[at..]))
        } else {
            (1, word_end(&rest[at..]))
        };
        out.push_str(&rest[at..at + keep]);
        out.push_str("[redacted]");
        rest = &rest[at + end..];
    }
    if out.chars().count() > MAX_CHARS {
        out = out.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    out
}

/// Where the LWA token starting `text` ends: at the first character no token has.
fn token_end(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || "|-_+/=.%".contains(c)))
        .unwrap_or(text.len())
}

/// Where the word starting `text` ends: at white space or a quote.
fn word_end(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_signed_urls_are_removed_and_the_rest_kept() {
        let text = r#"refresh failed for Atzr|IwEBIA-secret-1 and Atza|IwEBIB-secret-2; fetching https://bucket.s3.amazonaws.com/doc?X-Amz-Algorithm=AWS4&X-Amz-Signature=abcdef "quoted""#;
        let clean = redact(text);
        assert!(
            !clean.contains("secret-1") && !clean.contains("secret-2"),
            "{clean}"
        );
        assert!(
            !clean.contains("abcdef") && !clean.contains("X-Amz-Algorithm"),
            "{clean}"
        );
        assert!(
            clean.starts_with("refresh failed for Atzr|[redacted] and Atza|[redacted]; fetching https://bucket.s3.amazonaws.com/doc?[redacted] \"quoted\""),
            "{clean}"
        );
    }

    #[test]
    fn plain_causes_pass_unchanged_and_long_ones_are_cut() {
        let plain = "LWA answered invalid_grant: the refresh token was revoked?";
        assert_eq!(redact(plain), plain);
        assert_eq!(redact(&"x".repeat(5000)).chars().count(), MAX_CHARS + 1);
    }
}
