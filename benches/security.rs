//! What the defences of security.md cost on the request path.
//!
//! - `injection/*`: the detectors over the string fields of a typical request (eight fields:
//!   a name, an address, an email, a comment, tags), all four detectors and each alone.
//! - `graphql_cost/*`: measuring a document before anything expands it: an ordinary query, a
//!   cycle of 5,000 fragments and a chain of 40 fragments that each spread the next twice
//!   (2^40 fields once inlined), which must be refused in well under a millisecond.

use criterion::{criterion_group, criterion_main, Criterion};
use rosetta::config::InjectionKind;
use rosetta::frontend::graphql::cost;
use rosetta::stages::injection::detect;

const FIELDS: [&str; 8] = [
    "Seán O'Sullivan",
    "12 Rue de l'Église, 75004 Paris",
    "sean.osullivan@example.com",
    "Please deliver after 5pm; ring the bell twice & wait.",
    "gift",
    "fragile",
    "express",
    "Order #4821 -- thanks!",
];

fn injection(c: &mut Criterion) {
    let mut group = c.benchmark_group("injection");
    let all = [
        InjectionKind::Sql,
        InjectionKind::Script,
        InjectionKind::Command,
        InjectionKind::Path,
    ];
    group.bench_function("all_four", |b| {
        b.iter(|| FIELDS.iter().filter(|f| detect(f, &all).is_some()).count())
    });
    for kind in all {
        group.bench_function(format!("{kind:?}").to_lowercase(), |b| {
            b.iter(|| {
                FIELDS
                    .iter()
                    .filter(|f| detect(f, &[kind]).is_some())
                    .count()
            })
        });
    }
    group.finish();
}

fn graphql_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("graphql_cost");
    let ordinary = "query Q($id: Int64) { getUser(id: $id) { id name tags address { city } } listUsers(pageSize: 10) { users { ...U } } } fragment U on demo_v1_User { id name role }";
    let mut cycle = String::from("{ ...F0 }");
    for i in 0..5_000 {
        cycle.push_str(&format!(
            " fragment F{i} on Query {{ a ...F{} }}",
            (i + 1) % 5_000
        ));
    }
    let mut doubling = String::from("{ ...F0 }");
    for i in 0..40 {
        doubling.push_str(&format!(
            " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    doubling.push_str(" fragment F40 on Query { a }");
    for (name, text) in [
        ("ordinary", ordinary),
        ("cycle_5000", &cycle),
        ("doubling_40", &doubling),
    ] {
        let document = async_graphql::parser::parse_query(text).expect("it parses");
        group.bench_function(name, |b| b.iter(|| cost::measure(&document).is_ok()));
    }
    group.finish();
}

criterion_group!(benches, injection, graphql_cost);
criterion_main!(benches);
