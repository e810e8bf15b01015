// Recurrent kernels: one-step answers computed from the spec formulas, and identities that tie the
// options together (bidirectional = forward + reverse, reverse = forward on time-reversed input,
// layout 1 = transposed layout 0, sequence_lens = running the short row alone), plus the ONNX node cases.
#include "support/onnx_case.h"
#include "support/test_util.h"

#include <cmath>
#include <filesystem>

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::attrFloat;
using testing::attrFloats;
using testing::attrInt;
using testing::attrString;
using testing::NodeSpec;
using testing::runNode;
using Shape = std::vector<int64_t>;

std::vector<Tensor> runCell(const std::string& op, const std::vector<Tensor>& inputs, std::vector<ir::Attribute> attrs,
                            int64_t opset = 17) {
    NodeSpec spec;
    spec.opType = op;
    spec.opset = opset;
    spec.attributes = std::move(attrs);
    spec.outputs = op == "LSTM" ? 3 : 2;
    return runNode(spec, inputs, false, 1);
}

ir::Attribute attrStrings(const std::string& name, std::vector<std::string> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Strings;
    a.strings = std::move(v);
    return a;
}

/// Elements [.., begin:end, ..] along `axis` (rank kept).
Tensor slice(const Tensor& t, int axis, int64_t begin, int64_t end) {
    Shape s = t.shape();
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (int d = axis + 1; d < t.rank(); ++d) inner *= s[d];
    const int64_t n = s[axis];
    s[axis] = end - begin;
    Tensor out(t.dtype(), s);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = begin; k < end; ++k)
            for (int64_t i = 0; i < inner; ++i)
                out.data<float>()[(o * (end - begin) + k - begin) * inner + i] = t.data<float>()[(o * n + k) * inner + i];
    return out;
}

/// Reverses `axis`.
Tensor flip(const Tensor& t, int axis) {
    Tensor out = t.clone();
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= t.dim(d);
    for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
    const int64_t n = t.dim(axis);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
            for (int64_t i = 0; i < inner; ++i)
                out.data<float>()[(o * n + k) * inner + i] = t.data<float>()[(o * n + n - 1 - k) * inner + i];
    return out;
}

/// Swaps the first two axes.
Tensor swap01(const Tensor& t) {
    Shape s = t.shape();
    std::swap(s[0], s[1]);
    Tensor out(t.dtype(), s);
    const int64_t a = t.dim(0), b = t.dim(1), inner = t.numel() / std::max<int64_t>(1, a * b);
    for (int64_t i = 0; i < a; ++i)
        for (int64_t j = 0; j < b; ++j)
            for (int64_t k = 0; k < inner; ++k)
                out.data<float>()[(j * a + i) * inner + k] = t.data<float>()[(i * b + j) * inner + k];
    return out;
}

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

TEST(Rnn, TwoStepsByHand) {
    const Tensor x = Tensor::fromVector<float>({2, 1, 1}, {0.5f, 0.5f});
    const Tensor w = Tensor::fromVector<float>({1, 1, 1}, {1.f});
    const Tensor r = Tensor::fromVector<float>({1, 1, 1}, {1.f});
    const auto out = runCell("RNN", {x, w, r}, {attrInt("hidden_size", 1)});
    const float h1 = std::tanh(0.5f), h2 = std::tanh(0.5f + h1);
    ASSERT_EQ(out[0].shape(), (Shape{2, 1, 1, 1}));
    EXPECT_NEAR(out[0].data<float>()[0], h1, 1e-6);
    EXPECT_NEAR(out[0].data<float>()[1], h2, 1e-6);
    EXPECT_NEAR(out[1].data<float>()[0], h2, 1e-6);
}

TEST(Gru, OneStepByHandBothResetModes) {
    // H = 1, I = 1: gates z, r, h with scalar weights.
    const float wz = 0.3f, wr = -0.2f, wh = 0.7f, rz = 0.1f, rr = 0.4f, rh = -0.6f;
    const float bwz = 0.05f, bwr = -0.1f, bwh = 0.2f, brz = 0.15f, brr = 0.02f, brh = -0.3f;
    const float x0 = 0.8f, h0 = 0.5f;
    const Tensor x = Tensor::fromVector<float>({1, 1, 1}, {x0});
    const Tensor w = Tensor::fromVector<float>({1, 3, 1}, {wz, wr, wh});
    const Tensor r = Tensor::fromVector<float>({1, 3, 1}, {rz, rr, rh});
    const Tensor b = Tensor::fromVector<float>({1, 6}, {bwz, bwr, bwh, brz, brr, brh});
    const Tensor h = Tensor::fromVector<float>({1, 1, 1}, {h0});
    const float z = sigmoid(x0 * wz + h0 * rz + bwz + brz);
    const float rg = sigmoid(x0 * wr + h0 * rr + bwr + brr);
    for (int lbr : {0, 1}) {
        const float n = lbr ? std::tanh(x0 * wh + rg * (h0 * rh + brh) + bwh) : std::tanh(x0 * wh + (rg * h0) * rh + brh + bwh);
        const float expected = (1 - z) * n + z * h0;
        const auto out = runCell("GRU", {x, w, r, b, Tensor(), h}, {attrInt("hidden_size", 1), attrInt("linear_before_reset", lbr)});
        EXPECT_NEAR(out[1].data<float>()[0], expected, 1e-6) << "linear_before_reset=" << lbr;
    }
}

