//! The protobuf well-known types whose proto3 JSON form is not an object of their fields.

/// Written as a JSON string: an RFC 3339 time, `1.5s`, `a.b,c`.
pub(crate) const TEXT_FORMS: [&str; 3] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
];

/// Written as their `value` field.
pub(crate) const WRAPPERS: [&str; 9] = [
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Written in JSON forms of their own (`@type` for Any, any JSON for Struct and Value).
const OTHERS: [&str; 5] = [
    "google.protobuf.Any",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.NullValue",
];

/// Whether a message type has a JSON form of its own.
pub(crate) fn has_own_json_form(full_name: &str) -> bool {
    TEXT_FORMS.contains(&full_name) || WRAPPERS.contains(&full_name) || OTHERS.contains(&full_name)
}

/// Whether a message is the WSDL importer's stand-in for a nillable element: JSON `null` when
/// present without a value, else the JSON of its `value` field.
pub(crate) fn is_nillable_stand_in(desc: &prost_reflect::MessageDescriptor) -> bool {
    use crate::registry::wsdl::build::{FILE_PREFIX, NILLABLE};
    desc.parent_message().is_none()
        && desc.name().starts_with(NILLABLE)
        && desc.parent_file().name().starts_with(FILE_PREFIX)
}
