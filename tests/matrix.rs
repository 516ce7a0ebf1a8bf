//! The translation matrix: every frontend (REST, GraphQL, gRPC, SOAP) in front of every backend
//! (gRPC, REST, GraphQL, SOAP), with the same assertions: a read and a create with an int64
//! beyond 2^53 and a decimal unchanged both ways, a not-found error and a validation error with
//! the right status in each protocol. (Streams are not in the matrix: SOAP and GraphQL backends
//! and the SOAP frontend have none.) The backends are real servers on loopback: a tonic service, an axum JSON
//! service, and (for GraphQL and SOAP) rosetta's own GraphQL and SOAP frontends, which are
//! async-graphql and axum servers, in front of the tonic service.

mod common;

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use prost_reflect::{DynamicMessage, MethodDescriptor, Value as ProtoValue};
use rosetta::grpc::server::{self, Handler, ResponseStream};
use serde_json::{json, Value};

const ADA: &str = "9007199254740993";

fn include() -> String {
    format!("{}/tests/matrix", env!("CARGO_MANIFEST_DIR"))
}

/// The tonic implementation.
struct Customers;

impl Handler for Customers {
    fn call(
        &self,
        method: MethodDescriptor,
        request: tonic::Request<tonic::Streaming<DynamicMessage>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream>, tonic::Status>> {
        async move {
            let input = request.into_inner().next().await.expect("a request")?;
            if method.name() == "CreateCustomer" {
                return Ok(server::single(input));
            }
            let id = input
                .get_field_by_name("id")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            match id {
                0 => Err(tonic::Status::invalid_argument("id is required")),
                9_007_199_254_740_993 => {
                    let mut customer = DynamicMessage::new(method.output());
                    customer.set_field_by_name("id", ProtoValue::I64(id));
                    customer.set_field_by_name("name", ProtoValue::String("Ada".into()));
                    customer.set_field_by_name("balance", ProtoValue::String("12.50".into()));
                    Ok(server::single(customer))
                }
                other => Err(tonic::Status::not_found(format!("no customer {other}"))),
            }
        }
        .boxed()
    }
}

async fn listen(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The axum JSON implementation, as the proto's annotation describes it.
async fn start_rest() -> std::net::SocketAddr {
    async fn get(Path(id): Path<String>) -> (StatusCode, axum::Json<Value>) {
        match id.as_str() {
            "0" => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 3, "message": "id is required"})),
            ),
            ADA => (
                StatusCode::OK,
                axum::Json(json!({"id": ADA, "name": "Ada", "balance": "12.50"})),
            ),
            other => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"code": 5, "message": format!("no customer {other}")})),
            ),
        }
    }
    async fn create(axum::Json(customer): axum::Json<Value>) -> axum::Json<Value> {
        axum::Json(customer)
    }
    let app = axum::Router::new()
        .route("/v1/customers/{id}", axum::routing::get(get))
        .route("/v1/customers", axum::routing::post(create));
    listen(app).await
}

/// A gateway whose `mappings` (name, text) use `backend` (a gateway.yaml backend block).
fn gateway(
    backend: &str,
    mappings: &[(&str, String)],
) -> (rosetta::gateway::Gateway, tempfile::TempDir) {
    let gateway_yaml = format!(
        "version: 1\nschemas:\n  include: [{}]\nbackends:\n  customers:\n{backend}",
        include()
    );
    let mut files = vec![("gateway.yaml".to_owned(), gateway_yaml)];
    files.extend(
        mappings
            .iter()
            .map(|(n, t)| (format!("mappings/{n}"), t.clone())),
    );
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let dir = common::write_files(&files);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    (loaded, dir)
}

