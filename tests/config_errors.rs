//! Every configuration, mapping and schema problem names file, line and column, and all of
//! them are reported at once. The rendered texts are snapshots.

mod common;

const PROTO: &str = include_str!("../examples/demo/schemas/demo/v1/users.proto");

const GATEWAY: &str = "version: 1
backends:
  users:
    protocol: grpc
    address: http://127.0.0.1:9
";

const MAPPING: &str = "version: 1
frontend: rest
backend:
  use: users
schemas: [demo/v1/users.proto]
services: [demo.v1.Users]
";

/// Loads a configuration that must fail and returns its rendered diagnostics, with the
/// temporary directory replaced by `<dir>`.
async fn errors_of(gateway: &str, mapping: &str, proto: &str) -> String {
    let dir = common::write_files(&[
        ("gateway.yaml", gateway),
        ("mappings/users.yaml", mapping),
        ("schemas/demo/v1/users.proto", proto),
    ]);
    let diags = match common::load(dir.path(), common::vars(&[])) {
        Ok(_) => panic!("the configuration loaded, but it should not have"),
        Err(diags) => diags,
    };
    for d in &diags.items {
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
    }
    let root = dir.path().display().to_string();
    diags.render().replace(&root, "<dir>")
}

#[tokio::test]
async fn unknown_and_mistyped_keys() {
    let gateway = format!("{GATEWAY}listen_adress: 0.0.0.0:80\n");
    insta::assert_snapshot!(
        "unknown_gateway_key",
        errors_of(&gateway, MAPPING, PROTO).await
    );
    let gateway = format!("{GATEWAY}limits:\n  max_body_size: lots\n");
    insta::assert_snapshot!("bad_size", errors_of(&gateway, MAPPING, PROTO).await);
    let mapping = format!("{MAPPING}options:\n  strictt: true\n");
    insta::assert_snapshot!("unknown_option", errors_of(GATEWAY, &mapping, PROTO).await);
    let gateway = "version: 1\nlisten: [1, 2\n";
    insta::assert_snapshot!("yaml_syntax", errors_of(gateway, MAPPING, PROTO).await);
}

#[tokio::test]
async fn many_problems_are_reported_together() {
    let gateway = GATEWAY
        .replace("version: 1", "version: 2")
        .replace("127.0.0.1:9", "${USERS_ADDR}")
        + "listen: localhost\n";
    let mapping = MAPPING
        .replace("use: users", "use: accounts")
        .replace("demo.v1.Users", "demo.v2.Users");
    insta::assert_snapshot!(
        "several_at_once",
        errors_of(&gateway, &mapping, PROTO).await
    );
}

#[tokio::test]
async fn rule_problems() {
    let mapping = format!(
        "{MAPPING}rules:
  - selector: demo.v1.Users.GetUserz
    get: /v1/u/{{id}}
  - selector: demo.v1.Users.GetUser
    get: v1/users/{{id}}
  - selector: demo.v1.Users.DeleteUser
    delete: /v1/users/{{name}}
  - selector: demo.v1.Users.CreateUser
    post: /v1/users
    put: /v1/users
  - selector: demo.v1.Users.CreateUser
    mode: add
    post: /v1/users2
    body: person
  - selector: demo.v1.Users.Sleep
    get: /v1/sleep/{{duration.seconds}}
    body: \"*\"
"
    );
    insta::assert_snapshot!("rule_problems", errors_of(GATEWAY, &mapping, PROTO).await);
}

#[tokio::test]
async fn ambiguous_routes_name_both() {
    let mapping = format!(
        "{MAPPING}rules:
  - selector: demo.v1.Users.ListUsers
    mode: add
    get: /v1/users/{{page_size}}
"
    );
    insta::assert_snapshot!(
        "ambiguous_routes",
        errors_of(GATEWAY, &mapping, PROTO).await
    );
}

