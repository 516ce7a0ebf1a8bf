//! GraphQL over WebSocket, the graphql-transport-ws protocol of the `graphql-ws` library
//! (github.com/enisdenjo/graphql-ws, PROTOCOL.md).
//!
//! Written here rather than taken from async-graphql-axum, whose server has no
//! `connection_init` timeout and no cap on a socket's subscriptions, answers protocol errors
//! with generic close codes, and executes subscriptions without the checks every other request
//! of the endpoint passes (persisted queries, limits measured before expansion).

use std::sync::Arc;

use async_graphql::ServerError;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamMap;

use super::endpoint::{is_invalid, Endpoint, Outcome, Params};
use crate::call::Origin;

/// The subprotocol, from `Sec-WebSocket-Protocol`.
pub(super) const PROTOCOL: &str = "graphql-transport-ws";

/// The protocol's close codes.
mod close {
    pub(super) const BAD_MESSAGE: u16 = 4400;
    pub(super) const UNAUTHORIZED: u16 = 4401;
    pub(super) const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub(super) const INIT_TIMEOUT: u16 = 4408;
    pub(super) const DUPLICATE_ID: u16 = 4409;
    pub(super) const TOO_MANY_INITS: u16 = 4429;
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        #[allow(dead_code)] // accepted and ignored: authentication happens on the upgrade
        payload: Option<serde_json::Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: Params,
    },
    Complete {
        id: String,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    Next {
        id: &'a str,
        payload: &'a async_graphql::Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// Each subscription's results, numbered, then `None` when it ends.
type Running = StreamMap<String, BoxStream<'static, (usize, Option<async_graphql::Response>)>>;

/// Serves one upgraded socket until either side closes it or the protocol is broken.
pub(super) async fn serve(
    endpoint: Arc<Endpoint>,
    mut socket: WebSocket,
    origin: Arc<Origin>,
    negotiated: bool,
) {
    if !negotiated {
        return shut(
            &mut socket,
            close::SUBPROTOCOL_NOT_ACCEPTABLE,
            "Subprotocol not acceptable",
        )
        .await;
    }
    let init_deadline = tokio::time::sleep(endpoint.options.websocket_init_timeout);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    // Each subscription's results, numbered, then `None` when it ends.
    let mut running: Running = StreamMap::new();
    loop {
        tokio::select! {
            () = &mut init_deadline, if !acknowledged => {
                return shut(&mut socket, close::INIT_TIMEOUT, "Connection initialisation timeout").await;
            }
            received = socket.recv() => {
                let text = match received {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        return shut(&mut socket, close::BAD_MESSAGE, "messages are JSON text").await;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                let message = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(message) => message,
                    Err(e) => {
                        let reason = format!("invalid message: {e}");
                        return shut(&mut socket, close::BAD_MESSAGE, &reason).await;
                    }
                };
                match message {
                    ClientMessage::ConnectionInit { .. } if acknowledged => {
                        return shut(&mut socket, close::TOO_MANY_INITS, "Too many initialisation requests").await;
                    }
                    ClientMessage::ConnectionInit { .. } => {
                        acknowledged = true;
                        if !send(&mut socket, &ServerMessage::ConnectionAck).await {
                            return;
                        }
                    }
                    ClientMessage::Ping { payload } => {
                        if !send(&mut socket, &ServerMessage::Pong { payload }).await {
                            return;
                        }
                    }
                    ClientMessage::Pong {} => {}
                    ClientMessage::Subscribe { .. } if !acknowledged => {
                        return shut(&mut socket, close::UNAUTHORIZED, "Unauthorized").await;
                    }
                    ClientMessage::Subscribe { id, .. } if running.contains_key(&id) => {
                        let reason = format!("Subscriber for {id} already exists");
                        return shut(&mut socket, close::DUPLICATE_ID, &reason).await;
                    }
                    ClientMessage::Subscribe { id, payload } => {
                        let refused = subscribe(&endpoint, &origin, &mut running, &id, payload);
                        if let Some(errors) = refused {
                            let error = ServerMessage::Error { id: &id, payload: &errors };
                            if !send(&mut socket, &error).await {
                                return;
                            }
                        }
                    }
                    ClientMessage::Complete { id } => {
                        running.remove(&id);
                    }
                }
            }
            Some((id, (index, result))) = running.next(), if !running.is_empty() => {
                let message = match &result {
                    // A document that cannot run ends the subscription with `error`, not `next`.
                    Some(response) if index == 0 && is_invalid(response) => {
                        running.remove(&id);
                        ServerMessage::Error { id: &id, payload: &response.errors }
                    }
                    Some(response) => ServerMessage::Next { id: &id, payload: response },
                    None => ServerMessage::Complete { id: &id },
                };
                if !send(&mut socket, &message).await {
                    return;
                }
            }
        }
    }
}

/// Starts subscription `id`; the errors to answer it with when it cannot run.
fn subscribe(
    endpoint: &Endpoint,
    origin: &Arc<Origin>,
    running: &mut Running,
    id: &str,
    payload: Params,
) -> Option<Vec<ServerError>> {
    let most = endpoint.options.max_socket_subscriptions;
    if running.len() >= most {
        Some(vec![ServerError::new(
            format!("at most {most} subscriptions may run at once on one socket"),
            None,
        )])
    } else {
        match endpoint.prepare(payload, false, origin.clone()) {
            Ok(prepared) => {
                let results = endpoint
                    .schema
                    .execute_stream(prepared.request)
                    .map(Some)
                    .chain(futures::stream::once(async { None }))
                    .enumerate()
                    .boxed();
                running.insert(id.to_owned(), results);
                None
            }
            Err(Outcome::Refused(refused)) => Some(vec![ServerError::new(refused.1, None)]),
            Err(Outcome::Invalid(errors)) => Some(errors),
        }
    }
}

/// Sends one message; false when the socket is gone.
async fn send(socket: &mut WebSocket, message: &ServerMessage<'_>) -> bool {
    let text = serde_json::to_string(message).unwrap_or_default();
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Closes the socket with one of the protocol's codes.
async fn shut(socket: &mut WebSocket, code: u16, reason: &str) {
    // A close frame's reason is at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
