#!/usr/bin/env python3
"""OpStudio vs ONNX Runtime, same models, inputs and thread count, interleaved in one run.

  tests/bench/run_bench.py [--models DIR] [--threads 1 2] [--runs 20] [--rounds 3] [--ort-opt disabled]
                           [--markdown FILE] [--bench PATH/TO/opstudio-bench]

Models come from tests/bench/make_bench_models.py (generated on demand with Debian's python3-torch).
Each (model, threads) pair alternates rounds of OpStudio and ONNX Runtime so that machine noise hits
both; the reported latency is the median of the per-round medians. Prints the ratio OpStudio/ORT per
model and the geometric mean per thread count.
"""
import argparse, datetime, json, math, os, platform, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "build", "tests", "bench", "opstudio-bench")
ORT = os.path.join(ROOT, "tests", "interop", "ort_run.js")
MODELS = ["resnet18", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "gpt_decoder_bench", "bert_encoder_bench"]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--ort-opt", default="disabled")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--ours-models", help="folder of models OpStudio runs instead (e.g. optimized with "
                    "`opstudio-cli optimize --preset all-fusions`); ORT keeps running --models (end-to-end column)")
    ap.add_argument("--markdown")
    ap.add_argument("--bench", default=BENCH, help="opstudio-bench binary (default: build/tests/bench/opstudio-bench)")
    ap.add_argument("--baseline-env", help="NAME=VALUE: also time OpStudio with this environment variable set "
                    "(e.g. OPSTUDIO_CHANNELS_LAST=0), interleaved in the same rounds, as a before/after column")
    args = ap.parse_args()
    bench = args.bench
    base_env = None
    if args.baseline_env:
        k, v = args.baseline_env.split("=", 1)
        base_env = dict(os.environ, **{k: v})

    if not os.path.isdir(args.models):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "bench", "make_bench_models.py"), args.models],
                       check=True)
    rows = []
    for name in args.only or MODELS:
        model = os.path.join(args.models, name, "model.onnx")
        if not os.path.exists(model):
            print(f"skip {name}: {model} missing", file=sys.stderr)
            continue
        ours_model = os.path.join(args.ours_models, name, "model.onnx") if args.ours_models else model
        inputs = tempfile.mkdtemp(prefix="opstudio-bench-")
        subprocess.run([bench, model, "--write-inputs", inputs, "--seed", "1"], check=True)
        for threads in args.threads:
            ours, theirs, base = [], [], []
            per_round = max(1, args.runs // args.rounds)
            for _ in range(args.rounds):
                ours_cmd = [bench, ours_model, "--inputs", inputs, "--threads", str(threads),
                            "--runs", str(per_round), "--warmup", str(args.warmup)]
                if base_env:
                    base.append(run_json(ours_cmd, base_env)["median_ms"])
                ours.append(run_json(ours_cmd)["median_ms"])
                theirs.append(run_json(["node", ORT, "bench", model, inputs, "--threads", str(threads),
                                        "--opt", args.ort_opt, "--runs", str(per_round),
                                        "--warmup", str(args.warmup)])["median_ms"])
            a, b = sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]
            c = sorted(base)[len(base) // 2] if base else None
            rows.append((name, threads, a, b, a / b, c))
            extra = f"   baseline {c:9.3f} ms ({c / b:5.2f})" if c else ""
            print(f"{name:22s} threads={threads}  opstudio {a:9.3f} ms   ort {b:9.3f} ms   ratio {a / b:5.2f}{extra}",
                  flush=True)

    lines = [f"Date: {datetime.date.today()}  CPU: {cpu_name()}  ORT graph optimization: {args.ort_opt}"
             + (f"  OpStudio models: {args.ours_models}" if args.ours_models else ""),
             f"Median of {args.rounds} interleaved rounds x {max(1, args.runs // args.rounds)} runs after {args.warmup} warm-up runs.", "",
             "| model | threads | OpStudio ms | ONNX Runtime ms | OpStudio / ORT |"
             + (f" baseline ({args.baseline_env}) ms | baseline / ORT |" if base_env else ""),
             "|---|---|---|---|---|" + ("---|---|" if base_env else "")]
    for name, t, a, b, r, c in rows:
        lines.append(f"| {name} | {t} | {a:.3f} | {b:.3f} | {r:.2f} |" + (f" {c:.3f} | {c / b:.2f} |" if c else ""))
    for t in args.threads:
        ratios = [r for (_, tt, _, _, r, _) in rows if tt == t]
        if ratios:
            g = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            gb = ""
            if base_env:
                bs = [c / b for (_, tt, _, b, _, c) in rows if tt == t]
                gb = f" | **{math.exp(sum(math.log(x) for x in bs) / len(bs)):.2f}** |"
            lines.append(f"| **geomean** | {t} | | | **{g:.2f}** |" + gb)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
