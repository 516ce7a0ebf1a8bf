"""Summarises a bench/run result directory: medians per scenario, target and concurrency, the
ratios that issue 9 sets targets for, and (with matplotlib) a plot of throughput and p99.

    python3 bench/report.py target/bench/<stamp>
"""
import csv
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/summary.tsv"), delimiter="\t"))
groups = defaultdict(list)
for r in rows:
    groups[(r["scenario"], r["target"], int(r["conns"]))].append(r)


def med(rs, key):
    values = [float(r[key]) for r in rs if r[key] not in ("", None)]
    return statistics.median(values) if values else float("nan")


scenarios = ["get", "post10k", "stream5"]
targets = ["grpc-direct", "rosetta", "grpc-gateway"]
conns_list = sorted({c for (_, _, c) in groups})
print("| scenario | conns | target | req/s | p50 us | p99 us | non-2xx runs |")
print("|---|---|---|---|---|---|---|")
for s in scenarios:
    for c in conns_list:
        for t in targets:
            rs = groups.get((s, t, c))
            if not rs:
                continue
            bad = sum(int(r["non2xx"] or 0) for r in rs)
            print(f"| {s} | {c} | {t} | {med(rs, 'req_s'):,.0f} | {med(rs, 'p50_us'):,.0f} | {med(rs, 'p99_us'):,.0f} | {bad} |")
print()
print("Ratios, rosetta / grpc-gateway (targets: req/s >= 2.0, p99 <= 0.5):")
for s in scenarios:
    for c in conns_list:
        a, b = groups.get((s, "rosetta", c)), groups.get((s, "grpc-gateway", c))
        if a and b:
            print(f"- {s}, {c} conns: req/s x{med(a, 'req_s') / med(b, 'req_s'):.2f}, p99 x{med(a, 'p99_us') / med(b, 'p99_us'):.2f}")
try:
    rss = open(f"{out}/rss.tsv").read().split()
    print(f"\nPeak RSS: rosetta {rss[2]} MiB, grpc-gateway {rss[4]} MiB")
except (OSError, IndexError):
    pass

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\n(no plot: matplotlib is not installed)")
    sys.exit(0)
c = max(conns_list)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
width = 0.27
for i, t in enumerate(targets):
    xs = [j + (i - 1) * width for j in range(len(scenarios))]
    rps = [med(groups.get((s, t, c), []), "req_s") if groups.get((s, t, c)) else 0 for s in scenarios]
    p99 = [med(groups.get((s, t, c), []), "p99_us") / 1000 if groups.get((s, t, c)) else 0 for s in scenarios]
    ax1.bar(xs, rps, width, label=t)
    ax2.bar(xs, p99, width, label=t)
for ax, title in ((ax1, f"requests/s at {c} connections"), (ax2, f"p99 latency (ms) at {c} connections")):
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios)
    ax.set_title(title)
    ax.legend()
fig.tight_layout()
fig.savefig(f"{out}/rest-grpc.png", dpi=100)
print(f"\nplot: {out}/rest-grpc.png")
