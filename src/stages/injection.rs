//! Injection filtering (security.md): the string fields of each decoded input message, every
//! one or those a mapping lists, checked for SQL, script, command and path injection.
//!
//! Because the gateway knows the type of every field, it checks the values a backend will see,
//! decoded from JSON, XML, a query string or protobuf, not raw bytes in one encoding. SQL and
//! script injection are libinjection's tokenizers (the libinjectionrs port, which is tested
//! against the C library). No maintained crate detects shell commands or path traversal, so
//! those two are regular expressions written after the OWASP Core Rule Set: rules 932100-932160
//! (Unix command injection) and 930100-930120 (path traversal, OS files), at its first
//! paranoia level.
//!
//! `block` answers INVALID_ARGUMENT (400) with a `google.rpc.BadRequest` naming the field and
//! the rule; `log-only` logs the same on `rosetta::injection` and lets the call through. Either
//! way `rosetta_injection_detected_total{rule,action}` counts it. The value itself is never
//! logged: it may be a secret or personal data.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use futures::future::BoxFuture;
use prometheus::{IntCounterVec, Opts, Registry};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MethodDescriptor, Value};
use regex::Regex;
use tower::ServiceExt;

use super::validate::{bad_request, check_messages, Violation};
use super::Stage;
use crate::call::{Call, Invoker, Message, Reply};
use crate::config::{
    pos_in, Diagnostic, Diagnostics, InjectionConfig, InjectionKind, InjectionMode,
};
use crate::status::Status;

const KINDS: [InjectionKind; 4] = [
    InjectionKind::Sql,
    InjectionKind::Script,
    InjectionKind::Command,
    InjectionKind::Path,
];

fn rule_name(kind: InjectionKind) -> &'static str {
    match kind {
        InjectionKind::Sql => "sql",
        InjectionKind::Script => "script",
        InjectionKind::Command => "command",
        InjectionKind::Path => "path",
    }
}

/// Which detector finds an injection in `text`, of those in `kinds`, if any.
pub fn detect(text: &str, kinds: &[InjectionKind]) -> Option<InjectionKind> {
    kinds.iter().copied().find(|kind| match kind {
        InjectionKind::Sql => libinjectionrs::detect_sqli(text.as_bytes()).is_injection(),
        InjectionKind::Script => libinjectionrs::detect_xss(text.as_bytes()).is_injection(),
        InjectionKind::Command => COMMAND.is_match(text),
        InjectionKind::Path => path_injection(text),
    })
}

/// A shell separator or substitution, then a command of CRS's unix-shell list, then what a
/// command line has next (an end, an option, a path, a number, a quote, another operator).
/// The last part keeps prose such as "R&D; cat lovers welcome" out.
static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    let commands = "sh|bash|dash|zsh|ksh|csh|tcsh|cat|tac|ls|id|whoami|uname|pwd|echo|printf|wget|curl|nc|ncat|netcat|telnet|ssh|scp|python[23]?|perl|ruby|php|node|rm|mv|cp|chmod|chown|kill|pkill|ps|env|export|sleep|ping|nslookup|dig|ifconfig|ip|base64|awk|sed|grep|find|xargs|tar|touch|head|tail|more|less|mkfifo|sudo|su|crontab|passwd|powershell|cmd";
    Regex::new(&format!(
        r#"(?i)(?:[;&|`\n\r]|\$\(|\$\{{)\s*(?:[\w.-]*/)*(?:{commands})(?:$|[\s;&|`)<>'"]+(?:$|[-/.~$0-9'"`;&|<>]))|\$\{{IFS\}}"#
    ))
    .expect("the command pattern is valid")
});

/// `..` between separators (CRS 930100/930110), and the OS files attackers reach for (a short
/// list after CRS 930120). Values are looked at as sent and decoded once more, for escapes
/// meant for a backend that decodes again.
static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[\\/])\.\.(?:[\\/]|$)|(?:^|[\\/])(?:etc[\\/](?:passwd|shadow|group|sudoers)|proc[\\/]self[\\/]|windows[\\/](?:win\.ini|system32[\\/])|boot\.ini|\.ssh[\\/])",
    )
    .expect("the path pattern is valid")
});

fn path_injection(text: &str) -> bool {
    if PATH.is_match(text) {
        return true;
    }
    text.contains('%')
        && PATH.is_match(&percent_encoding::percent_decode_str(text).decode_utf8_lossy())
}

/// Detections by rule and action, for the metrics endpoint.
#[derive(Clone)]
pub struct Counters {
    detected: IntCounterVec,
}

impl Default for Counters {
    /// Every rule and action starts at zero, so that the series exist before the first
    /// detection.
    fn default() -> Self {
        let opts = Opts::new(
            "rosetta_injection_detected_total",
            "String fields in which injection filtering found an injection.",
        );
        let detected =
            IntCounterVec::new(opts, &["rule", "action"]).expect("the metric's names are valid");
        for kind in KINDS {
            for action in ["blocked", "logged"] {
                detected.with_label_values(&[rule_name(kind), action]);
            }
        }
        Counters { detected }
    }
}

impl Counters {
    fn count(&self, kind: InjectionKind, mode: InjectionMode) {
        let action = if mode == InjectionMode::LogOnly {
            "logged"
        } else {
            "blocked"
        };
        self.detected
            .with_label_values(&[rule_name(kind), action])
            .inc();
    }

