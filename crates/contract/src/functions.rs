//! The pipeline's Lambda functions, by crate name, and how the state machines name them.
//!
//! ASL files refer to a function as `${<Name>FunctionArn}` (a SAM
//! `DefinitionSubstitutions` placeholder), so one definition runs against a deployed
//! stack and the local one alike; [`substitute_function_arns`] fills them in.

/// A Lambda function of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Function {
    /// Crate, binary and function name, e.g. `report-creator`.
    pub name: &'static str,
    /// Placeholder in ASL definitions, e.g. `ReportCreatorFunctionArn`.
    pub placeholder: &'static str,
}

/// `auth`: LWA credentials → sealed access token.
pub const AUTH: Function = Function {
    name: "auth",
    placeholder: "AuthFunctionArn",
};
/// `report-creator`: Plan and CreateReport.
pub const REPORT_CREATOR: Function = Function {
    name: "report-creator",
    placeholder: "ReportCreatorFunctionArn",
};
/// `update-metadata`: AwaitReport, Record* and Summarize.
pub const UPDATE_METADATA: Function = Function {
    name: "update-metadata",
    placeholder: "UpdateMetadataFunctionArn",
};
/// `notification-processor`: SQS notifications → the waiting executions (not a step).
pub const NOTIFICATION_PROCESSOR: Function = Function {
    name: "notification-processor",
    placeholder: "NotificationProcessorFunctionArn",
};
/// `data-processor`: PollStatus and ReadFatalReason.
pub const DATA_PROCESSOR: Function = Function {
    name: "data-processor",
    placeholder: "DataProcessorFunctionArn",
};
/// `storage`: Store.
pub const STORAGE: Function = Function {
    name: "storage",
    placeholder: "StorageFunctionArn",
};

/// `transform`: Curate.
pub const TRANSFORM: Function = Function {
    name: "transform",
    placeholder: "TransformFunctionArn",
};

/// Every function of the ingest pipeline.
pub const FUNCTIONS: [Function; 7] = [
    AUTH,
    REPORT_CREATOR,
    UPDATE_METADATA,
    NOTIFICATION_PROCESSOR,
    DATA_PROCESSOR,
    STORAGE,
    TRANSFORM,
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
        let err = substitute_function_arns("${PublishFunctionArn}", |n| n.to_owned()).unwrap_err();
        assert!(
            err.contains("`${PublishFunctionArn}`") && err.contains("TransformFunctionArn"),
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
