//! First-party identifiers for AMC: normalised as Amazon's own uploader does, then
//! hashed with SHA-256 (lower-case hex), so they match the hashes Amazon computes of its
//! customers. Values already 64 lower-case hex characters are taken as hashed and passed
//! through. The rules are those of Amazon's AMC uploader (aws-solutions/
//! amazon-marketing-cloud-uploader-from-aws, `source/glue/normalizers/`): an e-mail is
//! lower-cased with everything but letters, digits, `_`, `.`, `@`, `-` removed; a phone
//! number is its E.164 digits without `+`; a name or city is lower-cased with ß, ä, ö, ü,
//! ø, æ spelt out and everything but a–z and 0–9 removed; a postal code has its
//! country's shape (five digits in the US, A1A1A1 in Canada, seven characters in the UK,
//! six digits in India, seven in Japan). A value that does not normalise is invalid: it
//! is counted, never hashed, and never shown (errors say which rule, not the value).

use sha2::{Digest, Sha256};

/// Which identifier a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A first name.
    FirstName,
    /// A last name.
    LastName,
    /// A city.
    City,
    /// A postal code.
    PostalCode,
}

impl Identifier {
    /// The identifier a column of this name holds (`email`, `phone`, `first_name`,
    /// `last_name`, `city`, `postal_code` or `zip`, any case); `None` for other columns,
    /// which are uploaded as they are.
    pub fn of_column(name: &str) -> Option<Identifier> {
        match name.trim().to_ascii_lowercase().as_str() {
            "email" | "email_address" => Some(Identifier::Email),
            "phone" | "phone_number" => Some(Identifier::Phone),
            "first_name" => Some(Identifier::FirstName),
            "last_name" => Some(Identifier::LastName),
            "city" => Some(Identifier::City),
            "postal_code" | "zip" | "zip_code" => Some(Identifier::PostalCode),
            _ => None,
        }
    }

    /// Its name in AMC's dataset definition (`externalUserIdType.identifierType`).
    pub const fn amc_name(self) -> &'static str {
        match self {
            Identifier::Email => "EMAIL",
            Identifier::Phone => "PHONE",
            Identifier::FirstName => "FIRST_NAME",
            Identifier::LastName => "LAST_NAME",
            Identifier::City => "CITY",
            Identifier::PostalCode => "POSTAL",
        }
    }
}

/// Why a value is not a usable identifier (never the value itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Nothing is left after normalising.
    #[error("empty once normalised")]
    Empty,
    /// Not `local@domain`.
    #[error("not an e-mail address")]
    NotAnEmail,
    /// Not a phone number of the country (8 to 15 digits with the country code).
    #[error("not a phone number of the country")]
    NotAPhone,
    /// Not a postal code of the country.
    #[error("not a postal code of the country")]
    NotAPostalCode,
    /// The country is not one sp-ingest knows the rules of.
    #[error("the country has no rules here (US, CA, UK, DE, FR, IT, ES, IN, JP)")]
    UnknownCountry,
}

/// The countries whose phone and postal-code rules are known: (code, calling code,
/// whether a national number starts with a trunk `0` to drop).
const COUNTRIES: [(&str, &str, bool); 9] = [
    ("US", "1", false),
    ("CA", "1", false),
    ("UK", "44", true),
    ("DE", "49", true),
    ("FR", "33", true),
    ("IT", "39", false),
    ("ES", "34", false),
    ("IN", "91", true),
    ("JP", "81", true),
];

/// `value` normalised as `identifier` in `country` (ISO code; GB counts as UK).
pub fn normalize(identifier: Identifier, value: &str, country: &str) -> Result<String, Invalid> {
    let country = match country.to_ascii_uppercase().as_str() {
        "GB" => "UK".to_owned(),
        other => other.to_owned(),
    };
    let normalized = match identifier {
        Identifier::Email => email(value)?,
        Identifier::Phone => phone(value, &country)?,
        Identifier::FirstName | Identifier::LastName | Identifier::City => plain(value),
        Identifier::PostalCode => postal_code(value, &country)?,
    };
    if normalized.is_empty() {
        return Err(Invalid::Empty);
    }
    Ok(normalized)
}

/// The value to upload: the SHA-256 (lower-case hex) of the normalised value, or the
/// value itself when it is already such a hash.
pub fn hashed(identifier: Identifier, value: &str, country: &str) -> Result<String, Invalid> {
    let trimmed = value.trim();
    if is_hash(trimmed) {
        return Ok(trimmed.to_owned());
    }
    let normalized = normalize(identifier, value, country)?;
    Ok(hex::encode(Sha256::digest(normalized.as_bytes())))
}