#[tokio::test]
async fn schema_problems_point_into_the_proto() {
    let broken = PROTO.replace(
        "message GetUserRequest {\n  int64 id = 1;",
        "message GetUserRequest {\n  int64 id = 1\n  strin name = 2;",
    );
    insta::assert_snapshot!("proto_syntax", errors_of(GATEWAY, MAPPING, &broken).await);
    let broken = PROTO.replace("  Address address = 6;", "  Adress address = 6;");
    insta::assert_snapshot!(
        "proto_unknown_type",
        errors_of(GATEWAY, MAPPING, &broken).await
    );
    let mapping = MAPPING.replace("demo/v1/users.proto", "demo/v1/missing.proto");
    insta::assert_snapshot!("missing_schema", errors_of(GATEWAY, &mapping, PROTO).await);
    let broken = PROTO.replace("get: \"/v1/users/{id}\"", "get: \"/v1/users/{ident}\"");
    insta::assert_snapshot!(
        "annotation_field",
        errors_of(GATEWAY, MAPPING, &broken).await
    );
}

#[tokio::test]
async fn backend_settings_beside_use_are_refused() {
    let mapping = MAPPING.replace(
        "  use: users\n",
        "  use: users\n  tls:\n    server_name: x\n",
    );
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(
        rendered.contains(
            "error: `protocol`, `tls`, `soap` and `openapi` belong to the backend in gateway.yaml, not beside `use`"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("<dir>/mappings/users.yaml:4:8"),
        "{rendered}"
    );
}

#[tokio::test]
async fn keys_of_another_protocol_are_refused() {
    // Each protocol's own keys (backend::build::Protocol::own_keys), on a gRPC backend.
    for (key, expected) in [
        (
            "openapi: api.yaml",
            "`openapi` describes a backend with `protocol: rest`",
        ),
        (
            "graphql_schema: schema.graphql",
            "`graphql_schema` describes a backend with `protocol: graphql`",
        ),
        (
            "soap: {wsdl: service.wsdl}",
            "`soap` settings belong to a backend with `protocol: soap`",
        ),
    ] {
        let gateway = format!("{GATEWAY}    {key}\n");
        let rendered = errors_of(&gateway, MAPPING, PROTO).await;
        assert!(
            rendered.contains(&format!("error: {expected}")),
            "{rendered}"
        );
        assert!(rendered.contains("<dir>/gateway.yaml:6:"), "{rendered}");
    }
}

#[tokio::test]
async fn near_misses_get_a_did_you_mean() {
    let gateway = GATEWAY.replace("address:", "adress:");
    let rendered = errors_of(&gateway, MAPPING, PROTO).await;
    assert!(
        rendered.contains("= help: did you mean `address`?"),
        "{rendered}"
    );
    let gateway = GATEWAY.replace("protocol: grpc", "protocol: grcp");
    let rendered = errors_of(&gateway, MAPPING, PROTO).await;
    assert!(
        rendered.contains("= help: did you mean `grpc`?"),
        "{rendered}"
    );
    // The whole token is underlined.
    assert!(
        rendered.contains("protocol: grcp\n   |               ^^^^\n"),
        "{rendered}"
    );
    let mapping = MAPPING.replace("use: users", "use: usres");
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(
        rendered.contains("= help: did you mean `users`?"),
        "{rendered}"
    );
    let mapping = format!("{MAPPING}rules:\n  - selector: GetUsr\n    get: /v9/{{id}}\n");
    insta::assert_snapshot!(
        "did_you_mean_method",
        errors_of(GATEWAY, &mapping, PROTO).await
    );
    let mapping = format!("{MAPPING}rules:\n  - selector: GetUser\n    get: /v9/{{idd}}\n");
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(
        rendered
            .contains("path variable `idd` names no singular field of demo.v1.GetUserRequest\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("= help: did you mean `id`?"),
        "{rendered}"
    );
    // Fields named in validation rules and transforms.
    let mapping = format!(
        "{MAPPING}validation:\n  rules:\n    demo.v1.GetUserRequest.idd: {{min_length: 1}}\n"
    );
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(
        rendered.contains("= help: did you mean `demo.v1.GetUserRequest.id`?"),
        "{rendered}"
    );
    let mapping =
        format!("{MAPPING}transforms:\n  - request:\n      fields:\n        remove: [idd]\n");
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(
        rendered.contains("= help: did you mean `id`?"),
        "{rendered}"
    );
    // Nothing near: no guess.
    let mapping = MAPPING.replace("use: users", "use: zzzzzz");
    let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
    assert!(!rendered.contains("help:"), "{rendered}");
}

#[tokio::test]
async fn a_broken_gateway_yaml_does_not_hide_the_mappings_problems() {
    let gateway = format!("{GATEWAY}limits:\n  max_body_size: lots\n");
    let mapping = MAPPING.replace("frontend: rest", "frontend: rest\nservics: [x]");
    let rendered = errors_of(&gateway, &mapping, PROTO).await;
    assert!(rendered.contains("<dir>/gateway.yaml:7:"), "{rendered}");
    assert!(rendered.contains("unknown field `servics`"), "{rendered}");
    assert!(
        rendered.contains("= help: did you mean `services`?"),
        "{rendered}"
    );
    assert!(rendered.ends_with("2 errors found\n"), "{rendered}");
}

/// The mistakes a newcomer makes, seeded together in three files: one run of `check` names
/// every one of them.
#[tokio::test]
async fn every_seeded_mistake_is_reported_in_one_run() {
    let gateway = "version: 1
listen: [127.0.0.1:8080]
backends:
  users:
    protocol: grcp
    adress: http://127.0.0.1:9
limits:
  max_connections: -3
";
    let mapping = "version: 1
frontend: rest
backend:
  use: users
schemas: [demo/v1/users.proto]
services: demo.v1.Users
options:
  strictt: true
rules:
  - selector: GetUsr
    get: /v9/{id}
  - selector: GetUser
    get: /v9/{idd}
validation:
  rules:
    demo.v1.GetUserRequest.idd: {min_length: 1}
";
    let notes = "version: 1
frontend: rest
backend:
  use: users
schemas: [notes.proto]
services: [notes.Notes]
";
    let dir = common::write_files(&[
        ("gateway.yaml", gateway),
        ("mappings/users.yaml", mapping),
        ("mappings/notes.yaml", notes),
        ("schemas/demo/v1/users.proto", PROTO),
        (
            "schemas/notes.proto",
            "syntax = \"proto3\";\nmessage Note { string id = 1 }\n",
        ),
    ]);
    let Err(diags) = common::load(dir.path(), common::vars(&[])) else {
        panic!("the configuration loaded, but it should not have");
    };
    let root = dir.path().display().to_string();
    insta::assert_snapshot!("seeded_mistakes", diags.render().replace(&root, "<dir>"));
}

#[tokio::test]
async fn a_value_of_the_wrong_form_names_its_key_and_the_form() {
    let cases = [
        (
            "services: [demo.v1.Users]",
            "services: demo.v1.Users",
            "error: `services` must be a list of service names, e.g. `[shop.v1.Shop]`",
        ),
        (
            "services: [demo.v1.Users]",
            "services: [[demo.v1.Users]]",
            "error: each item of `services` must be a single value (text), not a list or a map",
        ),
        (
            "frontend: rest",
            "frontend: rest\noptions:\n  auto_routes: maybe",
            "error: `auto_routes` must be `true` or `false`",
        ),
        (
            "frontend: rest",
            "frontend: rest\nfrontend: rest",
            "error: `frontend` is written twice in the same map",
        ),
    ];
    for (from, to, expected) in cases {
        let mapping = MAPPING.replace(from, to);
        let rendered = errors_of(GATEWAY, &mapping, PROTO).await;
        assert!(rendered.starts_with(expected), "{to}: {rendered}");
    }
    let gateway = format!("{GATEWAY}limits:\n  max_connections: -3\n");
    insta::assert_snapshot!("wrong_form", errors_of(&gateway, MAPPING, PROTO).await);
}

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    // The variable is set, but the address it gives is wrong: the error must not show it.
    let gateway = GATEWAY.replace("http://127.0.0.1:9", "${SECRET_ADDR}");
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/users.yaml", MAPPING),
        ("schemas/demo/v1/users.proto", PROTO),
    ]);
    let vars = common::vars(&[("SECRET_ADDR", "s3cr3t-token@host".to_owned())]);
    let rendered = match common::load(dir.path(), vars) {
        Ok(_) => panic!("should not load"),
        Err(diags) => diags.render(),
    };
    assert!(
        rendered.contains("a backend address starts with http:// or https://"),
        "{rendered}"
    );
    assert!(!rendered.contains("s3cr3t"), "{rendered}");
}
