//! Reverse proxying: a mapping's `proxy.path` relays requests to an HTTP backend as they are.
//! The request still goes through the canonical model, as the one operation
//! `rosetta.proxy.Proxy.Forward` whose input and output are the HTTP request and response
//! (method, path, query, headers, body), so that stages see it like any other call.

pub(crate) mod mount;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use prost_reflect::DescriptorPool;

use crate::call::{self, Call, Invoker, Message, Origin};
use crate::frontend::rest;
use crate::registry::Operation;
use crate::relay::{Head, Relayed};
use crate::stages::transform::HeaderEdits;
use crate::status::Status;

/// One proxied path prefix.
pub struct ProxyRoute {
    pub prefix: String,
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub timeout: Option<Duration>,
    pub request_headers: HeaderEdits,
    pub response_headers: HeaderEdits,
    pub max_body: usize,
    pub pool: DescriptorPool,
}

impl ProxyRoute {
    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        match self.forward(request).await {
            Ok(response) => response,
            Err(status) => rest::response::error(&status, &self.pool),
        }
    }

    async fn forward(&self, request: http::Request<Body>) -> Result<Response, Status> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let rest_of_path = path.strip_prefix(&self.prefix).unwrap_or(path);
        let body = rest::read_body(body, &parts.headers, self.max_body).await?;
        let mut headers = parts.headers.clone();
        headers.remove(http::header::HOST);
        crate::hop_by_hop::remove(&mut headers);
        self.request_headers.apply(&mut headers);
        let request = Relayed {
            head: Head::Request {
                method: parts.method.clone(),
                path: rest_of_path.to_owned(),
                query: parts.uri.query().unwrap_or("").to_owned(),
            },
            headers,
            body,
        };
        let input = Message::Relayed(self.operation.method.input(), Box::new(request));
        // Nothing is forwarded as metadata: the headers travel in the message.
        let call = Call::unary(
            self.operation.clone(),
            input,
            Origin::new(&parts, None),
            &[],
            self.timeout,
        )?;
        let answer = call::invoke(&self.invoker, call)
            .await?
            .into_message()
            .await?;
        let answer = answer.into_relayed()?;
        let Head::Response { status } = answer.head else {
            return Err(Status::internal("the relay answered with a request"));
        };
        // The backend has removed the hop-by-hop headers of its response.
        let (mut headers, body) = (answer.headers, answer.body);
        self.response_headers.apply(&mut headers);
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