/// Whether `value` is 64 lower-case hex characters (a SHA-256 already).
pub fn is_hash(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn email(value: &str) -> Result<String, Invalid> {
    let kept: String = value
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
        .collect();
    match kept.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(kept),
        _ => Err(Invalid::NotAnEmail),
    }
}

fn phone(value: &str, country: &str) -> Result<String, Invalid> {
    let (_, calling, trunk) = COUNTRIES
        .iter()
        .find(|(code, ..)| *code == country)
        .ok_or(Invalid::UnknownCountry)?;
    let trimmed = value.trim();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let mut digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let e164 = if international {
        digits
            .strip_prefix("00")
            .map(str::to_owned)
            .unwrap_or(digits)
    } else if digits.starts_with(calling) && digits.len() > 10 {
        // Dialled with the country code but no `+` (1 612 …).
        digits
    } else {
        if *trunk && digits.starts_with('0') {
            digits.remove(0);
        }
        format!("{calling}{digits}")
    };
    let national = e164.strip_prefix(calling).unwrap_or(&e164);
    // UK numbers do not start with 4 or 6 after the country code (Amazon's uploader).
    let restricted = country == "UK" && national.starts_with(['4', '6']);
    if !(8..=15).contains(&e164.len()) || restricted {
        return Err(Invalid::NotAPhone);
    }
    Ok(e164)
}

