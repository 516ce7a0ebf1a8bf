//! Bidi-streaming methods over WebSocket: one JSON message per text frame each way. An error
//! ends the exchange with a last text frame `{"error": <Status JSON>}`, then a close frame.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use http::HeaderMap;
use prost_reflect::DescriptorPool;
use tokio_stream::wrappers::ReceiverStream;

use super::route::Route;
use super::{request, response};
use crate::call::deadline;
use crate::call::{self, Call, Origin};
use crate::status::Status;

pub(super) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub(super) async fn serve(
    route: Arc<Route>,
    segments: &[&str],
    mut parts: http::request::Parts,
    pool: DescriptorPool,
    max_message: usize,
) -> Result<Response, Status> {
    let bindings = request::bindings(&route, segments, parts.uri.query())?;
    let origin = Origin::new(&parts, None);
    // Checked before the upgrade, so that a bad grpc-timeout is an HTTP error.
    deadline(&parts.headers, route.timeout)?;
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade
            .max_message_size(max_message)
            .max_frame_size(max_message),
        Err(rejection) => return Ok(rejection.into_response()),
    };
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (mut sink, mut frames) = socket.split();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let reader_route = route.clone();
        // Reads client frames into the call's input until the client closes or sends garbage.
        let reader = tokio::spawn(async move {
            while let Some(Ok(frame)) = frames.next().await {
                let text = match frame {
                    Message::Text(text) => text,
                    Message::Close(_) => break,
                    _ => continue,
                };
                match request::decode_message(&reader_route, text.as_bytes(), None, &bindings) {
                    Ok(message) => {
                        if tx.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(status) => return Some(status),
                }
            }
            None
        });
        let call = Call::for_request(
            route.operation.clone(),
            ReceiverStream::new(rx).boxed(),
            origin,
            &route.mapping.forward_headers,
            route.timeout,
        );
        let outcome = match call {
            Err(status) => Err(status),
            Ok(call) => call::invoke(&route.invoker, call).await,
        };
        let outcome = match outcome {
            Err(status) => Err(status),
            Ok(reply) => {
                let mut messages = reply.messages;
                let mut outcome = Ok(());
                while let Some(item) = messages.next().await {
                    let json =
                        item.and_then(|m| response::payload(&route, &m).map(|(json, _)| json));
                    match json {
                        Ok(json) => {
                            let text = String::from_utf8_lossy(&json).into_owned();
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                reader.abort();
                                return;
                            }
                        }
                        Err(status) => {
                            outcome = Err(status);
                            break;
                        }
                    }
                }
                outcome
            }
        };
        // A bad client frame explains the call's end better than what the backend said.
        let outcome = if reader.is_finished() {
            match reader.await {
                Ok(Some(status)) => Err(status),
                _ => outcome,
            }
        } else {
            reader.abort();
            outcome
        };
        if let Err(status) = outcome {
            let error = serde_json::json!({ "error": status.to_json(&pool) }).to_string();
            let _ = sink.send(Message::Text(error.into())).await;
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: axum::extract::ws::close_code::NORMAL,
                reason: "".into(),
            })))
            .await;
    }))
}
