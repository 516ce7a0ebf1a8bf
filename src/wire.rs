//! Writing the protobuf wire format directly (no message in between), for the JSON and XML
//! readers.

pub(crate) use prost::encoding::encode_varint;

pub(crate) const VARINT: u64 = 0;
pub(crate) const FIXED64: u64 = 1;
pub(crate) const LEN: u64 = 2;
pub(crate) const FIXED32: u64 = 5;

pub(crate) fn tag(number: u32, wire_type: u64, out: &mut Vec<u8>) {
    encode_varint((u64::from(number) << 3) | wire_type, out);
}

/// Starts a length-delimited value; returns where its content starts.
pub(crate) fn begin_len(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

/// Writes the length of the content since `start`, moving the content when the length needs
/// more than the one byte reserved.
pub(crate) fn end_len(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let mut prefix = Vec::with_capacity(10);
    encode_varint(len as u64, &mut prefix);
    let extra = prefix.len() - 1;
    out.resize(out.len() + extra, 0);
    out.copy_within(start..start + len, start + extra);
    out[start - 1..start - 1 + prefix.len()].copy_from_slice(&prefix);
}

/// A length-delimited field.
pub(crate) fn bytes_field(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    tag(number, LEN, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}