/// A mapping with `frontend` over the `customers` backend; `schemas` unless the backend is
/// SOAP (whose WSDL is the schema).
fn mapping(frontend: &str, soap_backend: bool, extra: &str) -> String {
    let schemas = if soap_backend {
        ""
    } else {
        "schemas: [customers.proto]\nservices: [matrix.v1.Customers]\n"
    };
    // A WSDL has no HTTP annotations: REST gets the route from a rule.
    let rules = if soap_backend && frontend == "rest" {
        "rules:\n  - selector: Customers.GetCustomer\n    get: /v1/customers/{id}\n  - selector: Customers.CreateCustomer\n    post: /v1/customers\n    body: \"*\"\n"
    } else {
        ""
    };
    format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: customers\n{extra}{schemas}{rules}")
}

/// Every frontend over one backend.
fn all_frontends(soap_backend: bool, backend_extra: &str) -> Vec<(&'static str, String)> {
    ["rest", "graphql", "grpc", "soap"]
        .into_iter()
        .map(|f| {
            let name = match f {
                "rest" => "rest.yaml",
                "graphql" => "graphql.yaml",
                "grpc" => "grpc.yaml",
                _ => "soap.yaml",
            };
            (name, mapping(f, soap_backend, backend_extra))
        })
        .collect()
}

/// The outcome of one call through one frontend, in protocol-neutral terms.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Customer {
        id: String,
        name: String,
        balance: String,
    },
    /// The protocol's rendering of a canonical error: HTTP status, GraphQL/gRPC code name, or
    /// SOAP fault class; and the message.
    Error(String, String),
}

async fn via_rest(gateway: &common::RunningGateway, id: &str) -> Outcome {
    let response = reqwest::get(gateway.url(&format!("/v1/customers/{id}")))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    if status == 200 {
        return customer(&body);
    }
    Outcome::Error(
        status.to_string(),
        body["message"].as_str().unwrap_or("").to_owned(),
    )
}

fn customer(value: &Value) -> Outcome {
    Outcome::Customer {
        id: value["id"].as_str().unwrap_or("").to_owned(),
        name: value["name"].as_str().unwrap_or("").to_owned(),
        balance: value["balance"].as_str().unwrap_or("").to_owned(),
    }
}

async fn via_graphql(gateway: &common::RunningGateway, id: &str) -> Outcome {
    let query = format!(r#"{{ getCustomer(id: "{id}") {{ id name balance }} }}"#);
    let body: Value = gateway.graphql(&query).await;
    match body["errors"].get(0) {
        Some(error) => Outcome::Error(
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            error["message"].as_str().unwrap_or("").to_owned(),
        ),
        None => customer(&body["data"]["getCustomer"]),
    }
}

/// A unary call to `name` of the gRPC service the gateway serves.
async fn grpc_call(
    gateway: &common::RunningGateway,
    name: &str,
    request: Value,
) -> Result<DynamicMessage, tonic::Status> {
    let served = &gateway
        .gateway
        .grpc
        .as_ref()
        .expect("a gRPC frontend")
        .services;
    let service = gateway
        .gateway
        .pool
        .get_service_by_name(&served[0])
        .unwrap();
    let method = service.methods().find(|m| m.name() == name).unwrap();
    common::grpc_unary(&gateway.base, &method, request).await
}

async fn via_grpc(gateway: &common::RunningGateway, id: &str) -> Outcome {
    match grpc_call(gateway, "GetCustomer", json!({"id": id})).await {
        Ok(response) => customer(&serde_json::to_value(&response).unwrap()),
        Err(status) => Outcome::Error(format!("{:?}", status.code()), status.message().to_owned()),
    }
}

async fn via_soap(gateway: &common::RunningGateway, id: &str) -> Outcome {
    soap_call(
        gateway,
        &format!("<c:GetCustomer><c:id>{id}</c:id></c:GetCustomer>"),
    )
    .await
}

/// Posts `body` (elements with the prefix `c` of the service's namespace) in a SOAP 1.1
/// envelope to the gateway's SOAP service.
async fn soap_call(gateway: &common::RunningGateway, body: &str) -> Outcome {
    let endpoint = &gateway.gateway.soap[0];
    let ns = format!("urn:rosetta:{}", endpoint.service_name());
    let envelope = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="{ns}"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    );
    let answer = reqwest::Client::new()
        .post(gateway.url(&endpoint.path))
        .header("content-type", "text/xml")
        .body(envelope)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    soap_outcome(&answer)
}

