//! rosetta's fuzz targets; see `targets` and `fuzz/run`.
pub mod targets;
