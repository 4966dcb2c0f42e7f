//! lit-node: programmable key management and verifiable compute behind one REST API.
//! See README.md and ../shared/spec for the contract this crate implements.
//!
//! # Map of the modules
//!
//! | module | what it is |
//! |---|---|
//! | [`cid`], [`keys`], [`redact`], [`config`] | foundations: CIDv0 and hashed CIDs; key derivation, API-key hashing, signing and AEAD; hiding URLs' secrets; the node's configuration |
//! | [`store`] | RocksDB: the mirror's tables (typed reads and writes), permission caches, idempotency records, the outbox, kept code |
//! | [`chain`] | the contracts' bindings, deployment, and the chain writer (payers, batching, gas budget, outbox) |
//! | [`indexer`] | follows the chain and applies the registry's events to the store (the mirror) |
//! | [`actions`] | the Lit Actions runtime: QuickJS engine, the host object, fetch, limits, the worker pool |
//! | [`billing`] | credit, metering, Stripe payments and settlement |
//! | [`app`] | the state every request handler shares |
//! | [`api`] | HTTP: routes, extractors, auth, errors, the OpenAPI document |
//! | [`node`] | assembling and running a node (`dev`, `serve`), listeners and connections |
//! | [`logging`] | tracing setup |
//!
//! # Layering (which module may import which)
//!
//! Each layer may use the ones above it, never one below:
//!
//! 1. `cid`, `keys`, `redact`, `config` — import no other module of the crate.
//! 2. `store` — imports `cid` only.
//! 3. `chain` — `store`, `keys`, `redact`. It waits for the mirror through the small
//!    [`chain::applied_blocks::AppliedBlocks`] trait, not through the indexer.
//! 4. `indexer` — `chain`, `store`, `redact`.
//! 5. `actions` — `store`, `chain` (on-chain configuration keys), `keys`, `cid`, `config`.
//! 6. `billing` — `store`, `chain`, `keys`, `config`; it implements `actions::RunCredit`.
//! 7. `app` — the domain modules above; `api` — `app` and everything above; `node` — everything.
//!    `logging` — `config`, `redact`.
//!
//! Inside `api`, endpoint modules (`accounts`, `groups`, `wallets`, …) import none of each other;
//! what they share has a module of its own (`ownership`, `replies`, `charged_write`, `fields`,
//! `ids`, `wire_schema`, `error`).

pub mod actions;
pub mod api;
pub mod app;
pub mod billing;
pub mod chain;
pub mod cid;
pub mod config;
pub mod indexer;
pub mod keys;
pub mod logging;
pub mod node;
pub mod redact;
pub mod store;
