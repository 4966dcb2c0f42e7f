//! Lit Actions: code identity (CIDs) now; the QuickJS runtime arrives with the actions issue.

pub mod cid;
