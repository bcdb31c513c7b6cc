//! One integration-test binary, a module per mode (ripgrep's layout).

mod git_http;
mod harness;
mod support;

mod build;
mod docs;
mod examples;
mod lint;
mod manifests;
mod patch;
mod quickstart;
mod retag;
mod select;
mod wiring;
mod wrapper;
