//! PROVISIONAL stub with the agreed signatures, replaced by the real client (branch `client`).
#![allow(dead_code, unused_variables, clippy::todo)]
use std::time::Duration;

use serde::Serialize;

use crate::error::{InputProblem, Result};
use crate::inputs::Secret;

pub struct Settings {
    pub api_url: String,
    pub token: Option<Secret>,
    pub owner: String,
    pub repo: String,
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_wait: Duration,
    pub timeout: Duration,
}
impl Default for Settings {
    fn default() -> Self {
        todo!()
    }
}
pub struct Client;
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: String,
    pub html_url: String,
}
pub struct GitCommit {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}
pub struct File {
    pub text: String,
    pub blob_sha: String,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pull {
    pub number: u64,
    pub html_url: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
    pub head_sha: String,
    pub state: String,
}
pub struct NewPull {
    pub title: String,
    pub head: String,
    pub base: String,
    pub body: String,
    pub draft: bool,
}
#[derive(Debug, PartialEq, Eq)]
pub enum RefUpdate {
    Updated,
    NotFastForward,
}
pub fn parse_repository(s: &str) -> std::result::Result<(String, String), InputProblem> {
    todo!()
}
pub fn workflow_token_notice() -> &'static str {
    todo!()
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub body: String,
    pub html_url: String,
}
pub struct NewRelease {
    pub tag_name: String,
    pub name: String,
    pub body: String,
    pub latest: bool,
}
impl Client {
    pub fn release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        todo!()
    }
    pub fn create_release(&self, new: &NewRelease) -> Result<Release> {
        todo!()
    }
    pub fn update_release(&self, id: u64, name: &str, body: &str, latest: bool) -> Result<Release> {
        todo!()
    }
    pub fn new(settings: Settings) -> Result<Self> {
        todo!()
    }
    pub fn requests(&self) -> u64 {
        todo!()
    }
    pub fn take_progress(&self) -> Vec<String> {
        todo!()
    }
    pub fn repository(&self) -> Result<Repository> {
        todo!()
    }
    pub fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        todo!()
    }
    pub fn commit(&self, sha: &str) -> Result<GitCommit> {
        todo!()
    }
    pub fn file(&self, path: &str, git_ref: &str) -> Result<Option<File>> {
        todo!()
    }
    pub fn create_commit(
        &self,
        parent: &str,
        files: &[(String, String)],
        message: &str,
    ) -> Result<String> {
        todo!()
    }
    pub fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        todo!()
    }
    pub fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<RefUpdate> {
        todo!()
    }
    pub fn find_pull(&self, branch: &str, base: &str) -> Result<Option<Pull>> {
        todo!()
    }
    pub fn create_pull(&self, new: &NewPull) -> Result<Pull> {
        todo!()
    }
    pub fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<Pull> {
        todo!()
    }
    pub fn add_labels(&self, number: u64, labels: &[String]) -> Result<()> {
        todo!()
    }
    pub fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        todo!()
    }
}
