//! GraphiQL from files shipped in the binary (`graphiql/`, see its README), so the page works
//! offline: an endpoint's page at its path (for a browser's GET), the files it loads at
//! `<path>/graphiql/<file>`. Subscriptions run over the endpoint's SSE transport.

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

/// The files the page loads: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/graphiql.min.js"),
    ),
];

/// Queries and mutations are POSTed as JSON; a subscription asks for `text/event-stream` and
/// yields each `next` event until `complete`.
const FETCHER: &str = r#"
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of event.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (name === "complete") return;
      if (data) yield JSON.parse(data);
    }
  }
}
function fetcher(params) {
  const subscription = /(^|[\s}])subscription[\s{(]/.test(params.query || "");
  const response = fetch(ENDPOINT, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: subscription ? "text/event-stream" : "application/graphql-response+json, application/json",
    },
    body: JSON.stringify(params),
  });
  return subscription ? (async function* () { yield* events(await response); })()
                      : response.then((r) => r.json());
}
ReactDOM.render(React.createElement(GraphiQL, { fetcher }), document.getElementById("graphiql"));
"#;

/// The GraphiQL page of the endpoint at `path`.
pub(crate) fn page(path: &str) -> String {
    let base = path.trim_end_matches('/');
    // The path goes into HTML attributes and a script: as JSON, with `<` escaped, it can
    // close neither.
    let endpoint = serde_json::to_string(path)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    let attribute = html_escape(base);
    let mut scripts = String::new();
    for (name, ..) in &ASSETS[1..] {
        scripts.push_str(&format!(
            "<script src=\"{attribute}/graphiql/{name}\"></script>\n"
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>GraphiQL</title>\n\
         <link rel=\"stylesheet\" href=\"{attribute}/graphiql/{css}\">\n\
         <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>\n</head>\n<body>\n\
         <div id=\"graphiql\">Loading GraphiQL...</div>\n{scripts}<script>\nconst ENDPOINT = {endpoint};\n{FETCHER}</script>\n</body>\n</html>\n",
        css = ASSETS[0].0,
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The file `name` of the page, cached by browsers for a day (it changes only with the
/// binary); 404 for any other name.
pub(crate) fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(known, ..)| *known == name) {
        Some((_, content_type, bytes)) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
