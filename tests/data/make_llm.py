#!/usr/bin/python3
"""Train and export the LLaMA-architecture byte-level decoder OpStudio's LLM tests run on.

Architecture: byte vocabulary (256), RMSNorm (eps 1e-5), rotary embeddings (LLaMA's rotate-half,
theta 10000, cos/sin tables gathered by position_ids), grouped-query attention (8 query heads,
2 KV heads, head dim 32), SwiGLU MLP, untied LM head. Default size: d 256, 4 layers, MLP 768,
about 3.1M parameters.

Training text: the licence texts of Debian's `base-files` package (/usr/share/common-licenses/*,
regular files in sorted name order, concatenated). Every 20th 1 KiB block (5 %) is held out; the
held-out text is written to tests/data/models/<name>/heldout.txt and 64 x 128 bytes of training
text to calibration.txt. Fixed seeds; CPU only; a few minutes on one or two threads.

Export: the ONNX Runtime GenAI / Optimum layout, one graph for prefill and decode:
    input_ids i64 [batch, sequence], attention_mask i64 [batch, total_sequence],
    position_ids i64 [batch, sequence], past_key_values.N.key/value f32 [batch, 2, past_sequence, 32]
    -> logits f32 [batch, sequence, 256], present.N.key/value f32 [batch, 2, total_sequence, 32]

Reference data (torch): test_data_set_0 = prefill of 16 bytes with empty past; test_data_set_1 =
one decode step at past 16; torch_greedy.json = greedy continuation of a prompt; perplexity.json =
torch's held-out byte perplexity with the chunking documented in docs/llm.md (non-overlapping
128-byte chunks, each scored independently: 127 predictions per full chunk).

    /usr/bin/python3 tests/data/make_llm.py                    # trains + writes tests/data/models/llama_bytes
    /usr/bin/python3 tests/data/make_llm.py --random --dim 512 --layers 8 --mlp 1536 --out /tmp/llm30m
        (random weights, no training: the bigger benchmark models; not committed)
"""

import argparse
import glob
import hashlib
import json
import math
import os
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT_GLOB = "/usr/share/common-licenses/*"
CHUNK = 128


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(nn.Module):
    def __init__(self, d, heads, kv_heads, mlp):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, d // heads
        self.attn_norm = RMSNorm(d)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.v = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.mlp_norm = RMSNorm(d)
        self.gate = nn.Linear(d, mlp, bias=False)
        self.up = nn.Linear(d, mlp, bias=False)
        self.down = nn.Linear(mlp, d, bias=False)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        b, s, d = x.shape
        y = self.attn_norm(x)
        q = self.q(y).view(b, s, self.h, self.hd).transpose(1, 2)
        k = self.k(y).view(b, s, self.kvh, self.hd).transpose(1, 2)
        v = self.v(y).view(b, s, self.kvh, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat((past_k, k), dim=2)
            v = torch.cat((past_v, v), dim=2)
        present = (k, v)
        rep = self.h // self.kvh
        t = k.shape[2]
        kk = k.unsqueeze(2).expand(b, self.kvh, rep, t, self.hd).reshape(b, self.h, t, self.hd)
        vv = v.unsqueeze(2).expand(b, self.kvh, rep, t, self.hd).reshape(b, self.h, t, self.hd)
        att = torch.matmul(q, kk.transpose(2, 3)) * (1.0 / math.sqrt(self.hd)) + bias
        att = torch.softmax(att, dim=-1)
        out = torch.matmul(att, vv).transpose(1, 2).reshape(b, s, d)
        x = x + self.o(out)
        y = self.mlp_norm(x)
        x = x + self.down(F.silu(self.gate(y)) * self.up(y))
        return x, present


class Llama(nn.Module):
    def __init__(self, d=256, layers=4, heads=8, kv_heads=2, mlp=768, max_pos=2048):
        super().__init__()
        self.cfg = dict(vocab=256, dim=d, layers=layers, heads=heads, kv_heads=kv_heads, mlp=mlp, max_pos=max_pos)
        self.embed = nn.Embedding(256, d)
        self.blocks = nn.ModuleList(Block(d, heads, kv_heads, mlp) for _ in range(layers))
        self.norm = RMSNorm(d)
        self.lm_head = nn.Linear(d, 256, bias=False)
        hd = d // heads
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(max_pos).float(), inv)
        f = torch.cat((f, f), dim=-1)
        self.register_buffer("cos_table", f.cos(), persistent=False)
        self.register_buffer("sin_table", f.sin(), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        x = self.embed(input_ids)
        cos = F.embedding(position_ids, self.cos_table).unsqueeze(1)  # [b, 1, s, hd]
        sin = F.embedding(position_ids, self.sin_table).unsqueeze(1)
        # Key j is visible to query i when j <= past + i and attention_mask[j] == 1.
        s = input_ids.shape[1]
        t = attention_mask.shape[1]
        qpos = torch.arange(s, device=x.device).unsqueeze(1) + (t - s)
        kpos = torch.arange(t, device=x.device).unsqueeze(0)
        allowed = (kpos <= qpos).unsqueeze(0).unsqueeze(0) & (attention_mask.unsqueeze(1).unsqueeze(2) > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), -1e9, dtype=x.dtype))
        presents = []
        for i, blk in enumerate(self.blocks):
            pk, pv = (past[2 * i], past[2 * i + 1]) if past is not None else (None, None)
            x, pr = blk(x, cos, sin, bias, pk, pv)
            presents.extend(pr)
        return self.lm_head(self.norm(x)), presents