TEST(Lstm, OneStepByHandWithPeepholes) {
    const float x0 = 0.6f, h0 = -0.4f, c0 = 0.9f;
    // Gate order i, o, f, c; peepholes i, o, f.
    const std::vector<float> wv = {0.2f, -0.5f, 0.4f, 0.3f}, rv = {0.1f, 0.2f, -0.3f, 0.6f};
    const std::vector<float> bv = {0.1f, 0.f, -0.1f, 0.2f, 0.05f, 0.05f, 0.05f, 0.05f};
    const std::vector<float> pv = {0.3f, -0.2f, 0.5f};
    const Tensor x = Tensor::fromVector<float>({1, 1, 1}, {x0});
    const auto pre = [&](int g) { return x0 * wv[g] + h0 * rv[g] + bv[g] + bv[4 + g]; };
    const float i = sigmoid(pre(0) + pv[0] * c0);
    const float f = sigmoid(pre(2) + pv[2] * c0);
    const float c = f * c0 + i * std::tanh(pre(3));
    const float o = sigmoid(pre(1) + pv[1] * c);
    const float hNew = o * std::tanh(c);
    const auto out = runCell("LSTM",
                             {x, Tensor::fromVector<float>({1, 4, 1}, wv), Tensor::fromVector<float>({1, 4, 1}, rv),
                              Tensor::fromVector<float>({1, 8}, bv), Tensor(), Tensor::fromVector<float>({1, 1, 1}, {h0}),
                              Tensor::fromVector<float>({1, 1, 1}, {c0}), Tensor::fromVector<float>({1, 3}, pv)},
                             {attrInt("hidden_size", 1)});
    EXPECT_NEAR(out[0].data<float>()[0], hNew, 1e-6);
    EXPECT_NEAR(out[1].data<float>()[0], hNew, 1e-6);
    EXPECT_NEAR(out[2].data<float>()[0], c, 1e-6);

    // input_forget couples the gates: f = 1 - i (no peepholes here).
    const float i2 = sigmoid(pre(0)), c2 = (1 - i2) * c0 + i2 * std::tanh(pre(3));
    const auto coupled = runCell("LSTM",
                                 {x, Tensor::fromVector<float>({1, 4, 1}, wv), Tensor::fromVector<float>({1, 4, 1}, rv),
                                  Tensor::fromVector<float>({1, 8}, bv), Tensor(),
                                  Tensor::fromVector<float>({1, 1, 1}, {h0}), Tensor::fromVector<float>({1, 1, 1}, {c0})},
                                 {attrInt("input_forget", 1)});
    EXPECT_NEAR(coupled[2].data<float>()[0], c2, 1e-6);
    EXPECT_NEAR(coupled[1].data<float>()[0], sigmoid(pre(1)) * std::tanh(c2), 1e-6);
}

struct CellInputs {
    Tensor x, w, r, b, h, c, p;
};

CellInputs randomInputs(const std::string& op, int64_t seq, int64_t batch, int64_t in, int64_t hidden, int dirs,
                        uint64_t seed) {
    const int64_t gates = op == "LSTM" ? 4 : (op == "GRU" ? 3 : 1);
    CellInputs c;
    c.x = testing::randomTensor(DType::F32, {seq, batch, in}, seed);
    c.w = testing::randomTensor(DType::F32, {dirs, gates * hidden, in}, seed + 1, -0.5, 0.5);
    c.r = testing::randomTensor(DType::F32, {dirs, gates * hidden, hidden}, seed + 2, -0.5, 0.5);
    c.b = testing::randomTensor(DType::F32, {dirs, 2 * gates * hidden}, seed + 3, -0.5, 0.5);
    c.h = testing::randomTensor(DType::F32, {dirs, batch, hidden}, seed + 4);
    c.c = testing::randomTensor(DType::F32, {dirs, batch, hidden}, seed + 5);
    c.p = testing::randomTensor(DType::F32, {dirs, 3 * hidden}, seed + 6, -0.5, 0.5);
    return c;
}

