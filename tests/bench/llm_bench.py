#!/usr/bin/env python3
"""LLM decode: OpStudio (`opstudio-cli generate`) vs ONNX Runtime (tests/interop/ort_generate.js), the
same model file, prompt, token count and threads, interleaved round by round so machine noise hits both.

  tests/bench/llm_bench.py MODEL [MODEL ...] [--threads 1 2] [--rounds 3] [--tokens 64]
                           [--prompt TEXT] [--ort-opt all] [--markdown FILE] [--cli build/app/opstudio-cli]

Bigger models (random weights) come from tests/data/make_llm.py --random (not committed), e.g.
  /usr/bin/python3 tests/data/make_llm.py --random --dim 512 --layers 10 --mlp 1536 --out /tmp/llama_30m
  /usr/bin/python3 tests/data/make_llm.py --random --dim 1024 --layers 10 --mlp 2816 --out /tmp/llama_110m
Reported per (model, threads): prefill ms and decode tokens/s (median over rounds) for both, the ratios
(OpStudio/ORT: decode tok/s ratio > 1 and prefill ms ratio < 1 favour OpStudio), weight MB per token,
achieved GB/s and % of the probe's DRAM read bandwidth.
"""
import argparse, datetime, json, os, statistics, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "app", "opstudio-cli")
ORT = os.path.join(ROOT, "tests", "interop", "ort_generate.js")


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out[out.index("{"):])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", default="The GNU General Public License is a free, copyleft license for")
    ap.add_argument("--ort-opt", default="all")
    ap.add_argument("--cli", default=CLI)
    ap.add_argument("--env", help="NAME=VALUE for OpStudio runs (e.g. a before/after switch)")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.env:
        k, v = args.env.split("=", 1)
        env[k] = v
    rows = []
    for model in args.models:
        for t in args.threads:
            ours, ort = [], []
            for _ in range(args.rounds):
                ours.append(run_json([args.cli, "generate", model, "--prompt", args.prompt, "--tokens",
                                      str(args.tokens), "--threads", str(t), "--json"], env))
                ort.append(run_json(["node", ORT, model, "--prompt", args.prompt, "--tokens", str(args.tokens),
                                     "--threads", str(t), "--opt", args.ort_opt]))
            same = all(o["tokens"] == r["tokens"] for o, r in zip(ours, ort))
            med = lambda xs, k: statistics.median(x[k] for x in xs)
            row = {
                "model": os.path.basename(os.path.dirname(os.path.abspath(model))), "threads": t,
                "ours_prefill_ms": med(ours, "prefill_ms"), "ort_prefill_ms": med(ort, "prefill_ms"),
                "ours_tok_s": med(ours, "decode_tokens_per_second"), "ort_tok_s": med(ort, "decode_tokens_per_second"),
                "weight_mb": ours[0]["weight_bytes_per_token"] / 1e6,
                "ours_gbps": med(ours, "achieved_gbps"),
                "dram_gbps": ours[0].get("machine", {}).get("dram_gbps", 0),
                "pct_dram": med(ours, "percent_of_dram_bandwidth"), "same_tokens": same,
            }
            row["tok_s_ratio"] = row["ours_tok_s"] / row["ort_tok_s"]
            row["prefill_ratio"] = row["ours_prefill_ms"] / row["ort_prefill_ms"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [f"LLM decode, {args.tokens} tokens, prompt {len(args.prompt.encode())} bytes, ORT opt '{args.ort_opt}', "
             f"{args.rounds} interleaved rounds, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC", "",
             "| model | threads | weights MB/token | prefill ms ours / ORT | decode tok/s ours / ORT | tok/s ratio | "
             "achieved GB/s | % of DRAM read | same greedy tokens |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['threads']} | {r['weight_mb']:.1f} | {r['ours_prefill_ms']:.1f} / "
                     f"{r['ort_prefill_ms']:.1f} | {r['ours_tok_s']:.1f} / {r['ort_tok_s']:.1f} | "
                     f"{r['tok_s_ratio']:.2f} | {r['ours_gbps']:.1f} | {r['pct_dram']:.0f}% | "
                     f"{'yes' if r['same_tokens'] else 'no'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        open(args.markdown, "w").write(text)


if __name__ == "__main__":
    main()
