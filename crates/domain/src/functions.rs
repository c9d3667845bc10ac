//! The pipeline's Lambda functions, by crate name, and how the state machines name them.
//!
//! ASL files refer to a function as `${<Name>FunctionArn}` (a SAM
//! `DefinitionSubstitutions` placeholder), so one definition runs against a deployed
//! stack and the local one alike; [`substitute_function_arns`] fills them in.

/// A Lambda function of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Crate, binary and function name, e.g. `report-creator`.
    pub name: &'static str,
    /// Placeholder in ASL definitions, e.g. `ReportCreatorFunctionArn`.
    pub placeholder: &'static str,
}

/// Every function of the ingest pipeline.
pub const FUNCTIONS: [Function; 6] = [
    Function {
        name: "auth",
        placeholder: "AuthFunctionArn",
    },
    Function {
        name: "report-creator",
        placeholder: "ReportCreatorFunctionArn",
    },
    Function {
        name: "update-metadata",
        placeholder: "UpdateMetadataFunctionArn",
    },
    Function {
        name: "notification-processor",
        placeholder: "NotificationProcessorFunctionArn",
    },
    Function {
        name: "data-processor",
        placeholder: "DataProcessorFunctionArn",
    },
    Function {
        name: "storage",
        placeholder: "StorageFunctionArn",
    },
];

/// Replaces every `${<Name>FunctionArn}` with `arn_of(function name)`; an unknown
/// placeholder is an error naming it.
pub fn substitute_function_arns(
    definition: &str,
    arn_of: impl Fn(&str) -> String,
) -> Result<String, String> {
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated `${` placeholder".to_owned())?;
        let placeholder = &after[..end];
        let function = FUNCTIONS
            .iter()
            .find(|f| f.placeholder == placeholder)
            .ok_or_else(|| {
                format!(
                    "unknown placeholder `${{{placeholder}}}`; known: {}",
                    FUNCTIONS
                        .iter()
                        .map(|f| f.placeholder)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        out.push_str(&arn_of(function.name));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_arns() {
        let text = r#"{"FunctionName":"${AuthFunctionArn}","Other":"${StorageFunctionArn}"}"#;
        let out = substitute_function_arns(text, |name| {
            format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
        })
        .unwrap();
        assert_eq!(
            out,
            r#"{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:auth","Other":"arn:aws:lambda:us-east-1:123456789012:function:storage"}"#
        );
    }

    #[test]
    fn unknown_placeholder_is_named() {
        let err =
            substitute_function_arns("${TransformFunctionArn}", |n| n.to_owned()).unwrap_err();
        assert!(
            err.contains("`${TransformFunctionArn}`") && err.contains("AuthFunctionArn"),
            "{err}"
        );
        assert!(substitute_function_arns("${Auth", |n| n.to_owned()).is_err());
    }

    #[test]
    fn placeholder_is_the_camel_case_of_the_name() {
        for f in FUNCTIONS {
            let camel: String = f
                .name
                .split('-')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            assert_eq!(f.placeholder, format!("{camel}FunctionArn"));
        }
    }
}
