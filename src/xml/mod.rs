//! XML for messages of the canonical model, driven by the schema facts kept beside their
//! descriptors ([`schema`]): the SOAP envelope writer and a streaming, namespace-aware reader
//! with the input limits of design.md section 5.

pub(crate) mod json;
pub mod read;
pub(crate) mod schema;
pub mod write;

use std::fmt;

pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const SOAP11_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Limits on every XML document read (design.md section 5); all on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    pub max_children: usize,
    pub max_attribute_value: usize,
    pub max_attributes: usize,
    pub max_size: usize,
}

impl Limits {
    pub fn with_max_size(max_size: usize) -> Self {
        Limits {
            max_depth: 100,
            max_children: 50_000,
            max_attribute_value: 64 << 10,
            max_attributes: 500,
            max_size,
        }
    }
}

/// Why a document was refused or could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl XmlError {
    pub fn new(message: impl Into<String>) -> Self {
        XmlError(message.into())
    }
}
