//! One integration-test binary, a module per mode (ripgrep's layout).

mod harness;

mod build;
mod manifests;
mod patch;