    /// Adds the counters to the gateway's metrics.
    pub(crate) fn register(&self, registry: &Registry) {
        super::register_metric(registry, self.detected.clone());
    }
}

/// A mapping's injection filtering.
pub struct InjectionStage {
    mode: InjectionMode,
    kinds: Vec<InjectionKind>,
    /// Only these fields (full names); `None`: every string field.
    fields: Option<HashSet<String>>,
    counters: Arc<Counters>,
}

/// The stage of an `injection` written in `file`, its fields checked against `methods`'
/// schemas.
pub fn build(
    file: &Arc<str>,
    config: &InjectionConfig,
    methods: &[MethodDescriptor],
    counters: Arc<Counters>,
    diags: &mut Diagnostics,
) -> Option<InjectionStage> {
    let pool = methods.first()?.parent_pool();
    let fields = (!config.fields.is_empty()).then(|| {
        let mut names = HashSet::new();
        for name in &config.fields {
            match crate::registry::field_by_full_name(pool, name) {
                Ok(field) if matches!(field.kind(), Kind::String) => {
                    names.insert(field.full_name().to_owned());
                }
                Ok(_) => diags.push(Diagnostic::at(
                    &pos_in(file, name),
                    format!("`{}` is not a string field", name.value),
                )),
                Err(problem) => diags.push(problem.at(&pos_in(file, name))),
            }
        }
        names
    });
    let mut kinds = config.detect.clone();
    kinds.dedup();
    Some(InjectionStage {
        mode: config.mode,
        kinds,
        fields,
        counters,
    })
}

impl InjectionStage {
    fn check(&self, message: &Message, method: &str) -> Result<(), Status> {
        let message = message.decoded()?;
        let mut found = Vec::new();
        self.walk(&message, "", &mut found);
        if found.is_empty() {
            return Ok(());
        }
        for (field, kind) in &found {
            self.counters.count(*kind, self.mode);
            tracing::warn!(
                target: "rosetta::injection",
                method,
                field = %field,
                rule = rule_name(*kind),
                blocked = self.mode == InjectionMode::Block,
                "injection found"
            );
        }
        if self.mode == InjectionMode::LogOnly {
            return Ok(());
        }
        let violations: Vec<Violation> = found
            .into_iter()
            .map(|(field, kind)| (field, format!("looks like {} injection", rule_name(kind))))
            .collect();
        Err(bad_request(violations))
    }

    fn wanted(&self, field: &FieldDescriptor) -> bool {
        self.fields
            .as_ref()
            .is_none_or(|names| names.contains(field.full_name()))
    }

    /// Every string value of `message` (nested, in lists and maps), by its path.
    fn walk(&self, message: &DynamicMessage, prefix: &str, out: &mut Vec<(String, InjectionKind)>) {
        for (field, value) in message.fields() {
            let path = if prefix.is_empty() {
                field.name().to_owned()
            } else {
                format!("{prefix}.{}", field.name())
            };
            match value {
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(&field, item, &format!("{path}[{i}]"), out);
                    }
                }
                Value::Map(entries) => {
                    for (key, item) in entries {
                        let at = match key {
                            MapKey::String(k) => format!("{path}[{k:?}]"),
                            other => format!("{path}[{other:?}]"),
                        };
                        self.value(&field, item, &at, out);
                    }
                }
                other => self.value(&field, other, &path, out),
            }
        }
    }

    fn value(
        &self,
        field: &FieldDescriptor,
        value: &Value,
        path: &str,
        out: &mut Vec<(String, InjectionKind)>,
    ) {
        match value {
            Value::String(text) if self.wanted(field) => {
                if let Some(kind) = detect(text, &self.kinds) {
                    out.push((path.to_owned(), kind));
                }
            }
            Value::Message(inner) => self.walk(inner, path, out),
            _ => {}
        }
    }
}

impl Stage for InjectionStage {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        if self.kinds.is_empty() {
            return Box::pin(next.oneshot(call));
        }
        let method = call.operation.full_name().to_owned();
        check_messages(call, next, move |message| self.check(message, &method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        detect(text, &KINDS).map(rule_name)
    }

    #[test]
    fn each_detector_finds_its_kind() {
        assert_eq!(kind("1' OR '1'='1"), Some("sql"));
        assert_eq!(kind("<script>alert(1)</script>"), Some("script"));
        assert_eq!(kind("x; cat /etc/hosts"), Some("command"));
        assert_eq!(kind("a && whoami"), Some("command"));
        assert_eq!(kind("$(id)"), Some("command"));
        assert_eq!(kind("../../etc/passwd"), Some("path"));
        assert_eq!(kind("..%2f..%2fwindows%2fwin.ini"), Some("path"));
    }

    #[test]
    fn prose_is_not_an_injection() {
        for text in [
            "O'Brien",
            "R&D; cat lovers welcome",
            "Tom & Jerry | the movie",
            "select the best option from the list",
            "Wait... what?",
            "I <3 rosetta",
            "12 Rue de l'Église, 75004 Paris",
        ] {
            assert_eq!(kind(text), None, "{text}");
        }
    }
}
