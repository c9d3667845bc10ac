//! CSV lines as Amazon writes them (AMC results) and as users keep customer lists: fields
//! separated by commas, a field in double quotes may hold commas, `""` inside one is a
//! quote (RFC 4180, without line breaks inside a field).

use std::borrow::Cow;

/// The fields of one CSV line: separated by commas; a field in double quotes may hold
/// commas, and `""` inside it is one quote (RFC 4180; a field holds no line break).
pub fn fields(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        value.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            };
            fields.push(Cow::Owned(value));
            rest = &quoted[end..];
            match rest.strip_prefix(',') {
                Some(next) => rest = next,
                None if rest.is_empty() => return Ok(fields),
                None => return Err(format!("text after a quoted field: `{rest}`")),
            }
        } else {
            match rest.split_once(',') {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}
