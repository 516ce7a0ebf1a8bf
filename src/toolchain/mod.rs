//! Tools for people who write mappings: a dry run that shows what a request turns into.

pub mod export;
pub mod mapping_tests;
pub mod transcode;
