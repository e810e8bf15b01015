#!/usr/bin/python3
"""Export the small, real-architecture ONNX models OpStudio's tests run on.

Every model is randomly initialised from a fixed seed (no network, no pretrained weights),
made to look trained (BatchNorm statistics calibrated on random inputs, seeded noise on norm
weights and biases so the exporter does not de-duplicate identical tensors into Identity
nodes), exported with torch.onnx, checked with the ONNX checker and shape inference, and
written with one reference input/output pair computed by torch:

    tests/data/models/<name>/model.onnx
    tests/data/models/<name>/test_data_set_0/input_<i>.pb, output_<i>.pb   (onnx.TensorProto)
    tests/data/models/<name>/meta.json

Run with Debian's Python (the pyenv `python3` on PATH lacks torch and onnx):

    /usr/bin/python3 tests/data/make_models.py            # all models into tests/data/models
                                                          # (and mobilenet_v2 into resources/models)
    /usr/bin/python3 tests/data/make_models.py --only gpt_decoder --out /tmp/models

The model-building code here is also imported by tests/bench/make_bench_models.py.
"""

import argparse
import collections
import hashlib
import io
import json
import math
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import onnx.shape_inference
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "models")
# The studio's bundled sample model is a copy of the mobilenet_v2 test model.
SAMPLE_MODEL = "mobilenet_v2"
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "models", SAMPLE_MODEL)


# ---------------------------------------------------------------------------------------------
# Making random models look trained
# ---------------------------------------------------------------------------------------------

def calibrate_batchnorm(model, input_shape, seed, batches=2, batch_size=2):
    """Replace BatchNorm running statistics (0 and 1 at init) with the statistics of random
    inputs, so activations in eval mode have realistic scales instead of exploding or vanishing."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn((batch_size,) + tuple(input_shape[1:]), generator=gen))
    model.eval()
    for bn in bns:
        bn.momentum = 0.1


def add_trained_like_noise(model, seed):
    """Seeded noise on norm weights/biases, BN statistics and all biases.

    Freshly initialised norms all hold identical ones/zeros; torch's exporter then shares one
    initializer between them and inserts Identity nodes, which no trained model has."""
    gen = torch.Generator().manual_seed(seed)

    def noise(t, scale):
        return torch.randn(t.shape, generator=gen, dtype=t.dtype) * scale

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)):
                if getattr(m, "weight", None) is not None:
                    m.weight.mul_(1.0 + noise(m.weight, 0.1))
                if getattr(m, "bias", None) is not None:
                    m.bias.add_(noise(m.bias, 0.05))
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                    m.running_mean.add_(noise(m.running_mean, 0.01))
                    m.running_var.mul_(1.0 + noise(m.running_var, 0.05).abs())
            elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.add_(noise(m.bias, 0.02))


# ---------------------------------------------------------------------------------------------
# Architectures written out by hand
# ---------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN (+ projection shortcut) + ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + identity)


class ResNetBnStack(nn.Module):
    """Stem conv-BN-ReLU, basic blocks (16,16 | 32 s2,32 | 64 s2,64), global pool, linear head."""

    def __init__(self, widths=(16, 32, 64), blocks_per_stage=2, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks_per_stage):
                layers.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention written out: Q/K/V Linear, softmax(QK^T / sqrt(d) + mask) V, output Linear."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def split_heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, S, Dh]

    def scores(self, x):
        q, k = self.split_heads(self.q(x)), self.split_heads(self.k(x))
        return torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # [B, H, S, S]

    def combine(self, probs, x):
        ctx = torch.matmul(probs, self.split_heads(self.v(x)))  # [B, H, S, Dh]
        b, h, s, dh = ctx.shape
        return self.out(ctx.transpose(1, 2).reshape(b, s, h * dh))


class CausalSelfAttention(SelfAttention):
    def __init__(self, d_model, n_heads, max_seq):
        super().__init__(d_model, n_heads)
        causal = torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool))
        self.register_buffer("causal", causal.view(1, 1, max_seq, max_seq), persistent=False)

    def forward(self, x):
        s = self.scores(x)
        seq = x.shape[1]
        # Masked positions get -1e4 through Where (as GPT-2 exports do), not -inf: keeps
        # calibration ranges finite for quantization passes.
        s = s.masked_fill(~self.causal[:, :, :seq, :seq], -1e4)
        return self.combine(torch.softmax(s, dim=-1), x)


class GptBlock(nn.Module):
    """Pre-LN decoder block: x + attn(LN(x)); x + MLP(LN(x)) with tanh-GELU."""

    def __init__(self, d_model, n_heads, max_seq):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, max_seq)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class GptDecoder(nn.Module):
    """GPT-style decoder: token Embedding (Gather) + learned positions, pre-LN blocks, final LN, LM head."""

    def __init__(self, vocab=256, d_model=64, n_heads=4, n_layers=2, max_seq=16):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Parameter(torch.randn(1, max_seq, d_model) * 0.1)
        self.blocks = nn.ModuleList(GptBlock(d_model, n_heads, max_seq) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, input_ids):
        x = self.wte(input_ids) + self.wpe[:, : input_ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))  # logits [B, S, vocab]


class BertAttention(SelfAttention):
    def forward(self, x, additive_mask):
        s = self.scores(x) + additive_mask  # additive_mask: [B, 1, 1, S], 0 or -10000
        return self.combine(torch.softmax(s, dim=-1), x)


class BertLayer(nn.Module):
    """Post-LN encoder layer: LN(x + attn(x)); LN(x + MLP(x)) with erf-GELU (nn.GELU default)."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.attn = BertAttention(d_model, n_heads)
        self.ln1 = nn.LayerNorm(d_model, eps=1e-12)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model, eps=1e-12)

    def forward(self, x, additive_mask):
        x = self.ln1(x + self.attn(x, additive_mask))
        return self.ln2(x + self.fc2(self.act(self.fc1(x))))


