//! Real and test-only servers the registry tests and the benchmark start: the CNCF registry, a token
//! issuer, a fault-injecting proxy, OCI test images, and a static file server (the action's release downloads).

#![allow(dead_code)]

pub mod files;
pub mod http;
pub mod images;
pub mod proxy;
pub mod registry;
pub mod token;
