#!/usr/bin/env python3
"""Stated percentile error against the Monte Carlo error, on the reference scenario.

Runs `sibsim simulate scenarios/reference.toml` for several seeds and compares, for every
percentile in `summary.json` (main figures and cash bands), its stated error (`errors`, the
largest over the seeds) with the standard deviation of that percentile over the seeds (its Monte
Carlo error). A percentile whose stated error is 0 in every seed is exact.

    python3 benches/percentile_error.py [--bin target/release/sibsim] [--trials 1000000]
        [--seeds 6] [--out /tmp/percentile-error]
"""
import argparse, json, os, statistics, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/sibsim")
ap.add_argument("--trials", type=int, default=1_000_000)
ap.add_argument("--seeds", type=int, default=6)
ap.add_argument("--out", default="/tmp/percentile-error")
a = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
scenario = os.path.join(here, "..", "scenarios", "reference.toml")

runs = []
for seed in range(1, a.seeds + 1):
    out = os.path.join(a.out, f"seed-{seed}")
    subprocess.run([a.bin, "simulate", scenario, "--trials", str(a.trials), "--threads", "2",
                    "--seed", str(seed), "--out", out], check=True, stdout=subprocess.DEVNULL)
    runs.append(json.load(open(os.path.join(out, "summary.json")))["results"])

def figures(x, path, acc):
    """Every object with an `error` field, by its path in the results."""
    if isinstance(x, dict):
        if "error" in x:
            acc[path] = x
        else:
            for k, v in x.items():
                figures(v, f"{path}.{k}", acc)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            figures(v, f"{path}[{i}]", acc)

per_run = []
for r in runs:
    acc = {}
    figures(r, "", acc)
    per_run.append(acc)

stats = {"main": [0, 0, []], "cash band": [0, 0, []]}  # percentiles, exact, ratios
worst = []
for path, fig in per_run[0].items():
    kind = "cash band" if "cash_bands" in path else "main"
    keys = [k for k in fig if k[0] == "p" and k[1:].isdigit()]
    for j, k in enumerate(keys):
        err = max(p[path]["errors"][j] for p in per_run)
        s = stats[kind]
        s[0] += 1
        if err == 0:
            s[1] += 1
            continue
        sd = statistics.stdev(p[path][k] for p in per_run)
        ratio = err / sd if sd > 0 else float("inf")
        s[2].append(ratio)
        worst.append((ratio, f"{path}.{k}", err, sd))

print(f"{a.seeds} seeds of {a.trials} trials; stated error / standard deviation over the seeds")
for kind, (n, exact, r) in stats.items():
    r.sort()
    at = lambda q: r[min(len(r) - 1, int(q * len(r)))] if r else 0.0
    print(f"{kind}: {n} percentiles, {exact} exact; the rest: median {at(0.5):.3f}, "
          f"90th percentile {at(0.9):.3f}, max {r[-1] if r else 0:.3f}; "
          f"above 0.2: {sum(x > 0.2 for x in r)}, above 1: {sum(x > 1 for x in r)}")
worst.sort(reverse=True)
for ratio, where, err, sd in worst[:5]:
    print(f"  {ratio:8.3f}  {where}: error {err:g}, sd {sd:g}")