class BertEncoder(nn.Module):
    """BERT-style encoder: word + position embeddings, embedding LN, post-LN layers.

    Layers are written by hand: torch 1.13 cannot export nn.TransformerEncoder under no_grad."""

    def __init__(self, vocab=256, d_model=64, n_heads=4, n_layers=2, max_seq=16):
        super().__init__()
        self.word = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(max_seq, d_model)
        self.register_buffer("position_ids", torch.arange(max_seq).view(1, max_seq), persistent=False)
        self.ln_emb = nn.LayerNorm(d_model, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(d_model, n_heads) for _ in range(n_layers))

    def forward(self, input_ids, attention_mask):
        seq = input_ids.shape[1]
        x = self.word(input_ids) + self.position(self.position_ids[:, :seq])
        x = self.ln_emb(x)
        # [B, S] of 1 (attend) / 0 (padding) -> additive [B, 1, 1, S] of 0 / -10000
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, additive)
        return x  # last_hidden_state [B, S, d_model]


# ---------------------------------------------------------------------------------------------
# Export and checks
# ---------------------------------------------------------------------------------------------

def export_onnx_bytes(model, inputs, input_names, output_names, opset, preserve_training_ops=False):
    buf = io.BytesIO()
    training = torch.onnx.TrainingMode.PRESERVE if preserve_training_ops else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(inputs), buf, input_names=input_names, output_names=output_names,
                          opset_version=opset, do_constant_folding=True, training=training)
    return buf.getvalue()


def dims_of(value_info):
    t = value_info.type.tensor_type
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]


def op_counts(graph):
    return dict(sorted(collections.Counter(n.op_type for n in graph.node).items(), key=lambda kv: (-kv[1], kv[0])))


