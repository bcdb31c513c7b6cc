//! One integration-test binary, a module per mode (ripgrep's layout).

mod git_http;
mod git_https;
mod harness;
mod support;

mod act;
mod build;
mod checklist;
mod cuts;
mod docs;
mod examples;
mod gates;
mod github_client;
mod github_fake;
mod lint;
mod manifests;
mod msrv;
mod patch;
mod plan;
mod promote;
mod quickstart;
mod registries;
mod registry_rules;
mod release;
mod retag;
mod rollback;
mod select;
mod signatures;
mod triggers;
mod wiring;
mod wrapper;
