//! The gateway's router: every frontend mounted on one axum router, each path behind its IP
//! gate and CORS policy, the header limits and the access log around them all.

use std::sync::Arc;

use prost_reflect::DescriptorPool;

use super::Gateway;
use crate::frontend::grpc::GrpcFrontend;
use crate::frontend::rest::RestFrontend;
use crate::server::handler::{handler, only, Handler};
use crate::stages::{
    self,
    guard::{Guard, PathGuards},
};
use crate::status::Status;

impl Gateway {
    /// Every frontend in one router: the GraphQL endpoints at their paths, REST for the rest.
    /// Each path is guarded by its own IP gate and CORS policy.
    pub fn app(&self) -> axum::Router {
        let mut app = axum::Router::new();
        let guards = &self.guards;
        // A handler for a fixed path, behind its guard.
        let guarded_route = |front: Front, path: &str, serve: Handler| {
            let guard = guards.at(path).unwrap_or(&guards.unserved).clone();
            if guard.ip.is_none() && guard.cors.is_none() {
                return axum::routing::any(move |request| serve(request));
            }
            let pool = self.pool.clone();
            axum::routing::any(move |request: http::Request<axum::body::Body>| {
                let (guard, pool, serve) = (guard.clone(), pool.clone(), serve.clone());
                async move { guarded(front, &guard, &pool, request, serve).await }
            })
        };
        for endpoint in &self.graphql {
            let path = endpoint.options.path.clone();
            let schema_path = format!("{}/schema.graphql", path.trim_end_matches('/'));
            let (sdl, served) = (endpoint.clone(), endpoint.clone());
            let serve = handler(move |request| served.clone().handle(request));
            let schema = handler(move |_| std::future::ready(sdl.serve_sdl()));
            let schema = only(http::Method::GET, schema);
            // GraphiQL's files, shipped in the binary.
            let assets_path = format!("{}/graphiql/{{file}}", path.trim_end_matches('/'));
            let assets = only(
                http::Method::GET,
                handler(|request: http::Request<axum::body::Body>| {
                    let name = request.uri().path().rsplit('/').next().unwrap_or("");
                    std::future::ready(crate::frontend::graphql::graphiql::asset(name))
                }),
            );
            app = app
                .route(&path, guarded_route(Front::Graphql, &path, serve))
                .route(
                    &schema_path,
                    guarded_route(Front::Graphql, &schema_path, schema),
                )
                .route(
                    &assets_path,
                    guarded_route(Front::Graphql, &assets_path, assets),
                );
        }
        for (path, serve) in self.admin.public_routes() {
            app = app.route(path, guarded_route(Front::Rest, path, serve));
        }
        for proxy in &self.proxies {
            let served = proxy.clone();
            let serve = handler(move |request| served.clone().handle(request));
            let route = guarded_route(Front::Rest, &proxy.prefix, serve);
            app = app
                .route(&proxy.prefix, route.clone())
                .route(&format!("{}/{{*rest}}", proxy.prefix), route);
        }
        for endpoint in &self.soap {
            let served = endpoint.clone();
            let serve = handler(move |request| served.clone().handle(request));
            let route = guarded_route(Front::Soap, &endpoint.path, serve);
            app = app.route(&endpoint.path, route);
        }
        let (rest, grpc, guards) = (self.rest.clone(), self.grpc.clone(), self.guards.clone());
        let pool = self.pool.clone();
        let app = app.fallback(move |request: http::Request<axum::body::Body>| {
            let guard =
                (guards.used).then(|| fallback_guard(&request, &rest, grpc.is_some(), &guards));
            let (rest, grpc, pool) = (rest.clone(), grpc.clone(), pool.clone());
            async move {
                let Some((front, guard)) = guard else {
                    return serve_fallback(rest, grpc, request).await;
                };
                let serve =
                    handler(move |request| serve_fallback(rest.clone(), grpc.clone(), request));
                guarded(front, &guard, &pool, request, serve).await
            }
        });
        let pool = self.pool.clone();
        let refuse = move |status: &Status| crate::frontend::rest::response::error(status, &pool);
        stages::around_router(app, self.admin.limits.clone(), self.header_limits, refuse)
    }
}

/// A request no fixed path serves: a gRPC call, or REST.
async fn serve_fallback(
    rest: Arc<RestFrontend>,
    grpc: Option<GrpcFrontend>,
    request: http::Request<axum::body::Body>,
) -> axum::response::Response {
    match grpc.filter(|_| GrpcFrontend::accepts(&request)) {
        Some(grpc) => grpc.handle(request).await,
        None => rest.handle(request).await,
    }
}

/// Which frontend a path belongs to: how a client its IP gate refuses is answered.
#[derive(Clone, Copy)]
enum Front {
    Rest,
    Grpc,
    Graphql,
    Soap,
}

/// Serves `request` behind `guard` (`stages::guarded`); a client its IP gate refuses is
/// answered in `front`'s terms.
async fn guarded(
    front: Front,
    guard: &Guard,
    pool: &DescriptorPool,
    request: http::Request<axum::body::Body>,
    serve: Handler,
) -> axum::response::Response {
    stages::guarded(guard, request, serve, |status, request| {
        let headers = request.headers();
        // A browser's preflight is answered in HTTP's terms, whatever the frontend.
        let preflight = request.method() == http::Method::OPTIONS;
        match if preflight { Front::Rest } else { front } {
            Front::Rest => crate::frontend::rest::response::error(status, pool),
            Front::Grpc => crate::frontend::grpc::refusal(status, headers),
            Front::Graphql => crate::frontend::graphql::refusal(status, headers, pool),
            Front::Soap => crate::frontend::soap::refusal(status, headers),
        }
    })
    .await
}

/// The guard of a request that no fixed path serves: its gRPC method's, its REST route's, or
/// the one of unserved paths. A preflight is matched by the method it asks for.
fn fallback_guard(
    request: &http::Request<axum::body::Body>,
    rest: &RestFrontend,
    serves_grpc: bool,
    guards: &PathGuards,
) -> (Front, Arc<Guard>) {
    let path = request.uri().path();
    let asked = request
        .headers()
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .filter(|_| request.method() == http::Method::OPTIONS)
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok());
    let grpc_call = serves_grpc && (asked.is_some() || GrpcFrontend::accepts(request));
    if let Some(guard) = guards.at(path).filter(|_| grpc_call) {
        return (Front::Grpc, guard.clone());
    }
    match rest.route_for(asked.as_ref().unwrap_or(request.method()), path) {
        Some(route) => (Front::Rest, route.guard.clone()),
        None => (Front::Rest, guards.unserved.clone()),
    }
}
