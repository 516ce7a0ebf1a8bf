//! The SOAP frontend in front of the demo gRPC service: the generated WSDL (snapshot), SOAP 1.1
//! and 1.2 envelopes, faults, and zeep (a SOAP client nobody here wrote) loading the WSDL and
//! calling operations.

mod common;

use serde_json::json;

struct Setup {
    gateway: common::RunningGateway,
    _demo: common::Demo,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{}\n",
        env!("CARGO_MANIFEST_DIR"),
        demo.backend.addr
    );
    let mapping = "version: 1\nfrontend: soap\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/users.yaml", mapping)]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    Setup {
        gateway: common::serve(loaded).await,
        _demo: demo,
        _dir: dir,
    }
}

const NS: &str = "urn:rosetta:demo.v1.Users";

fn envelope11(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="{NS}"><soap:Header/><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

async fn post(setup: &Setup, content_type: &str, envelope: String) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(setup.gateway.url("/soap/Users"))
        .header("content-type", content_type)
        .body(envelope)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_generated_wsdl() {
    let setup = setup().await;
    let wsdl = reqwest::get(setup.gateway.url("/soap/Users?wsdl"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let wsdl = wsdl.replace(&setup.gateway.addr.to_string(), "HOST");
    insta::assert_snapshot!("users_wsdl", wsdl);
}

#[tokio::test]
async fn soap_11_and_12_envelopes_and_faults() {
    let setup = setup().await;
    let (status, body) = post(
        &setup,
        "text/xml",
        envelope11("<u:GetUser><u:id>1</u:id></u:GetUser>"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    insta::assert_snapshot!("get_user_response", body);

    // A nested message, a repeated field, an enum and a map in, the same out.
    let create = "<u:CreateUser><u:user><u:name>Katherine</u:name><u:role>ROLE_USER</u:role><u:tags>nasa</u:tags><u:tags>math</u:tags><u:address><u:city>Hampton</u:city></u:address><u:labels><u:key>team</u:key><u:value>flight</u:value></u:labels></u:user></u:CreateUser>";
    let (status, body) = post(&setup, "text/xml", envelope11(create)).await;
    assert_eq!(status, 200, "{body}");
    for part in [
        "<tns:name>Katherine</tns:name>",
        "<tns:role>ROLE_USER</tns:role>",
        "<tns:tags>nasa</tns:tags><tns:tags>math</tns:tags>",
        "<tns:address><tns:street></tns:street><tns:city>Hampton</tns:city>",
        "<tns:labels><tns:key>team</tns:key><tns:value>flight</tns:value></tns:labels>",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }

    // NOT_FOUND is a Client fault (HTTP 500 in SOAP 1.1).
    let (status, body) = post(
        &setup,
        "text/xml",
        envelope11("<u:GetUser><u:id>999</u:id></u:GetUser>"),
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        body.contains(
            "<faultcode>soap:Client</faultcode><faultstring>user 999 not found</faultstring>"
        ),
        "{body}"
    );
    // Unknown operations and fields, and XML that is not an envelope.
    let (_, body) = post(&setup, "text/xml", envelope11("<u:Nope/>")).await;
    assert!(
        body.contains("soap:Server") && body.contains("no operation `Nope`"),
        "{body}"
    );
    let (_, body) = post(
        &setup,
        "text/xml",
        envelope11("<u:GetUser><u:colour>1</u:colour></u:GetUser>"),
    )
    .await;
    assert!(
        body.contains("soap:Client")
            && body.contains("`colour` is not a field of demo.v1.GetUserRequest"),
        "{body}"
    );
    let (_, body) = post(
        &setup,
        "text/xml",
        "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>".to_owned(),
    )
    .await;
    assert!(body.contains("soap:Client"), "{body}");

    // SOAP 1.2: the same call in a 1.2 envelope is answered in 1.2; a Sender fault is a 400.
    let envelope12 = |body: &str| {
        format!(
            r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:u="{NS}"><env:Body>{body}</env:Body></env:Envelope>"#
        )
    };
    let (status, body) = post(
        &setup,
        "application/soap+xml",
        envelope12("<u:GetUser><u:id>2</u:id></u:GetUser>"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("http://www.w3.org/2003/05/soap-envelope")
            && body.contains("<tns:name>Alan Turing</tns:name>"),
        "{body}"
    );
    let (status, body) = post(
        &setup,
        "application/soap+xml",
        envelope12("<u:GetUser><u:id>998</u:id></u:GetUser>"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("soap:Sender"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn zeep_loads_the_wsdl_and_calls_operations() {
    let python = std::env::var("ROSETTA_PEERS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "ROSETTA_PEERS_PYTHON is not set: run the tests with scripts/test, which installs zeep"
        )
    });
    let setup = setup().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/soap-py/zeep_client.py"
    );
    let mut client = tokio::process::Command::new(python);
    client
        .arg(script)
        .arg(setup.gateway.url("/soap/Users?wsdl"));
    let seen = common::run_peer(client).await;
    assert_eq!(seen["get_user"]["name"], "Ada Lovelace");
    assert_eq!(seen["get_user"]["id"], 1);
    assert_eq!(seen["get_user"]["role"], "ROLE_ADMIN");
    assert_eq!(seen["created"]["name"], "Mary");
    assert_eq!(seen["created"]["tags"], json!(["x", "y"]));
    assert_eq!(seen["missing"], json!({"fault": "user 999 not found"}));
}