def export_case(name, model, inputs, input_names, output_names, opset, description, out_dir,
                preserve_training_ops=False, required_ops=(), forbidden_ops=("Identity",)):
    """Export `model`, check it, and write model.onnx, test_data_set_0 and meta.json under out_dir/name."""
    model.eval()
    with torch.no_grad():
        outputs = model(*inputs)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    blob = export_onnx_bytes(model, inputs, input_names, output_names, opset, preserve_training_ops)

    proto = onnx.load_from_string(blob)
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    counts = op_counts(proto.graph)
    for op in required_ops:
        if op not in counts:
            raise RuntimeError(f"{name}: expected {op} nodes in the exported graph, got {counts}")
    for op in forbidden_ops:
        if op in counts:
            raise RuntimeError(f"{name}: unexpected {op} nodes in the exported graph: {counts}")
    graph_inputs = {vi.name: vi for vi in proto.graph.input}
    graph_outputs = {vi.name: vi for vi in inferred.graph.output}
    assert [vi.name for vi in proto.graph.input] == list(input_names), [vi.name for vi in proto.graph.input]
    assert [vi.name for vi in proto.graph.output] == list(output_names)
    for n, t in zip(input_names, inputs):
        assert dims_of(graph_inputs[n]) == list(t.shape), (n, dims_of(graph_inputs[n]), t.shape)
    for n, t in zip(output_names, outputs):
        assert dims_of(graph_outputs[n]) == list(t.shape), (n, dims_of(graph_outputs[n]), t.shape)
        assert torch.isfinite(t).all(), f"{name}: non-finite reference output {n}"

    case_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(blob)
    for prefix, names, tensors in (("input", input_names, inputs), ("output", output_names, outputs)):
        for i, (n, t) in enumerate(zip(names, tensors)):
            tp = onnx.numpy_helper.from_array(t.detach().numpy(), name=n)
            with open(os.path.join(data_dir, f"{prefix}_{i}.pb"), "wb") as f:
                f.write(tp.SerializeToString())

    def io_meta(names, tensors):
        return [{"name": n, "dtype": str(t.detach().numpy().dtype), "shape": list(t.shape)}
                for n, t in zip(names, tensors)]

    meta = {
        "name": name,
        "description": description,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "onnx_version": onnx.__version__,
        "opset": opset,
        "ir_version": proto.ir_version,
        "inputs": io_meta(input_names, inputs),
        "outputs": io_meta(output_names, outputs),
        "parameters": int(sum(int(np.prod(i.dims)) for i in proto.graph.initializer)),
        "node_count": len(proto.graph.node),
        "op_types": counts,
        "model_bytes": len(blob),
        "model_sha256": hashlib.sha256(blob).hexdigest(),
        "generator": "tests/data/make_models.py",
    }
    with open(os.path.join(case_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def image_input(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def token_ids(vocab, seq, seed):
    return torch.randint(0, vocab, (1, seq), generator=torch.Generator().manual_seed(seed), dtype=torch.int64)


def make_cnn(name, ctor, input_shape, seed, num_classes):
    """Build a torchvision CNN from `ctor`, calibrated and noised, ready to export."""
    torch.manual_seed(seed)
    model = ctor(num_classes=num_classes)
    calibrate_batchnorm(model, input_shape, seed + 1)
    add_trained_like_noise(model, seed + 2)
    return model.eval()


def make_gpt(seed, vocab=256, d_model=64, n_heads=4, n_layers=2, seq=16):
    torch.manual_seed(seed)
    model = GptDecoder(vocab, d_model, n_heads, n_layers, seq)
    add_trained_like_noise(model, seed + 2)
    return model.eval()


def make_bert(seed, vocab=256, d_model=64, n_heads=4, n_layers=2, seq=16):
    torch.manual_seed(seed)
    model = BertEncoder(vocab, d_model, n_heads, n_layers, seq)
    add_trained_like_noise(model, seed + 2)
    return model.eval()


def bert_inputs(vocab, seq, seed, padding):
    ids = token_ids(vocab, seq, seed)
    mask = torch.ones(1, seq, dtype=torch.int64)
    if padding:
        mask[:, seq - padding:] = 0  # right padding, as a tokenizer writes it
    return ids, mask


# ---------------------------------------------------------------------------------------------
# The committed test models
# ---------------------------------------------------------------------------------------------

def case_mobilenet_v2(out):
    shape = (1, 3, 96, 96)
    model = make_cnn("mobilenet_v2", lambda num_classes: torchvision.models.mobilenet_v2(
        width_mult=0.35, num_classes=num_classes), shape, seed=101, num_classes=100)
    return export_case(
        "mobilenet_v2", model, [image_input(shape, 1)], ["input"], ["logits"], 13,
        "torchvision MobileNetV2, width_mult=0.35, 100 classes, 1x3x96x96, BN folded into Conv, "
        "ReLU6 as Clip, random seeded weights", out, required_ops=("Conv", "Clip", "Gemm"))


def case_squeezenet1_1(out):
    shape = (1, 3, 96, 96)
    model = make_cnn("squeezenet1_1", torchvision.models.squeezenet1_1, shape, seed=201, num_classes=100)
    return export_case(
        "squeezenet1_1", model, [image_input(shape, 2)], ["input"], ["logits"], 13,
        "torchvision SqueezeNet 1.1, 100 classes, 1x3x96x96 (Conv/Relu/MaxPool/Concat fire modules), "
        "random seeded weights", out, required_ops=("Conv", "Concat", "MaxPool"))


def case_resnet_bn_stack(out):
    shape = (1, 3, 64, 64)
    model = make_cnn("resnet_bn_stack", lambda num_classes: ResNetBnStack(num_classes=num_classes),
                     shape, seed=301, num_classes=10)
    return export_case(
        "resnet_bn_stack", model, [image_input(shape, 3)], ["input"], ["logits"], 13,
        "ResNet basic-block stack (16,16 | 32,32 | 64,64 channels), 1x3x64x64, BatchNormalization kept "
        "unfused (exported with TrainingMode.PRESERVE in eval mode), random seeded weights",
        out, preserve_training_ops=True, required_ops=("Conv", "BatchNormalization", "Add", "Relu"))


def case_gpt_decoder(out):
    vocab, seq = 256, 16
    model = make_gpt(seed=401, vocab=vocab, seq=seq)
    return export_case(
        "gpt_decoder", model, [token_ids(vocab, seq, 4)], ["input_ids"], ["logits"], 17,
        "GPT-style decoder: vocab 256, d_model 64, 4 heads, 2 pre-LN layers, seq 16, causal mask via "
        "Where, LayerNormalization (opset 17), tanh-GELU MLP, random seeded weights",
        out, required_ops=("Gather", "LayerNormalization", "Softmax", "Where", "MatMul", "Tanh"))


def case_bert_encoder(out):
    vocab, seq = 256, 16
    model = make_bert(seed=501, vocab=vocab, seq=seq)
    return export_case(
        "bert_encoder", model, list(bert_inputs(vocab, seq, 5, padding=4)), ["input_ids", "attention_mask"],
        ["last_hidden_state"], 13,
        "BERT-style encoder: vocab 256, d_model 64, 4 heads, 2 post-LN layers, seq 16, additive attention "
        "mask from an int64 [1,16] mask, LayerNorm decomposed (opset 13), erf-GELU, random seeded weights",
        out, required_ops=("Gather", "ReduceMean", "Sqrt", "Erf", "Softmax", "MatMul"))


CASES = {
    "mobilenet_v2": case_mobilenet_v2,
    "squeezenet1_1": case_squeezenet1_1,
    "resnet_bn_stack": case_resnet_bn_stack,
    "gpt_decoder": case_gpt_decoder,
    "bert_encoder": case_bert_encoder,
}


def setup_torch():
    # One thread: cheap on the shared 2-core machine, and reference outputs do not depend on
    # how a parallel reduction was split.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def summary_line(meta):
    ops = ", ".join(f"{k} {v}" for k, v in meta["op_types"].items())
    return (f"{meta['name']}: {meta['model_bytes'] / 1e6:.2f} MB, {meta['parameters']} params, "
            f"{meta['node_count']} nodes ({ops})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: tests/data/models)")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="export only these models")
    args = parser.parse_args(argv)
    setup_torch()
    for name in args.only or CASES:
        print(summary_line(CASES[name](args.out)), flush=True)
        if name == SAMPLE_MODEL and os.path.abspath(args.out) == DEFAULT_OUT:
            shutil.rmtree(SAMPLE_DIR, ignore_errors=True)
            shutil.copytree(os.path.join(args.out, name), SAMPLE_DIR)
            print(f"  copied to {os.path.relpath(SAMPLE_DIR)} (the studio's sample model)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
