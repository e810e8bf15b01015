#!/usr/bin/env python3
"""Profile vs run (issue 9): for each model, `opstudio-cli profile --json` gives the unobserved run median
(`total`, the latency every view reports), the median of the observed runs (`observed_total`) and the per-node
medians; the per-node sum must add up to the run, and observing must not change the plan.

  tests/bench/profile_vs_run.py MODEL [MODEL ...] [--threads 1] [--runs 30] [--markdown FILE]
"""
import argparse, json, os, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "app", "opstudio-cli")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    rows = ["| model | run median ms (unobserved) | observed runs ms | sum of node medians ms | observed vs run | nodes vs run |",
            "|---|---|---|---|---|---|"]
    for m in a.models:
        out = subprocess.run([CLI, "profile", m, "--threads", str(a.threads), "--runs", str(a.runs), "--json"],
                             check=True, capture_output=True, text=True).stdout
        d = json.loads(out[out.index("{"):])
        run, obs = d["total"]["median_ms"], d["observed_total"]["median_ms"]
        nodes = sum(n["median_ms"] for n in d["nodes"] if n.get("depth", 0) == 0)
        name = os.path.basename(os.path.dirname(os.path.abspath(m)))
        rows.append(f"| {name} | {run:.3f} | {obs:.3f} | {nodes:.3f} | {100 * (obs / run - 1):+.1f} % | {100 * (nodes / run - 1):+.1f} % |")
    text = "\n".join(rows) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
