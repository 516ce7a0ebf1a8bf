//! REST route lookup with 10, 1,000 and 10,000 routes: the trie's cost follows the path's
//! length, not the number of routes. The routes are those bench/scale.sh generates (a GET with
//! a path variable per method, `/v1/p{file}/things{m}/{id}`, ten methods per file), plus a
//! few with `**` variables and custom verbs so that every kind of node is in the trie.
//!
//! - `hit`: a path that matches a route in the middle of the set;
//! - `miss`: a path of the same length that matches none (the 404 path);
//! - `deep`: a `**` route reached through a long path (32 segments).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::Method;
use rosetta::frontend::rest::matcher::{Lookup, Matcher};
use rosetta::http_rule::template::parse;

fn matcher(routes: usize) -> Matcher {
    let mut m = Matcher::default();
    let files = routes.div_ceil(10);
    let mut index = 0;
    let mut add = |method: &Method, template: &str| {
        m.insert(method, &parse(template).expect("a template"), index)
            .expect("no conflict");
        index += 1;
    };
    for f in 0..files {
        for t in 0..10.min(routes - f * 10) {
            add(&Method::GET, &format!("/v1/p{f}/things{t}/{{id}}"));
        }
    }
    add(&Method::GET, "/v1/files/{name=**}");
    add(&Method::POST, "/v1/p0/things0/{id}:archive");
    m
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    for routes in [10, 1_000, 10_000] {
        let m = matcher(routes);
        let middle = routes / 20;
        let hit = format!("/v1/p{middle}/things{}/42", (routes / 2) % 10.min(routes));
        let miss = format!("/v1/p{middle}/nothing/42");
        let deep = format!("/v1/files/{}", vec!["segment"; 32].join("/"));
        assert!(
            matches!(m.lookup(&Method::GET, &hit), Lookup::Found { .. }),
            "{hit}"
        );
        assert_eq!(m.lookup(&Method::GET, &miss), Lookup::NotFound);
        assert!(matches!(
            m.lookup(&Method::GET, &deep),
            Lookup::Found { .. }
        ));
        for (name, path) in [("hit", &hit), ("miss", &miss), ("deep", &deep)] {
            group.bench_with_input(BenchmarkId::new(name, routes), path, |b, path| {
                b.iter(|| m.lookup(&Method::GET, path))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