class Export(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.m(input_ids, attention_mask, position_ids, list(past))
        return (logits, *presents)


def load_text():
    files = sorted(p for p in glob.glob(TEXT_GLOB) if os.path.isfile(p) and not os.path.islink(p))
    data = b"".join(open(p, "rb").read() for p in files)
    blocks = [data[i:i + 1024] for i in range(0, len(data), 1024)]
    train = b"".join(b for i, b in enumerate(blocks) if i % 20 != 19)
    held = b"".join(b for i, b in enumerate(blocks) if i % 20 == 19)
    return files, train, held


def full_forward(model, ids):
    b, s = ids.shape
    mask = torch.ones_like(ids)
    pos = torch.arange(s).unsqueeze(0).expand(b, s)
    return model(ids, mask, pos)[0]


def perplexity(model, text):
    """Non-overlapping CHUNK-byte chunks, each scored on its own (predict bytes 1..n-1); a last
    chunk shorter than 2 bytes is dropped. Returns (ppl, predicted bytes, chunks)."""
    nll, count, chunks = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(text), CHUNK):
            c = text[i:i + CHUNK]
            if len(c) < 2:
                continue
            ids = torch.tensor([list(c)], dtype=torch.long)
            logits = full_forward(model, ids).double()
            nll += F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum").item()
            count += len(c) - 1
            chunks += 1
    return math.exp(nll / count), count, chunks


