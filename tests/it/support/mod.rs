//! Real and test-only servers the registry tests and the benchmark start: the CNCF registry, a token
//! issuer, a fault-injecting proxy, a test CA for TLS, OCI test images, a stateful test GitHub, and a static
//! file server (the action's release downloads), and strace to count the files a run opens.

#![allow(dead_code)]

pub mod files;
pub mod github;
pub mod http;
pub mod images;
pub mod proxy;
pub mod registry;
pub mod tls;
pub mod token;
pub mod trace;
