#!/usr/bin/env python3
"""Does `--preset all-fusions` ever make a model slower in OpStudio's own runtime?

  tests/bench/fusion_gain.py [--threads 1 2] [--runs 50] [--bench-models DIR] [--markdown FILE]

For every committed model (tests/data/models/*/model.onnx) and every generated benchmark model
(build/bench-models, from tests/bench/make_bench_models.py, when present) it saves the all-fusions result
with `opstudio-cli optimize` and times both files with `opstudio-cli compare` (unobserved runs, A and B
interleaved in one process, the same inputs and threads: the latency `run` achieves). Prints one row per
model and thread count, and lists every model where the fused file is more than --tolerance slower.
Exit status 1 when there is such a model (a benchmark, not a test: wall-clock numbers never gate CI).
"""
import argparse, glob, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "app", "opstudio-cli")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--tolerance", type=float, default=0.03, help="allowed slowdown before a model is flagged")
    ap.add_argument("--bench-models", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--cli", default=CLI)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    models = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "models", "*", "model.onnx")))
    models += sorted(glob.glob(os.path.join(args.bench_models, "*", "model.onnx")))
    rows, slower = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for path in models:
            name = os.path.basename(os.path.dirname(path))
            fused = os.path.join(tmp, name + ".onnx")
            opt = subprocess.run([args.cli, "optimize", path, "--preset", "all-fusions", "-o", fused, "--json"],
                                 capture_output=True, text=True)
            if opt.returncode != 0:
                print(f"{name}: optimize failed: {opt.stderr.strip()}", file=sys.stderr)
                slower.append((name, "optimize failed"))
                continue
            for t in args.threads:
                cmp = subprocess.run([args.cli, "compare", path, fused, "--threads", str(t), "--runs", str(args.runs),
                                      "--json"], capture_output=True, text=True)
                if cmp.returncode not in (0, 1):
                    print(f"{name}: compare failed: {cmp.stderr.strip()}", file=sys.stderr)
                    continue
                j = json.loads(cmp.stdout)
                row = (name, t, j["a_nodes"], j["b_nodes"], j["a_ms"], j["b_ms"], j["speedup"])
                rows.append(row)
                print(f"{name:28s} T{t}  nodes {row[2]:5d} -> {row[3]:5d}  {row[4]:8.3f} -> {row[5]:8.3f} ms  "
                      f"speedup {row[6]:.2f}x", flush=True)
                if row[6] < 1.0 / (1.0 + args.tolerance):
                    slower.append((name, f"T{t} {row[6]:.2f}x"))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("| model | threads | nodes before → after | before ms | after ms | speedup |\n|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r[0]} | {r[1]} | {r[2]} → {r[3]} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.2f}x |\n")
    if slower:
        print("slower after all-fusions: " + ", ".join(f"{n} ({why})" for n, why in slower))
        return 1
    print("no model is slower after all-fusions (tolerance %.0f %%)" % (args.tolerance * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