def train(model, data, steps, batch, seq, lr, seed):
    gen = torch.Generator().manual_seed(seed)
    arr = torch.tensor(list(data), dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    model.train()
    t0 = time.time()
    for step in range(steps):
        warm = min(1.0, (step + 1) / 50)
        cur = lr * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = max(cur, lr * 0.02)
        idx = torch.randint(0, len(arr) - seq - 1, (batch,), generator=gen)
        x = torch.stack([arr[i:i + seq + 1] for i in idx])
        logits = full_forward(model, x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    model.eval()


def tensor_pb(name, arr):
    t = onnx.numpy_helper.from_array(np.ascontiguousarray(arr))
    t.name = name
    return t.SerializeToString()


def export(model, out_dir, opset=17):
    cfg = model.cfg
    hd = cfg["dim"] // cfg["heads"]
    L = cfg["layers"]
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
           "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(L):
        for kv in ("key", "value"):
            pi, po = f"past_key_values.{i}.{kv}", f"present.{i}.{kv}"
            names_in.append(pi)
            names_out.append(po)
            dyn[pi] = {0: "batch", 2: "past_sequence"}
            dyn[po] = {0: "batch", 2: "total_sequence"}
    # Trace with a non-empty past so the Concat path is exported; the graph is shape-polymorphic.
    s, p = 3, 2
    ids = torch.randint(0, 256, (1, s))
    past = [torch.randn(1, cfg["kv_heads"], p, hd) for _ in range(2 * L)]
    mask = torch.ones(1, p + s, dtype=torch.long)
    pos = torch.arange(p, p + s).unsqueeze(0)
    path = os.path.join(out_dir, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(Export(model), (ids, mask, pos, *past), path, input_names=names_in, output_names=names_out,
                          dynamic_axes=dyn, opset_version=opset, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return names_in, names_out


def write_case(model, out_dir, idx, ids, past_len, names_in, names_out, past=None):
    cfg = model.cfg
    hd = cfg["dim"] // cfg["heads"]
    L = cfg["layers"]
    s = ids.shape[1]
    if past is None:
        past = [torch.zeros(1, cfg["kv_heads"], 0, hd) for _ in range(2 * L)]
    mask = torch.ones(1, past_len + s, dtype=torch.long)
    pos = torch.arange(past_len, past_len + s).unsqueeze(0)
    with torch.no_grad():
        logits, presents = model(ids, mask, pos, past)
    d = os.path.join(out_dir, f"test_data_set_{idx}")
    os.makedirs(d, exist_ok=True)
    ins = [ids, mask, pos] + past
    for i, (n, t) in enumerate(zip(names_in, ins)):
        open(os.path.join(d, f"input_{i}.pb"), "wb").write(tensor_pb(n, t.numpy()))
    for i, (n, t) in enumerate(zip(names_out, [logits] + presents)):
        open(os.path.join(d, f"output_{i}.pb"), "wb").write(tensor_pb(n, t.numpy()))
    return presents


def greedy(model, prompt, n):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits = full_forward(model, torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "models", "llama_bytes"))
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--mlp", type=int, default=768)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--random", action="store_true", help="random weights, no training (benchmark models)")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    model = Llama(args.dim, args.layers, args.heads, args.kv_heads, args.mlp)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters {params}")
    files, train_text, held = load_text()
    t0 = time.time()
    if not args.random:
        train(model, train_text, args.steps, args.batch, args.seq, args.lr, seed=1)
    else:
        with torch.no_grad():  # norms not all ones, so the exporter keeps separate tensors
            for m in model.modules():
                if isinstance(m, RMSNorm):
                    m.weight.add_(0.05 * torch.randn_like(m.weight))
    model.eval()
    train_s = time.time() - t0
    names_in, names_out = export(model, args.out)
    meta = {"name": os.path.basename(args.out.rstrip("/")), "config": model.cfg, "parameters": params,
            "trained": not args.random, "torch_version": torch.__version__, "onnx_version": onnx.__version__,
            "opset": 17, "inputs": names_in, "outputs": names_out}
    if not args.random:
        open(os.path.join(args.out, "heldout.txt"), "wb").write(held)
        gen = torch.Generator().manual_seed(2)
        starts = torch.randint(0, len(train_text) - CHUNK, (64,), generator=gen).tolist()
        open(os.path.join(args.out, "calibration.txt"), "wb").write(b"".join(train_text[s:s + CHUNK] for s in starts))
        prompt_ids = torch.tensor([list(b"This License applies to")[:16]])
        presents = write_case(model, args.out, 0, prompt_ids, 0, names_in, names_out)
        write_case(model, args.out, 1, torch.tensor([[ord(" ")]]), 16, names_in, names_out, past=presents)
        prompt = b"The GNU General Public License"
        toks = greedy(model, prompt, 48)
        json.dump({"prompt": prompt.decode(), "prompt_ids": list(prompt), "tokens": toks,
                   "text": bytes(toks).decode("latin-1")}, open(os.path.join(args.out, "torch_greedy.json"), "w"), indent=1)
        ppl, n, chunks = perplexity(model, held)
        ppl_cal, _, _ = perplexity(model, train_text[:len(held)])
        json.dump({"file": "heldout.txt", "chunk_bytes": CHUNK, "chunks": chunks, "predicted_bytes": n,
                   "perplexity": ppl, "train_prefix_perplexity": ppl_cal},
                  open(os.path.join(args.out, "perplexity.json"), "w"), indent=1)
        print(f"held-out perplexity {ppl:.4f} over {n} bytes in {chunks} chunks; greedy: {bytes(toks)!r}")
        meta.update({"text_source": "Debian base-files: " + TEXT_GLOB, "text_files": [os.path.basename(f) for f in files],
                     "train_bytes": len(train_text), "heldout_bytes": len(held), "train_steps": args.steps,
                     "batch": args.batch, "seq": args.seq, "lr": args.lr, "train_seconds": round(train_s),
                     "heldout_perplexity": ppl})
    meta["sha256"] = hashlib.sha256(open(os.path.join(args.out, "model.onnx"), "rb").read()).hexdigest()
    json.dump(meta, open(os.path.join(args.out, "meta.json"), "w"), indent=1)
    print(f"wrote {args.out} ({os.path.getsize(os.path.join(args.out, 'model.onnx')) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
