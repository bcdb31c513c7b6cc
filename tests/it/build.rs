//! develop-build and staging-build, end to end.