fn plain(value: &str) -> String {
    value
        .to_lowercase()
        .replace('ß', "ss")
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ø', "o")
        .replace('æ', "ae")
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

fn postal_code(value: &str, country: &str) -> Result<String, Invalid> {
    let (keep_letters, length): (bool, usize) = match country {
        "CA" => (true, 6),
        "UK" => (true, 7),
        "IN" => (false, 6),
        "JP" => (false, 7),
        _ => (false, 5),
    };
    let code: String = value
        .chars()
        .filter(|c| c.is_ascii_digit() || (keep_letters && c.is_ascii_alphabetic()))
        .take(length)
        .collect();
    let shape_ok = match country {
        "CA" => {
            code.len() == 6
                && code.chars().enumerate().all(|(i, c)| {
                    if i % 2 == 0 {
                        c.is_ascii_alphabetic()
                    } else {
                        c.is_ascii_digit()
                    }
                })
        }
        // A11AA … AA111AA, A1A1AA, AA1A1AA: letters, digits, then two letters.
        "UK" => {
            let bytes = code.as_bytes();
            code.len() >= 5
                && bytes[..bytes.len() - 2]
                    .first()
                    .is_some_and(u8::is_ascii_alphabetic)
                && bytes[bytes.len() - 2..].iter().all(u8::is_ascii_alphabetic)
                && bytes[bytes.len() - 3].is_ascii_digit()
        }
        _ => code.len() == length,
    };
    if shape_ok {
        Ok(code)
    } else {
        Err(Invalid::NotAPostalCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of Amazon's uploader's US sample (`source/tests/unit_test/amc_transformation/
    /// sample_data/test_us/us_raw.json`) with the hashes its check file expects.
    const US_SAMPLE: &[(Identifier, &str, &str)] = &[
        (
            Identifier::FirstName,
            "Faulkner",
            "77f53c97d937d5b146f99f9dae5017853c76cde577f8dd9d986bbeec238ae0f0",
        ),
        (
            Identifier::LastName,
            "Checketts",
            "357df1c6702954e5d6ab9741d9430d01cd08f262352934bdde254a014c3fb99c",
        ),
        (
            Identifier::Email,
            "fchecketts0@webeden.co.uk",
            "5bd5f77cb5a05b8a30fb028e800c19207c158772564e485561e5596506aba005",
        ),
        (
            Identifier::Phone,
            "5714120599",
            "8ae78b78db5e45aff4a0646198a9f1e60270ba153349b29b4ce0bbd2f5ec9cc9",
        ),
        (
            Identifier::City,
            "Dallas",
            "fa2115f8d576a6ab722956697fc759c31d1cd6b93c8336bfebf73ed5cba2ff49",
        ),
        (
            Identifier::PostalCode,
            "75236-9599",
            "91b6147da4928d5742bb8ddb035e75f9fe77a7f88881906ac7417abf8a46effa",
        ),
        (
            Identifier::Phone,
            "571-981-5803",
            "e14937512d901c5e89a973f88cbc858d943f34e029bcc5161ff1134694987ca9",
        ),
        (
            Identifier::Phone,
            "760 271 3492",
            "f5310e83534bc5c6008c17dd79a84873f1e1f40b339143a0dfa9e315d8c531b9",
        ),
        (
            Identifier::Phone,
            "+1 (413) 871-4499",
            "ed4f1d5e1d3e44fefa8dbc7e1ed7d1ada51311f88d95d8c4e55624d38735088c",
        ),
        (
            Identifier::Phone,
            "(916) 3979206",
            "77b32ff11ce74ddeca7e1d965301d919517f412e1477b18d58f4ff63e6b322c1",
        ),
        (
            Identifier::LastName,
            "Le - Count",
            "e07bd0b0efe28184c01ec8c227f713571043ae3717881288f5cf03c7f4c1b27d",
        ),
        (
            Identifier::Phone,
            "1(612)392-8346",
            "71ad0a9551b99a34dc09bd2ee4085ee25c4fcf94a79f4c83e2d2e25c5f55d132",
        ),
        (
            Identifier::City,
            "Young America",
            "409d3d5237f6bd57b62d305a24cc363953a3d5b758784aaf586caa9c30b4829f",
        ),
        (
            Identifier::PostalCode,
            "22313-9363",
            "8f998ce5e5d1d45023b1003ffa19e65db1fc01a62cb06ac43b63cb28cf2a5d16",
        ),
    ];

    #[test]
    fn amazons_us_sample_hashes_as_its_uploader_expects() {
        for (identifier, raw, expected) in US_SAMPLE {
            assert_eq!(
                hashed(*identifier, raw, "US").as_deref(),
                Ok(*expected),
                "{identifier:?} {raw}"
            );
        }
    }

    #[test]
    fn each_rule_normalises_as_documented() {
        let cases: &[(Identifier, &str, &str, Result<&str, Invalid>)] = &[
            (
                Identifier::Email,
                " John.Doe+Promo@Example.COM ",
                "US",
                Ok("john.doepromo@example.com"),
            ),
            (
                Identifier::Email,
                "not-an-email",
                "US",
                Err(Invalid::NotAnEmail),
            ),
            (
                Identifier::FirstName,
                "Jürgen-Strauß",
                "DE",
                Ok("juergenstrauss"),
            ),
            (Identifier::City, "  Ålesund ", "US", Ok("lesund")),
            (Identifier::LastName, "---", "US", Err(Invalid::Empty)),
            (Identifier::Phone, "020 7946 0958", "UK", Ok("442079460958")),
            (
                Identifier::Phone,
                "+44 7700 900123",
                "GB",
                Ok("447700900123"),
            ),
            (
                Identifier::Phone,
                "0044 20 7946 0958",
                "UK",
                Ok("442079460958"),
            ),
            (Identifier::Phone, "06 12 34 56 78", "FR", Ok("33612345678")),
            (Identifier::Phone, "03-1234-5678", "JP", Ok("81312345678")),
            (Identifier::Phone, "12", "US", Err(Invalid::NotAPhone)),
            (
                Identifier::Phone,
                "4123 456789",
                "UK",
                Err(Invalid::NotAPhone),
            ),
            (
                Identifier::Phone,
                "555 1234",
                "BR",
                Err(Invalid::UnknownCountry),
            ),
            (
                Identifier::PostalCode,
                "6160",
                "US",
                Err(Invalid::NotAPostalCode),
            ),
            (Identifier::PostalCode, "K1A 0B1", "CA", Ok("K1A0B1")),
            (Identifier::PostalCode, "SW1A 1AA", "UK", Ok("SW1A1AA")),
            (Identifier::PostalCode, "M1 1AE", "UK", Ok("M11AE")),
            (Identifier::PostalCode, "100-0001", "JP", Ok("1000001")),
            (Identifier::PostalCode, "110 001", "IN", Ok("110001")),
        ];
        for (identifier, raw, country, expected) in cases {
            assert_eq!(
                normalize(*identifier, raw, country).as_deref(),
                expected.as_deref(),
                "{identifier:?} {raw:?} in {country}"
            );
        }
    }

    #[test]
    fn a_hash_passes_through_and_errors_never_hold_the_value() {
        let hash = "5bd5f77cb5a05b8a30fb028e800c19207c158772564e485561e5596506aba005";
        assert_eq!(hashed(Identifier::Email, hash, "US").as_deref(), Ok(hash));
        let upper = hash.to_uppercase();
        assert!(
            !is_hash(&upper),
            "an upper-case hash is a value, hashed again"
        );
        let error = hashed(Identifier::Email, "secret-person", "US").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        assert_eq!(Identifier::of_column("ZIP"), Some(Identifier::PostalCode));
        assert_eq!(Identifier::of_column("segment"), None);
    }
}