std::vector<Tensor> runInputs(const std::string& op, const CellInputs& c, const Tensor& lens,
                              std::vector<ir::Attribute> attrs) {
    std::vector<Tensor> in = {c.x, c.w, c.r, c.b, lens, c.h};
    if (op == "LSTM") {
        in.push_back(c.c);
        in.push_back(c.p);
    }
    return runCell(op, in, std::move(attrs));
}

CellInputs direction(const CellInputs& c, int64_t d) {
    return {c.x, slice(c.w, 0, d, d + 1), slice(c.r, 0, d, d + 1), slice(c.b, 0, d, d + 1),
            slice(c.h, 0, d, d + 1), slice(c.c, 0, d, d + 1), slice(c.p, 0, d, d + 1)};
}

TEST(Recurrent, BidirectionalIsForwardPlusReverse) {
    for (const std::string op : {"RNN", "GRU", "LSTM"}) {
        SCOPED_TRACE(op);
        const CellInputs c = randomInputs(op, 7, 3, 5, 4, 2, 31);
        const auto bi = runInputs(op, c, Tensor(), {attrString("direction", "bidirectional")});
        const auto fw = runInputs(op, direction(c, 0), Tensor(), {attrString("direction", "forward")});
        const auto rv = runInputs(op, direction(c, 1), Tensor(), {attrString("direction", "reverse")});
        ASSERT_EQ(bi[0].shape(), (Shape{7, 2, 3, 4}));
        EXPECT_TRUE(testing::allClose(slice(bi[0], 1, 0, 1), fw[0], 1e-5));
        EXPECT_TRUE(testing::allClose(slice(bi[0], 1, 1, 2), rv[0], 1e-5));
        EXPECT_TRUE(testing::allClose(slice(bi[1], 0, 0, 1), fw[1], 1e-5));
        EXPECT_TRUE(testing::allClose(slice(bi[1], 0, 1, 2), rv[1], 1e-5));
    }
}

TEST(Recurrent, ReverseIsForwardOnFlippedTime) {
    for (const std::string op : {"RNN", "GRU", "LSTM"}) {
        SCOPED_TRACE(op);
        CellInputs c = randomInputs(op, 13, 2, 3, 5, 1, 41);
        const auto rv = runInputs(op, c, Tensor(), {attrString("direction", "reverse")});
        c.x = flip(c.x, 0);
        const auto fw = runInputs(op, c, Tensor(), {});
        EXPECT_TRUE(testing::allClose(rv[0], flip(fw[0], 0), 1e-5));
        EXPECT_TRUE(testing::allClose(rv[1], fw[1], 1e-5));
    }
}

TEST(Recurrent, BatchMajorLayoutMatchesTimeMajor) {
    for (const std::string op : {"RNN", "GRU", "LSTM"}) {
        SCOPED_TRACE(op);
        const CellInputs c = randomInputs(op, 5, 3, 4, 2, 2, 51);
        const auto t = runInputs(op, c, Tensor(), {attrString("direction", "bidirectional")});
        CellInputs b = c;
        b.x = swap01(c.x);
        b.h = swap01(c.h);
        b.c = swap01(c.c);
        const auto bm = runInputs(op, b, Tensor(), {attrString("direction", "bidirectional"), attrInt("layout", 1)});
        // Y: [seq, dirs, batch, H] vs [batch, seq, dirs, H].
        for (int64_t s = 0; s < 5; ++s)
            for (int64_t d = 0; d < 2; ++d)
                for (int64_t n = 0; n < 3; ++n)
                    for (int64_t k = 0; k < 2; ++k)
                        EXPECT_NEAR(bm[0].data<float>()[((n * 5 + s) * 2 + d) * 2 + k],
                                    t[0].data<float>()[((s * 2 + d) * 3 + n) * 2 + k], 1e-5);
        EXPECT_TRUE(testing::allClose(bm[1], swap01(t[1]), 1e-5));
        if (op == "LSTM") {
            EXPECT_TRUE(testing::allClose(bm[2], swap01(t[2]), 1e-5));
        }
    }
}

