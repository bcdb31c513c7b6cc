//! Owns the modes: each one reads its inputs, gathers facts, plans, applies and reports.

pub mod build;
pub mod checklist;
pub mod lint;
pub mod patch;
pub mod plan;
pub mod promote;
pub mod release;
pub mod retag;
pub mod rollback;
pub mod select;
