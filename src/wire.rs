//! Reading and writing the protobuf wire format directly (no message in between), for the
//! JSON and XML codecs.

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

/// The bytes are not protobuf: a truncated value, an overlong varint or an unknown wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// One value as it is on the wire, before its field's type gives it a meaning.
#[derive(Clone, Copy)]
pub(crate) enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

pub(crate) fn varint(wire: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let mut value = 0u64;
    let mut shift = 0;
    while shift < 64 {
        let byte = *wire.get(*pos).ok_or(Malformed)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
        shift += 7;
    }
    Err(Malformed)
}

/// The value of `wire_type` at `pos`.
pub(crate) fn raw<'a>(
    wire: &'a [u8],
    pos: &mut usize,
    wire_type: u64,
) -> Result<Raw<'a>, Malformed> {
    let take = |pos: &mut usize, n: usize| -> Result<&'a [u8], Malformed> {
        let end = pos.checked_add(n).ok_or(Malformed)?;
        let bytes = wire.get(*pos..end).ok_or(Malformed)?;
        *pos = end;
        Ok(bytes)
    };
    Ok(match wire_type {
        VARINT => Raw::Varint(varint(wire, pos)?),
        FIXED64 => Raw::Fixed64(u64::from_le_bytes(
            take(pos, 8)?.try_into().map_err(|_| Malformed)?,
        )),
        LEN => {
            let len = usize::try_from(varint(wire, pos)?).map_err(|_| Malformed)?;
            Raw::Bytes(take(pos, len)?)
        }
        FIXED32 => Raw::Fixed32(u32::from_le_bytes(
            take(pos, 4)?.try_into().map_err(|_| Malformed)?,
        )),
        _ => return Err(Malformed),
    })
}