TEST(Recurrent, SequenceLensMatchRunningTheShortRowAlone) {
    for (const std::string op : {"RNN", "GRU", "LSTM"}) {
        SCOPED_TRACE(op);
        const CellInputs c = randomInputs(op, 4, 2, 3, 3, 2, 61);
        const Tensor lens = Tensor::fromVector<int32_t>({2}, {4, 2});
        const auto all = runInputs(op, c, lens, {attrString("direction", "bidirectional")});
        // Row 1 alone, first two time steps only.
        CellInputs row = c;
        row.x = slice(slice(c.x, 1, 1, 2), 0, 0, 2);
        row.h = slice(c.h, 1, 1, 2);
        row.c = slice(c.c, 1, 1, 2);
        const auto alone = runInputs(op, row, Tensor(), {attrString("direction", "bidirectional")});
        const Tensor y1 = slice(all[0], 2, 1, 2);
        EXPECT_TRUE(testing::allClose(slice(y1, 0, 0, 2), alone[0], 1e-5));
        const Tensor padding = slice(y1, 0, 2, 4);
        for (float v : padding.span<float>()) EXPECT_EQ(v, 0.f); // steps past the length stay zero
        EXPECT_TRUE(testing::allClose(slice(all[1], 1, 1, 2), alone[1], 1e-5));
        // Row 0 (full length) is unaffected by row 1's length.
        CellInputs row0 = c;
        row0.x = slice(c.x, 1, 0, 1);
        row0.h = slice(c.h, 1, 0, 1);
        row0.c = slice(c.c, 1, 0, 1);
        const auto full = runInputs(op, row0, Tensor(), {attrString("direction", "bidirectional")});
        EXPECT_TRUE(testing::allClose(slice(all[0], 2, 0, 1), full[0], 1e-5));
    }
}

TEST(Recurrent, ActivationsWithAlphaBetaAndClip) {
    const Tensor x = Tensor::fromVector<float>({1, 1, 1}, {0.5f});
    const Tensor w = Tensor::fromVector<float>({1, 1, 1}, {1.f});
    const Tensor r = Tensor::fromVector<float>({1, 1, 1}, {0.f});
    // HardSigmoid(alpha 0.5, beta 0.25): 0.5 * 0.5 + 0.25.
    auto out = runCell("RNN", {x, w, r},
                       {attrStrings("activations", {"HardSigmoid"}), attrFloats("activation_alpha", {0.5f}),
                        attrFloats("activation_beta", {0.25f})});
    EXPECT_NEAR(out[1].data<float>()[0], 0.5f, 1e-6);
    // Relu after clip to [-0.2, 0.2].
    out = runCell("RNN", {Tensor::fromVector<float>({1, 1, 1}, {3.f}), w, r},
                  {attrStrings("activations", {"Relu"}), attrFloat("clip", 0.2f)});
    EXPECT_NEAR(out[1].data<float>()[0], 0.2f, 1e-6);
    // LeakyRelu takes the first alpha, Affine the next alpha and the first beta.
    const Tensor x2 = Tensor::fromVector<float>({1, 1, 1}, {-2.f});
    const Tensor w2 = Tensor::fromVector<float>({2, 1, 1}, {1.f, 1.f});
    const Tensor r2 = Tensor::fromVector<float>({2, 1, 1}, {0.f, 0.f});
    out = runCell("RNN", {x2, w2, r2},
                  {attrString("direction", "bidirectional"), attrStrings("activations", {"LeakyRelu", "Affine"}),
                   attrFloats("activation_alpha", {0.1f, 3.f}), attrFloats("activation_beta", {1.f})});
    EXPECT_NEAR(out[1].data<float>()[0], -0.2f, 1e-6);
    EXPECT_NEAR(out[1].data<float>()[1], -5.f, 1e-6);
}

TEST(Recurrent, BadInputsFailCleanly) {
    const CellInputs c = randomInputs("LSTM", 2, 1, 3, 2, 1, 71);
    EXPECT_THROW(runCell("LSTM", {c.x, c.w, slice(c.r, 1, 0, 4)}, {}), Error);
    EXPECT_THROW(runCell("LSTM", {c.x, c.w, c.r}, {attrString("direction", "sideways")}), Error);
    EXPECT_THROW(runCell("LSTM", {c.x, c.w, c.r}, {attrStrings("activations", {"Sigmoid", "Gelu", "Tanh"})}), Error);
    EXPECT_THROW(runCell("LSTM", {c.x, c.w, c.r, Tensor(), Tensor::fromVector<int32_t>({1}, {5})}, {}), Error);
}

TEST(Recurrent, OnnxNodeCasesPass) {
    const std::string root = std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/node";
    int ran = 0;
    for (const auto& dir : testing::listCaseDirs(root)) {
        const std::string name = std::filesystem::path(dir).filename().string();
        const bool mine = name.rfind("test_lstm", 0) == 0 || name.rfind("test_gru", 0) == 0 ||
                          name.rfind("test_rnn", 0) == 0 || name.rfind("test_simple_rnn", 0) == 0;
        if (!mine) continue;
        const auto r = testing::runOnnxCase(dir, {});
        EXPECT_EQ(r.outcome, testing::CaseOutcome::Passed) << name << ": " << r.message;
        ++ran;
    }
    EXPECT_EQ(ran, 12);
}

} // namespace
} // namespace opstudio
