use std::marker::PhantomData;

use bytes::{Buf, BufMut};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use crate::call::Message;

/// A message type a descriptor-driven codec can carry.
pub trait WireMessage: Sized + Send + 'static {
    fn decode_from(desc: &MessageDescriptor, src: &mut DecodeBuf<'_>) -> Result<Self, Status>;
    fn encode_into(self, dst: &mut EncodeBuf<'_>) -> Result<(), Status>;
}

/// Decoded on arrival: for handlers that read the fields (the demo and test servers).
impl WireMessage for DynamicMessage {
    fn decode_from(desc: &MessageDescriptor, src: &mut DecodeBuf<'_>) -> Result<Self, Status> {
        DynamicMessage::decode(desc.clone(), src)
            .map_err(|e| Status::internal(format!("cannot decode {}: {e}", desc.full_name())))
    }

    fn encode_into(self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode message: {e}")))
    }
}

/// Kept in wire form: for the gateway, which transcodes the bytes directly.
impl WireMessage for Message {
    fn decode_from(desc: &MessageDescriptor, src: &mut DecodeBuf<'_>) -> Result<Self, Status> {
        Ok(Message::Encoded(
            desc.clone(),
            src.copy_to_bytes(src.remaining()),
        ))
    }

    fn encode_into(self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match self {
            Message::Encoded(_, bytes) => {
                dst.put_slice(&bytes);
                Ok(())
            }
            Message::Decoded(message) => message.encode_into(dst),
            relayed @ Message::Relayed(..) => {
                let wire = relayed.to_wire().map_err(|s| Status::internal(s.message))?;
                dst.put_slice(&wire);
                Ok(())
            }
        }
    }
}

/// A tonic codec for messages known only by their descriptors, so that calls need no generated
/// code: it encodes any `M` and decodes messages of one type.
pub struct DescriptorCodec<M> {
    decode_as: MessageDescriptor,
    message: PhantomData<fn() -> M>,
}

impl<M> DescriptorCodec<M> {
    /// A codec that decodes messages of type `decode_as`.
    pub fn new(decode_as: MessageDescriptor) -> Self {
        DescriptorCodec {
            decode_as,
            message: PhantomData,
        }
    }
}

impl<M: WireMessage> Codec for DescriptorCodec<M> {
    type Encode = M;
    type Decode = M;
    type Encoder = DescriptorEncoder<M>;
    type Decoder = DescriptorDecoder<M>;

    fn encoder(&mut self) -> Self::Encoder {
        DescriptorEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        DescriptorDecoder(self.decode_as.clone(), PhantomData)
    }
}

pub struct DescriptorEncoder<M>(PhantomData<fn() -> M>);

impl<M: WireMessage> Encoder for DescriptorEncoder<M> {
    type Item = M;
    type Error = Status;

    fn encode(&mut self, item: M, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_into(dst)
    }
}

pub struct DescriptorDecoder<M>(MessageDescriptor, PhantomData<fn() -> M>);

impl<M: WireMessage> Decoder for DescriptorDecoder<M> {
    type Item = M;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<M>, Status> {
        M::decode_from(&self.0, src).map(Some)
    }
}
