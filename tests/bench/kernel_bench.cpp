// Kernel benchmark: GFLOP/s of the Conv/MatMul/Gemm fast paths (oneDNN) against the reference
// loops, at 1 and 2 threads, on shapes from real models. Prints a table; not a test (timings
// are never asserted). Usage: opstudio_kernel_bench [--quick]
#include "support/test_util.h"

#include "opstudio/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

// NodeSpec literals leave trailing fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace opstudio;
namespace ot = opstudio::testing;
using ir::DType;
using ir::Tensor;

namespace {

struct BenchCase {
    std::string name;
    ot::NodeSpec spec;
    std::vector<Tensor> inputs;
    double flops;
};

/// Median seconds per run over `runs` runs after one warm-up (which also builds oneDNN primitives).
double timeRun(const BenchCase& c, bool reference, int threads, int runs) {
    auto model = std::make_shared<ir::Model>(ot::makeNodeModel(c.spec, c.inputs));
    rt::SessionOptions options;
    options.threads = threads;
    options.reference = reference;
    auto session = rt::Session::create(model, options);
    if (!session) {
        std::fprintf(stderr, "%s: %s\n", c.name.c_str(), session.error().describe().c_str());
        return -1;
    }
    std::map<std::string, Tensor> feeds;
    for (const auto& name : model->graph->inputs)
        feeds[name] = c.inputs[std::stoul(name.substr(2))];
    (void)session.value()->run(feeds);
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = session.value()->run(feeds);
        const auto t1 = std::chrono::steady_clock::now();
        if (!r) {
            std::fprintf(stderr, "%s: %s\n", c.name.c_str(), r.error().describe().c_str());
            return -1;
        }
        times.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

BenchCase matmul(const std::string& name, int64_t m, int64_t k, int64_t n) {
    return {name,
            {"MatMul", "", 13, {}, 1, {false, true}},
            {ot::randomTensor(DType::F32, {m, k}, 1), ot::randomTensor(DType::F32, {k, n}, 2)},
            2.0 * m * n * k};
}

BenchCase gemm(const std::string& name, int64_t m, int64_t k, int64_t n) {
    return {name,
            {"Gemm", "", 13, {ot::attrInt("transB", 1)}, 1, {false, true, true}},
            {ot::randomTensor(DType::F32, {m, k}, 1), ot::randomTensor(DType::F32, {n, k}, 2),
             ot::randomTensor(DType::F32, {n}, 3)},
            2.0 * m * n * k};
}

BenchCase conv(const std::string& name, int64_t c, int64_t hw, int64_t m, int64_t k, int64_t stride,
               int64_t group) {
    const int64_t pad = k / 2, out = (hw + 2 * pad - k) / stride + 1;
    return {name,
            {"Conv",
             "",
             13,
             {ot::attrInts("pads", {pad, pad, pad, pad}), ot::attrInts("strides", {stride, stride}),
              ot::attrInt("group", group)},
             1,
             {false, true, true}},
            {ot::randomTensor(DType::F32, {1, c, hw, hw}, 1),
             ot::randomTensor(DType::F32, {m, c / group, k, k}, 2), ot::randomTensor(DType::F32, {m}, 3)},
            2.0 * m * (c / group) * k * k * out * out};
}

} // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int runs = quick ? 3 : 20;
    std::vector<BenchCase> cases = {
        matmul("MatMul 128x768 * 768x768 (BERT proj)", 128, 768, 768),
        matmul("MatMul 512x512 * 512x512", 512, 512, 512),
        matmul("MatMul 127x127 * 127x127", 127, 127, 127),
        matmul("MatMul 1x768 * 768x3072 (decode GEMV)", 1, 768, 3072),
        gemm("Gemm 64x1024 * (1000x1024)^T + b (classifier)", 64, 1024, 1000),
        conv("Conv 64->64 3x3 56x56", 64, 56, 64, 3, 1, 1),
        conv("Conv 256->64 1x1 56x56", 256, 56, 64, 1, 1, 1),
        conv("Conv 3->32 3x3 s2 224x224 (stem)", 3, 224, 32, 3, 2, 1),
        conv("Conv dw 144 3x3 56x56", 144, 56, 144, 3, 1, 144),
    };
    std::printf("%-48s %12s %12s %12s %12s\n", "case", "ref 1t", "fast 1t", "fast 2t", "fast/ref");
    for (const auto& c : cases) {
        const double ref = timeRun(c, true, 1, quick ? 1 : 2);
        const double f1 = timeRun(c, false, 1, runs);
        const double f2 = timeRun(c, false, 2, runs);
        auto gf = [&](double t) { return t > 0 ? c.flops / t * 1e-9 : 0.0; };
        std::printf("%-48s %8.2f GF/s %8.2f GF/s %8.2f GF/s %10.1fx\n", c.name.c_str(), gf(ref), gf(f1),
                    gf(f2), ref > 0 && f1 > 0 ? ref / f1 : 0.0);
    }
    return 0;
}
