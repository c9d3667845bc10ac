//! The contract between the state machine and the Lambdas: every step's payload as a
//! type, the functions that serve the steps, and the ASL definition built from both.
//!
//! One convention holds for every payload (design.md "Errors are the contract" does the
//! same for failures):
//!
//! - a Lambda's input is `{"step": "<Step>", …}`: the `step` tag names the state that
//!   invoked it ([`Step`]), the other fields are the step's input struct, camelCase;
//! - a Lambda's output is the step's output struct, camelCase, with every optional field
//!   present (`null`), because ASL paths fail on a missing field but not on a null one;
//! - nothing in a payload is a secret: access tokens travel sealed ([`SealedToken`]),
//!   document URLs never travel (Store asks for its own).
//!
//! Lambdas and the CLI use these types; `statemachines/*.asl.json` is generated from
//! [`asl`] and checked against them by evaluating every path on typed samples.

pub mod asl;
pub mod functions;
pub mod outcome;
pub mod steps;
pub mod token;

pub use functions::{FUNCTIONS, Function};
pub use outcome::{ItemResult, Outcome, RunSummary, StoredObject, summarize};
pub use steps::*;
pub use token::SealedToken;
