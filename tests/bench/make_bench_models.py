#!/usr/bin/python3
"""Generate the benchmark models on demand (never committed: tens of MB).

Full-size torchvision CNNs at 1x3x224x224 (opset 13) and bigger GPT-style (opset 17) and
BERT-style (opset 13) transformers built from the same code as tests/data/make_models.py.
Weights are random, seeded and made to look trained the same way; each model gets one
test_data_set_0 computed by torch:

    <out>/<name>/model.onnx, <out>/<name>/test_data_set_0/{input,output}_<i>.pb, <out>/<name>/meta.json

    /usr/bin/python3 tests/bench/make_bench_models.py                  # into build/bench-models
    /usr/bin/python3 tests/bench/make_bench_models.py /tmp/bench-models --only resnet18
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "data"))

import torchvision  # noqa: E402

import make_models as mm  # noqa: E402

IMAGE = (1, 3, 224, 224)


def bench_cnn(name, ctor, seed, description):
    def build(out):
        model = mm.make_cnn(name, ctor, IMAGE, seed=seed, num_classes=1000)
        return mm.export_case(name, model, [mm.image_input(IMAGE, seed)], ["input"], ["logits"], 13,
                              description + ", 1000 classes, 1x3x224x224, random seeded weights", out)
    return build


def bench_gpt(out):
    cfg = dict(vocab=4096, d_model=384, n_heads=6, n_layers=6, seq=128)
    model = mm.make_gpt(seed=1401, **cfg)
    return mm.export_case(
        "gpt_decoder_bench", model, [mm.token_ids(cfg["vocab"], cfg["seq"], 14)], ["input_ids"], ["logits"], 17,
        "GPT-style decoder (make_models.GptDecoder): vocab 4096, d_model 384, 6 heads, 6 pre-LN layers, "
        "seq 128, opset 17 LayerNormalization, tanh-GELU, random seeded weights",
        out, required_ops=("LayerNormalization", "Softmax", "Where"))


def bench_bert(out):
    cfg = dict(vocab=4096, d_model=256, n_heads=4, n_layers=4, seq=128)
    model = mm.make_bert(seed=1501, **cfg)
    return mm.export_case(
        "bert_encoder_bench", model, list(mm.bert_inputs(cfg["vocab"], cfg["seq"], 15, padding=28)),
        ["input_ids", "attention_mask"], ["last_hidden_state"], 13,
        "BERT-style encoder (make_models.BertEncoder): vocab 4096, d_model 256, 4 heads, 4 post-LN layers, "
        "seq 128 (100 tokens + 28 padding), opset 13 decomposed LayerNorm, erf-GELU, random seeded weights",
        out, required_ops=("ReduceMean", "Erf", "Softmax"))


BENCH = {
    "resnet18": bench_cnn("resnet18", torchvision.models.resnet18, 1101, "torchvision ResNet-18"),
    "mobilenet_v2": bench_cnn("mobilenet_v2", torchvision.models.mobilenet_v2, 1201,
                              "torchvision MobileNetV2 (width 1.0)"),
    "efficientnet_b0": bench_cnn("efficientnet_b0", torchvision.models.efficientnet_b0, 1301,
                                 "torchvision EfficientNet-B0 (SiLU as Sigmoid*Mul, squeeze-excitation)"),
    "squeezenet1_1": bench_cnn("squeezenet1_1", torchvision.models.squeezenet1_1, 1001, "torchvision SqueezeNet 1.1"),
    "gpt_decoder_bench": bench_gpt,
    "bert_encoder_bench": bench_bert,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "build", "bench-models"),
                        help="output folder (default: build/bench-models)")
    parser.add_argument("--only", action="append", choices=sorted(BENCH), help="generate only these models")
    args = parser.parse_args(argv)
    mm.setup_torch()
    for name in args.only or BENCH:
        print(mm.summary_line(BENCH[name](args.out)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
