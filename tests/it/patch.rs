//! `gitops-promote patch` end to end.
