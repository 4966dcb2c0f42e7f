//! lit-node: programmable key management and verifiable compute behind one REST API.
//! See README.md and ../shared/spec for the contract this crate implements.

pub mod actions;
pub mod api;
pub mod app;
pub mod billing;
pub mod chain;
pub mod config;
pub mod indexer;
pub mod keys;
pub mod logging;
pub mod node;
pub mod redact;
pub mod store;
