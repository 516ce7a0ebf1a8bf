//! A REST backend described by an OpenAPI document: the multi-file Petstore of the PyPI
//! `openapi-spec-validator` test data (`$ref`s across files, an array response, path and query
//! parameters), and a `oneOf` union with a discriminator, served over GraphQL, REST and gRPC
//! in front of an axum service on loopback.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<String>>>;

async fn start_petstore(seen: Seen) -> std::net::SocketAddr {
    async fn list(State(seen): State<Seen>, uri: Uri) -> axum::Json<Value> {
        seen.lock().unwrap().push(format!("GET {uri}"));
        axum::Json(
            json!([{"id": 1, "name": "Rex", "tag": "dog"}, {"id": 9007199254740993u64, "name": "Tom"}]),
        )
    }
    async fn show(
        State(seen): State<Seen>,
        uri: Uri,
        Path(id): Path<String>,
    ) -> (StatusCode, axum::Json<Value>) {
        seen.lock().unwrap().push(format!("GET {uri}"));
        match id.as_str() {
            "1" => (
                StatusCode::OK,
                axum::Json(json!([{"id": 1, "name": "Rex"}])),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"code": 404, "message": "no such pet"})),
            ),
        }
    }
    async fn pet(State(seen): State<Seen>, uri: Uri) -> axum::Json<Value> {
        seen.lock().unwrap().push(format!("GET {uri}"));
        axum::Json(json!({"petType": "cat", "name": "Tom", "hunts": true}))
    }
    let app = axum::Router::new()
        .route("/v1/pets", axum::routing::get(list))
        .route("/v1/pets/{id}", axum::routing::get(show))
        .route("/v1/favourite", axum::routing::get(pet))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

const UNION: &str = r##"
openapi: 3.1.0
info: {title: Favourites, version: "1"}
paths:
  /favourite:
    get:
      operationId: getFavourite
      responses:
        "200":
          description: the favourite pet
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: "#/components/schemas/Cat"
                  - $ref: "#/components/schemas/Dog"
                discriminator: {propertyName: petType}
components:
  schemas:
    Cat:
      type: object
      properties:
        petType: {type: string}
        name: {type: string}
        hunts: {type: boolean}
    Dog:
      type: object
      properties:
        petType: {type: string}
        name: {type: string}
        packSize: {type: integer, format: int32}
"##;

#[tokio::test]
async fn the_petstore_and_a_union_over_graphql_rest_and_grpc() {
    let seen: Seen = Arc::default();
    let addr = start_petstore(seen.clone()).await;
    let petstore = format!(
        "{}/tests/corpus/openapi/petstore-separate/spec/openapi.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let gateway = format!(
        "version: 1\nbackends:\n  petstore:\n    protocol: rest\n    address: http://{addr}/v1\n    openapi: {petstore}\n  favourites:\n    protocol: rest\n    address: http://{addr}/v1\n    openapi: favourites.yaml\n"
    );
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("favourites.yaml", UNION),
        ("mappings/graphql.yaml", "version: 1\nfrontend: graphql\nbackend:\n  use: petstore\n"),
        ("mappings/graphql-union.yaml", "version: 1\nfrontend: graphql\nbackend:\n  use: favourites\n"),
        ("mappings/grpc.yaml", "version: 1\nfrontend: grpc\nbackend:\n  use: petstore\n"),
        (
            "mappings/rest.yaml",
            "version: 1\nfrontend: rest\nbackend:\n  use: favourites\nrules:\n  - selector: GetFavourite\n    get: /favourite\n",
        ),
    ]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    insta::assert_snapshot!("petstore_sdl", loaded.graphql[0].sdl());
    let gateway = common::serve(loaded).await;
    let query = |text: &str| {
        let client = reqwest::Client::new();
        let url = gateway.url("/graphql");
        let text = text.to_owned();
        async move {
            client
                .post(url)
                .json(&json!({"query": text}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let body = query("{ listPets(limit: 2) { items { id name tag } } }").await;
    assert_eq!(
        body,
        json!({"data": {"listPets": {"items": [
            {"id": "1", "name": "Rex", "tag": "dog"},
            {"id": "9007199254740993", "name": "Tom", "tag": ""}
        ]}}})
    );
    assert_eq!(seen.lock().unwrap().last().unwrap(), "GET /v1/pets?limit=2");
    // `show...` is not a query verb of design.md section 4: a mutation.
    let body = query(r#"mutation { showPetById(petId: "7") { items { id } } }"#).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(seen.lock().unwrap().last().unwrap(), "GET /v1/pets/7");

    // The union: one message with every variant's properties, so the JSON is unchanged.
    let body = query("{ getFavourite { petType name hunts packSize } }").await;
    assert_eq!(
        body,
        json!({"data": {"getFavourite": {"petType": "cat", "name": "Tom", "hunts": true, "packSize": 0}}})
    );
    let rest: Value = reqwest::get(gateway.url("/favourite"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest,
        json!({"petType": "cat", "name": "Tom", "hunts": true})
    );

    // The imported service over gRPC (reflection describes it like any other).
    let pool = gateway.gateway.pool.clone();
    let list = pool
        .get_service_by_name("openapi.openapi.SwaggerPetstore")
        .and_then(|s| s.methods().find(|m| m.name() == "ListPets"))
        .unwrap();
    let pets = common::grpc_unary(&gateway.base, &list, json!({"limit": 1}))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&pets).unwrap()["items"][0]["name"],
        "Rex"
    );
    assert_eq!(seen.lock().unwrap().last().unwrap(), "GET /v1/pets?limit=1");
}

#[tokio::test]
async fn a_broken_reference_is_a_located_error() {
    let dir = common::write_files(&[
        ("gateway.yaml", "version: 1\nbackends:\n  api:\n    protocol: rest\n    address: http://127.0.0.1:9\n    openapi: api.yaml\n"),
        ("api.yaml", "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: x\n          content:\n            application/json:\n              schema: {$ref: 'missing.yaml'}\n"),
        ("mappings/m.yaml", "version: 1\nfrontend: rest\nbackend:\n  use: api\n"),
    ]);
    let Err(diags) = common::load(dir.path(), common::vars(&[])) else {
        panic!("the reference is broken");
    };
    let text = diags.render();
    assert!(text.contains("gateway.yaml:6:14"), "{text}");
    assert!(
        text.contains("cannot read") && text.contains("missing.yaml"),
        "{text}"
    );
}
