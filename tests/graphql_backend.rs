//! The GraphQL backend against a real GraphQL server: rosetta's own GraphQL endpoint over the
//! demo gRPC service (an async-graphql server), called from a second gateway's REST and gRPC
//! frontends with documents written in the mapping.

mod common;

use serde_json::{json, Value};

const MAPPING: &str = r#"
backend:
  use: users-graphql
  documents:
    Users.GetUser:
      query: "query($id: Int64) { getUser(id: $id) { id name role tags createdAt } }"
    Users.CreateUser:
      query: "mutation($user: demo_v1_UserInput) { created: createUser(user: $user) { id name tags } }"
    Users.DeleteUser:
      query: "mutation($id: Int64) { deleteUser(id: $id) }"
      result: deleteUser
schemas: [demo/v1/users.proto]
services: [demo.v1.Users]
"#;

async fn setup() -> (common::Demo, common::RunningGateway, tempfile::TempDir) {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users-graphql:\n    protocol: graphql\n    address: {}\n    timeout: 5s\n",
        env!("CARGO_MANIFEST_DIR"),
        demo.gateway.url("/graphql")
    );
    let rest = format!("version: 1\nfrontend: rest\n{MAPPING}");
    let grpc = format!("version: 1\nfrontend: grpc\n{MAPPING}");
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/rest.yaml", &rest),
        ("mappings/grpc.yaml", &grpc),
    ]);
    let loaded = common::load(dir.path(), common::vars(&[]));
    // The methods without a document are reported, and answer UNIMPLEMENTED.
    let loaded = loaded.unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(loaded
        .warnings_text
        .contains("demo.v1.Users.ListUsers has no document"));
    (demo, common::serve(loaded).await, dir)
}

#[tokio::test]
async fn rest_and_grpc_in_front_of_a_graphql_api() {
    let (_demo, gateway, _dir) = setup().await;
    let client = reqwest::Client::new();
    let user: Value = client
        .get(gateway.url("/v1/users/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        user,
        json!({"id": "1", "name": "Ada Lovelace", "role": "ROLE_ADMIN", "tags": ["math", "poetry"], "createdAt": "2024-01-01T00:00:00Z"})
    );
    // A GraphQL error whose extensions.code is a canonical code keeps it.
    let response = client
        .get(gateway.url("/v1/users/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "user 999 not found"
    );
    // A mutation with a nested input, the result under an alias.
    let created: Value = client
        .post(gateway.url("/v1/users"))
        .json(&json!({"name": "Katherine", "tags": ["nasa"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["name"], "Katherine");
    assert_eq!(created["tags"], json!(["nasa"]));
    // No document: UNIMPLEMENTED (501).
    let response = client
        .get(gateway.url("/v1/users:export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 501);

    // The same API over gRPC.
    let pool = gateway.gateway.pool.clone();
    let get = pool
        .get_service_by_name("demo.v1.Users")
        .unwrap()
        .methods()
        .find(|m| m.name() == "GetUser")
        .unwrap();
    let user = common::grpc_unary(&gateway.base, &get, json!({"id": "2"}))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&user).unwrap()["name"], "Alan Turing");
}

#[tokio::test]
async fn a_document_that_does_not_fit_is_a_located_load_error() {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  g:\n    protocol: graphql\n    address: http://127.0.0.1:9/graphql\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = "version: 1\nfrontend: rest\nbackend:\n  use: g\n  documents:\n    Users.GetUser:\n      query: \"query($nope: ID) { getUser(id: $nope) { id } }\"\n    Users.DeleteUser:\n      query: \"mutation { deleteUser(id: 1) \"\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/m.yaml", mapping)]);
    let Err(diags) = common::load(dir.path(), common::vars(&[])) else {
        panic!("the documents are wrong");
    };
    let text = diags.render();
    assert!(text.contains("m.yaml:7:14"), "{text}");
    assert!(
        text.contains("variable `$nope` names no field of demo.v1.GetUserRequest"),
        "{text}"
    );
    assert!(
        text.contains("demo.v1.Users.DeleteUser: the document does not parse"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_are_checked_against_the_backends_schema() {
    let demo = common::demo().await;
    let sdl = reqwest::get(demo.gateway.url("/graphql/schema.graphql"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let backends = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  by-introspection:\n    protocol: graphql\n    address: {url}\n    graphql_schema: introspection\n  by-sdl:\n    protocol: graphql\n    address: {url}\n    graphql_schema: backend.graphql\n",
        env!("CARGO_MANIFEST_DIR"),
        url = demo.gateway.url("/graphql")
    );
    let mapping = |backend: &str, query: &str| {
        format!("version: 1\nfrontend: grpc\nbackend:\n  use: {backend}\n  documents:\n    Users.GetUser:\n      query: \"{query}\"\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n")
    };
    let load = |query: &str, backend: &str| {
        let dir = common::write_files(&[
            ("gateway.yaml", &backends),
            ("backend.graphql", &sdl),
            ("mappings/m.yaml", &mapping(backend, query)),
        ]);
        common::load(dir.path(), common::vars(&[]))
            .map(|_| ())
            .map_err(|d| d.render())
    };
    let good = "query($id: Int64) { getUser(id: $id) { id name address { city } } }";
    assert!(load(good, "by-introspection").is_ok());
    assert!(load(good, "by-sdl").is_ok());
    let wrong_field = "query($id: Int64) { getUser(id: $id) { id nickname2 } }";
    let text = load(wrong_field, "by-introspection").unwrap_err();
    assert!(
        text.contains("`nickname2` is not a field of demo_v1_User in the backend's schema"),
        "{text}"
    );
    let wrong_argument = "query($id: Int64) { getUser(ident: $id) { id } }";
    let text = load(wrong_argument, "by-sdl").unwrap_err();
    assert!(
        text.contains("`getUser` of Query has no argument `ident`"),
        "{text}"
    );
}

/// With the backend's schema known and no `.proto` in the mapping, the schema is the registry:
/// every root field is a method with a generated document.
#[tokio::test(flavor = "multi_thread")]
async fn a_graphql_schema_becomes_the_service() {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nbackends:\n  upstream:\n    protocol: graphql\n    address: {}\n    graphql_schema: introspection\n",
        demo.gateway.url("/graphql")
    );
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/rest.yaml", "version: 1\nfrontend: rest\nbackend:\n  use: upstream\nrules:\n  - selector: Api.GetUser\n    get: /people/{id}\n"),
        ("mappings/grpc.yaml", "version: 1\nfrontend: grpc\nbackend:\n  use: upstream\n"),
    ]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    let service = loaded
        .pool
        .get_service_by_name("graphql.graphql.Api")
        .expect("the imported service");
    let names: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
    for wanted in ["GetUser", "CreateUser", "CapitalCity"] {
        assert!(names.iter().any(|n| n == wanted), "{names:?}");
    }
    let gateway = common::serve(loaded).await;
    let user: Value = reqwest::get(gateway.url("/people/1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["role"], "ROLE_ADMIN");
    assert_eq!(user["address"]["city"], "London");
    // A SOAP operation behind the GraphQL endpoint, through the generated document, over gRPC.
    let capital = service
        .methods()
        .find(|m| m.name() == "CapitalCity")
        .unwrap();
    let answer = common::grpc_unary(&gateway.base, &capital, json!({"sCountryISOCode": "NL"}))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({"CapitalCityResult": "Amsterdam"})
    );
    // A field error keeps its code.
    let response = reqwest::get(gateway.url("/people/999")).await.unwrap();
    assert_eq!(response.status(), 404);
}
