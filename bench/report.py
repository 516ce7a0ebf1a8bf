"""Summarises a bench/run result directory: medians per scenario, target and concurrency, the
ratios issue 9 sets targets for, peak memory, and (with matplotlib) a plot of throughput and
p99 per scenario.

    python3 bench/report.py target/bench/<stamp>
"""
import csv
import math
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/summary.tsv"), delimiter="\t"))
groups = defaultdict(list)
for r in rows:
    groups[(r["scenario"], r["target"], int(r["conns"]))].append(r)
# The stages' baseline is rosetta's own REST -> gRPC GET: the same route without stages.
for (scenario, target, conns), rs in list(groups.items()):
    if (scenario, target) == ("get", "rosetta") and ("stages", "rosetta", conns) in groups:
        groups[("stages", "rosetta-no-stages", conns)] = rs


def med(scenario, target, conns, key):
    values = [float(r[key]) for r in groups.get((scenario, target, conns), []) if r.get(key)]
    return statistics.median(values) if values else math.nan


# Scenarios in the order of the plot, with their targets, the subject first.
SCENARIOS = [
    ("get", ["rosetta", "grpc-gateway", "grpc-direct"]),
    ("post10k", ["rosetta", "grpc-gateway", "grpc-direct"]),
    ("stream5", ["rosetta", "grpc-gateway", "grpc-direct"]),
    ("graphql", ["rosetta", "mesh"]),
    ("rest-soap", ["rosetta", "soap-direct"]),
    ("passthrough", ["rosetta", "nginx", "http-direct"]),
    ("stages", ["rosetta", "rosetta-no-stages"]),
]
conns_list = sorted({c for (_, _, c) in groups})

print("| scenario | conns | target | req/s | p50 ms | p99 ms | CPU µs/req | non-2xx |")
print("|---|---|---|---|---|---|---|---|")
for scenario, targets in SCENARIOS:
    for c in conns_list:
        for t in targets:
            rs = groups.get((scenario, t, c))
            if not rs:
                continue
            bad = sum(int(r["non2xx"] or 0) for r in rs)
            cpu = med(scenario, t, c, "cpu_us_per_req")
            cpu = "" if math.isnan(cpu) else f"{cpu:.0f}"
            print(
                f"| {scenario} | {c} | {t} | {med(scenario, t, c, 'req_s'):,.0f} | "
                f"{med(scenario, t, c, 'p50_us') / 1000:.2f} | {med(scenario, t, c, 'p99_us') / 1000:.2f} | {cpu} | {bad} |"
            )

C = max(conns_list)
rps = lambda s, t, c=C: med(s, t, c, "req_s")
p99 = lambda s, t, c=C: med(s, t, c, "p99_us")
checks = [
    ("REST->gRPC GET, req/s vs grpc-gateway", rps("get", "rosetta") / rps("get", "grpc-gateway"), ">=", 2.0),
    ("REST->gRPC GET, p99 vs grpc-gateway", p99("get", "rosetta") / p99("get", "grpc-gateway"), "<=", 0.5),
    ("REST->gRPC POST 10 KiB, req/s vs grpc-gateway", rps("post10k", "rosetta") / rps("post10k", "grpc-gateway"), ">=", 2.0),
    ("REST->gRPC POST 10 KiB, p99 vs grpc-gateway", p99("post10k", "rosetta") / p99("post10k", "grpc-gateway"), "<=", 0.5),
    ("GraphQL->gRPC, req/s vs GraphQL Mesh", rps("graphql", "rosetta") / rps("graphql", "mesh"), ">=", 15.0),
    ("GraphQL->gRPC, req/s vs rosetta's REST->gRPC", rps("graphql", "rosetta") / rps("get", "rosetta"), ">=", 0.6),
    ("passthrough, req/s vs nginx", rps("passthrough", "rosetta") / rps("passthrough", "nginx"), ">=", 0.75),
    ("REST->SOAP, req/s vs rosetta's passthrough", rps("rest-soap", "rosetta") / rps("passthrough", "rosetta"), ">=", 0.7),
    ("stages, req/s vs rosetta's REST->gRPC GET", rps("stages", "rosetta") / rps("get", "rosetta"), ">=", 0.8),
]
print(f"\nRatios at {C} connections (medians of the same run):\n")
print("| ratio | value | target | |")
print("|---|---|---|---|")
for name, value, op, target in checks:
    met = value >= target if op == ">=" else value <= target
    print(f"| {name} | {value:.2f} | {op} {target} | {'met' if met else 'missed'} |")
if 1 in conns_list:
    print(f"\nAt 1 connection: GET req/s vs grpc-gateway {rps('get', 'rosetta', 1) / rps('get', 'grpc-gateway', 1):.2f}, "
          f"p99 {p99('get', 'rosetta', 1) / p99('get', 'grpc-gateway', 1):.2f}; p50 added over the direct call "
          f"{med('get', 'rosetta', 1, 'p50_us') - med('get', 'grpc-direct', 1, 'p50_us'):.0f} µs (target <= 100; bench/latency.sh says why)")

try:
    rss = list(csv.DictReader(open(f"{out}/rss.tsv"), delimiter="\t"))
    print("\nPeak RSS: " + ", ".join(f"{r['gateway']} {r['peak_rss_mib']} MiB" for r in rss))
except OSError:
    pass

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\n(no plot: matplotlib is not installed)")
    sys.exit(0)
fig, axes = plt.subplots(2, len(SCENARIOS), figsize=(2.3 * len(SCENARIOS), 6))
colours = {"rosetta": "#1f77b4", "grpc-gateway": "#ff7f0e", "mesh": "#d62728", "nginx": "#2ca02c",
           "rosetta-no-stages": "#aec7e8"}
for i, (scenario, targets) in enumerate(SCENARIOS):
    present = [t for t in targets if groups.get((scenario, t, C))]
    colour = [colours.get(t, "#999999") for t in present]
    axes[0][i].bar(present, [rps(scenario, t) for t in present], color=colour)
    axes[1][i].bar(present, [p99(scenario, t) / 1000 for t in present], color=colour)
    axes[0][i].set_title(scenario)
    for ax in (axes[0][i], axes[1][i]):
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
axes[0][0].set_ylabel(f"requests/s ({C} connections)")
axes[1][0].set_ylabel("p99 latency (ms)")
fig.tight_layout()
fig.savefig(f"{out}/bench.png", dpi=90)
print(f"\nplot: {out}/bench.png")