/// A SOAP response envelope as an outcome: the fault, or the customer's elements.
fn soap_outcome(body: &str) -> Outcome {
    let between = |open: &str, close: &str| {
        body.split_once(open)
            .and_then(|(_, rest)| rest.split_once(close))
            .map(|(inner, _)| inner.to_owned())
            .unwrap_or_default()
    };
    if body.contains("<faultcode>") {
        let class = between("<faultcode>soap:", "</faultcode>");
        return Outcome::Error(class, between("<faultstring>", "</faultstring>"));
    }
    Outcome::Customer {
        id: between("<tns:id>", "</tns:id>"),
        name: between("<tns:name>", "</tns:name>"),
        balance: between("<tns:balance>", "</tns:balance>"),
    }
}

/// CreateCustomer through one frontend: the customer it answers with.
async fn create_via(frontend: &str, gateway: &common::RunningGateway) -> Outcome {
    let (id, name, balance) = (ADA, "Grace", "0.10");
    match frontend {
        "rest" => {
            let body: Value = reqwest::Client::new()
                .post(gateway.url("/v1/customers"))
                .json(&json!({"id": id, "name": name, "balance": balance}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            customer(&body)
        }
        "graphql" => {
            let query = format!(
                r#"mutation {{ createCustomer(id: "{id}", name: "{name}", balance: "{balance}") {{ id name balance }} }}"#
            );
            let body: Value = gateway.graphql(&query).await;
            customer(&body["data"]["createCustomer"])
        }
        "grpc" => {
            let request = json!({"id": id, "name": name, "balance": balance});
            let response = grpc_call(gateway, "CreateCustomer", request).await.unwrap();
            customer(&serde_json::to_value(&response).unwrap())
        }
        _ => {
            let body = format!("<c:CreateCustomer><c:id>{id}</c:id><c:name>{name}</c:name><c:balance>{balance}</c:balance></c:CreateCustomer>");
            soap_call(gateway, &body).await
        }
    }
}

/// CreateCustomer through every frontend of `gateway`: the input's int64 and decimal arrive.
async fn check_create(backend: &str, gateway: &common::RunningGateway) {
    for frontend in ["rest", "graphql", "grpc", "soap"] {
        let got = create_via(frontend, gateway).await;
        let wanted = Outcome::Customer {
            id: ADA.into(),
            name: "Grace".into(),
            balance: "0.10".into(),
        };
        assert_eq!(got, wanted, "create: {frontend} -> {backend}");
    }
}

/// The same three calls through every frontend of `gateway`.
async fn check_frontends(backend: &str, gateway: &common::RunningGateway) {
    let ada = Outcome::Customer {
        id: ADA.into(),
        name: "Ada".into(),
        balance: "12.50".into(),
    };
    let error = |code: &str, message: &str| Outcome::Error(code.into(), message.into());
    let expected = [
        (
            "rest",
            [
                ada.clone(),
                error("404", "no customer 7"),
                error("400", "id is required"),
            ],
        ),
        (
            "graphql",
            [
                ada.clone(),
                error("NOT_FOUND", "no customer 7"),
                error("INVALID_ARGUMENT", "id is required"),
            ],
        ),
        (
            "grpc",
            [
                ada.clone(),
                error("NotFound", "no customer 7"),
                error("InvalidArgument", "id is required"),
            ],
        ),
        (
            "soap",
            [
                ada.clone(),
                error("Client", "no customer 7"),
                error("Client", "id is required"),
            ],
        ),
    ];
    for (frontend, outcomes) in expected {
        for (id, wanted) in [ADA, "7", "0"].into_iter().zip(outcomes) {
            let got = match frontend {
                "rest" => via_rest(gateway, id).await,
                "graphql" => via_graphql(gateway, id).await,
                "grpc" => via_grpc(gateway, id).await,
                _ => via_soap(gateway, id).await,
            };
            assert_eq!(got, wanted, "{frontend} -> {backend}, id {id}");
        }
    }
}

/// The tonic service, and a gateway serving it over GraphQL and SOAP (the GraphQL and SOAP
/// backends of the matrix).
async fn start_backends() -> (
    std::net::SocketAddr,
    common::RunningGateway,
    tempfile::TempDir,
) {
    let pool = {
        let (gateway, _dir) = gateway(
            "    protocol: grpc\n    address: http://127.0.0.1:9\n",
            &[("grpc.yaml", mapping("grpc", false, ""))],
        );
        gateway.pool
    };
    let services: Vec<_> = pool
        .services()
        .filter(|s| s.full_name() == "matrix.v1.Customers")
        .collect();
    let grpc = listen(server::router(&services, Arc::new(Customers))).await;
    let (front, dir) = gateway(
        &format!("    protocol: grpc\n    address: http://{grpc}\n"),
        &[
            ("graphql.yaml", mapping("graphql", false, "")),
            ("soap.yaml", mapping("soap", false, "")),
        ],
    );
    (grpc, common::serve(front).await, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_frontend_in_front_of_every_backend() {
    let (grpc, front, _front_dir) = start_backends().await;
    let rest = start_rest().await;
    let backends = [
        ("grpc", format!("    protocol: grpc\n    address: http://{grpc}\n"), false, String::new()),
        ("rest", format!("    protocol: rest\n    address: http://{rest}\n"), false, String::new()),
        (
            "graphql",
            format!("    protocol: graphql\n    address: {}\n", front.url("/graphql")),
            false,
            "  documents:\n    Customers.GetCustomer:\n      query: \"query($id: Int64) { getCustomer(id: $id) { id name balance } }\"\n    Customers.CreateCustomer:\n      query: \"mutation($id: Int64, $name: String, $balance: String) { createCustomer(id: $id, name: $name, balance: $balance) { id name balance } }\"\n".to_owned(),
        ),
        (
            "soap",
            format!(
                "    protocol: soap\n    soap:\n      wsdl: {}\n      package: soap.matrix\n",
                front.url("/soap/Customers?wsdl")
            ),
            true,
            String::new(),
        ),
    ];
    for (name, backend, soap_backend, extra) in backends {
        let (loaded, _dir) = gateway(&backend, &all_frontends(soap_backend, &extra));
        let running = common::serve(loaded).await;
        if name == "soap" {
            check_soap_backend(&running).await;
        } else {
            check_frontends(name, &running).await;
        }
        check_create(name, &running).await;
    }
}

/// A SOAP backend loses the difference between NOT_FOUND and INVALID_ARGUMENT (both are Client
/// faults), so the not-found call comes back as INVALID_ARGUMENT through every frontend.
async fn check_soap_backend(gateway: &common::RunningGateway) {
    let ada = || Outcome::Customer {
        id: ADA.into(),
        name: "Ada".into(),
        balance: "12.50".into(),
    };
    let error = |code: &str, message: &str| Outcome::Error(code.into(), message.into());
    assert_eq!(via_rest(gateway, ADA).await, ada());
    assert_eq!(via_rest(gateway, "7").await, error("400", "no customer 7"));
    assert_eq!(via_graphql(gateway, ADA).await, ada());
    assert_eq!(
        via_graphql(gateway, "0").await,
        error("INVALID_ARGUMENT", "id is required")
    );
    assert_eq!(via_grpc(gateway, ADA).await, ada());
    assert_eq!(
        via_grpc(gateway, "7").await,
        error("InvalidArgument", "no customer 7")
    );
    assert_eq!(via_soap(gateway, ADA).await, ada());
    assert_eq!(
        via_soap(gateway, "7").await,
        error("Client", "no customer 7")
    );
}
