#!/usr/bin/python3
"""Export the self-attention variants that `fuse-attention` must recognize (or skip with a precise reason).

One small block each (d_model 32, 4 heads of 8, batch 1, sequence 8), random seeded weights, exported by
torch.onnx exactly as a user's export would come out (no hand-written graphs), with one reference I/O pair:

    attn_fused_qkv_split   one Linear d->3d, q/k/v by torch.split (ONNX Split), causal mask by masked_fill
                           of a triangular buffer (Where), opset 17
    attn_fused_qkv_slice   one Linear d->3d, q/k/v by slicing (ONNX Slice), causal mask added as a triangular
                           0/-1e4 constant (Add), opset 13
    attn_fused_qkv_nomask  one Linear d->3d, q/k/v by chunk (ONNX Split), no mask, scale by Mul, opset 13
    attn_mha               torch.nn.MultiheadAttention (batch_first, packed in_proj), no mask, opset 17
    attn_mha_causal        torch.nn.MultiheadAttention with a float causal attn_mask, opset 13
    attn_gqa               grouped-query attention: 4 query heads, 2 K/V heads repeated by repeat_interleave,
                           opset 17 (com.microsoft Attention needs equal head counts: skipped with the reason)

Separate Q/K/V projections are covered by gpt_decoder (opset 17, Where mask) and bert_encoder (opset 13,
additive padding mask).

    /usr/bin/python3 tests/data/make_attention_models.py [--out DIR]
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models  # noqa: E402

D, H, S = 32, 4, 8


class FusedQkv(nn.Module):
    def __init__(self, split="split", mask="where", scale="div"):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.split, self.mask, self.scale = split, mask, scale
        self.register_buffer("tril", torch.tril(torch.ones(S, S, dtype=torch.bool)).view(1, 1, S, S))
        self.register_buffer("causal_add", torch.triu(torch.full((S, S), -1e4), diagonal=1))

    def heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, H, D // H).transpose(1, 2)

    def forward(self, x):
        qkv = self.qkv(x)
        if self.split == "split":
            q, k, v = qkv.split(D, dim=-1)
        elif self.split == "slice":
            q, k, v = qkv[:, :, :D], qkv[:, :, D:2 * D], qkv[:, :, 2 * D:]
        else:
            q, k, v = qkv.chunk(3, dim=-1)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        if self.scale == "div":
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
        if self.mask == "where":
            att = att.masked_fill(~self.tril, -1e4)
        elif self.mask == "add":
            att = att + self.causal_add
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(x.shape[0], S, D)
        return self.proj(y)


class Mha(nn.Module):
    def __init__(self, causal):
        super().__init__()
        self.mha = nn.MultiheadAttention(D, H, batch_first=True)
        self.causal = causal
        self.register_buffer("mask", torch.triu(torch.full((S, S), -1e4), diagonal=1))

    def forward(self, x):
        y, _ = self.mha(x, x, x, need_weights=False, attn_mask=self.mask if self.causal else None)
        return y


class Gqa(nn.Module):
    def __init__(self, kv_heads=2):
        super().__init__()
        self.kv = kv_heads
        hd = D // H
        self.q = nn.Linear(D, D, bias=False)
        self.k = nn.Linear(D, kv_heads * hd, bias=False)
        self.v = nn.Linear(D, kv_heads * hd, bias=False)
        self.o = nn.Linear(D, D, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(S, S, dtype=torch.bool)).view(1, 1, S, S))

    def forward(self, x):
        b, s, _ = x.shape
        hd = D // H
        q = self.q(x).view(b, s, H, hd).transpose(1, 2)
        k = self.k(x).view(b, s, self.kv, hd).transpose(1, 2).repeat_interleave(H // self.kv, dim=1)
        v = self.v(x).view(b, s, self.kv, hd).transpose(1, 2).repeat_interleave(H // self.kv, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.masked_fill(~self.tril, -1e4).softmax(dim=-1)
        return self.o((att @ v).transpose(1, 2).reshape(b, s, D))


CASES = {
    "attn_fused_qkv_split": (lambda: FusedQkv("split", "where", "div"), 17,
                             "one Linear d->3d, torch.split -> Split, causal masked_fill -> Where, opset 17"),
    "attn_fused_qkv_slice": (lambda: FusedQkv("slice", "add", "div"), 13,
                             "one Linear d->3d, slicing -> Slice, causal triangular constant added, opset 13"),
    "attn_fused_qkv_nomask": (lambda: FusedQkv("chunk", "none", "mul"), 13,
                              "one Linear d->3d, chunk -> Split, no mask, scale by Mul, opset 13"),
    "attn_mha": (lambda: Mha(False), 17, "torch.nn.MultiheadAttention(batch_first), no mask, opset 17"),
    "attn_mha_causal": (lambda: Mha(True), 13, "torch.nn.MultiheadAttention with float causal attn_mask, opset 13"),
    "attn_gqa": (lambda: Gqa(2), 17, "grouped-query attention 4 query / 2 K-V heads (repeat_interleave), opset 17"),
}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=make_models.DEFAULT_OUT)
    ap.add_argument("--only", default=None)
    args = ap.parse_args(argv)
    make_models.setup_torch()
    for i, (name, (ctor, opset, desc)) in enumerate(CASES.items()):
        if args.only and name != args.only:
            continue
        torch.manual_seed(100 + i)
        model = ctor()
        make_models.add_trained_like_noise(model, 200 + i)
        x = torch.randn(1, S, D, generator=torch.Generator().manual_seed(300 + i))
        meta = make_models.export_case(name, model, [x], ["x"], ["y"], opset, desc, args.out)
        meta["generator"] = "tests/data/make_attention_models.py"
        print(name, meta["node_count"], "nodes", meta["op_types"])


if __name__ == "__main__":
    main()
