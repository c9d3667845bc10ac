//! JSON for people: indented like `serde_json::to_string_pretty`, but an array or object
//! that fits on its line stays on it, so a retry rule or a choice rule is one line and
//! the committed definitions stay short enough to review.

use serde_json::Value;

/// Widest a line may be, not counting its indentation, for a value to stay on it.
const WIDTH: usize = 120;

/// `value` as readable JSON, ending with a newline. A state (an object with a `Type`),
/// and whatever holds one, is always broken into lines.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, 0, 0);
    out.push('\n');
    out
}

fn write(out: &mut String, value: &Value, indent: usize, used: usize) {
    let inline = inline(value);
    if !holds_a_state(value) && used + inline.len() <= WIDTH {
        out.push_str(&inline);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    match value {
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad);
                write(out, item, indent + 1, 0);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Value::Object(members) => {
            out.push_str("{\n");
            for (i, (key, member)) in members.iter().enumerate() {
                let key = Value::String(key.clone()).to_string();
                out.push_str(&pad);
                out.push_str(&key);
                out.push_str(": ");
                write(out, member, indent + 1, key.len() + 2);
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Whether `value` is or contains a state (an object with a `Type`).
fn holds_a_state(value: &Value) -> bool {
    match value {
        Value::Object(members) => {
            members.contains_key("Type") || members.values().any(holds_a_state)
        }
        Value::Array(items) => items.iter().any(holds_a_state),
        _ => false,
    }
}

/// One-line form with a space after `,` and `:`.
fn inline(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), inline(v)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_values_stay_on_their_line_and_states_break() {
        let value = json!({
            "States": {"A": {"Type": "Succeed"}},
            "Retry": [{"ErrorEquals": ["Throttled"], "MaxAttempts": 5}],
            "Long": ["x".repeat(60), "y".repeat(60)]
        });
        let text = to_string(&value);
        assert!(
            text.contains(r#""Retry": [{"ErrorEquals": ["Throttled"], "MaxAttempts": 5}]"#),
            "{text}"
        );
        assert!(
            text.contains("\"States\": {\n    \"A\": {\n      \"Type\": \"Succeed\"\n    }"),
            "{text}"
        );
        assert!(text.contains("\"Long\": [\n    \"xxx"), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
