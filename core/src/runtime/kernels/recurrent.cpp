// Recurrent layers: RNN, GRU, LSTM (forward, reverse, bidirectional; sequence_lens; initial state;
// LSTM peepholes; activation lists with alpha/beta; clip; layout = 1 batch-major tensors).
//
// Per direction, the input projection of the whole sequence is one GEMM, XW = X * W^T + biases
// ([seq*batch, G*H], G gates). Each step then adds H_{t-1} * R^T (one GEMM for all batch rows) and
// applies the gate maths row by row. With sequence_lens, row b only runs while step < len_b; a
// reverse direction reads time len_b - 1 - step, so each row is gathered from its own time index.
// Finished rows keep their state (that is Y_h) and leave zeros in Y.
//
// Gate maths (ONNX spec; f, g, h the activations, (.) elementwise):
//   RNN:  H = f(Xt Wi^T + H Ri^T + Wbi + Rbi)
//   GRU:  z = f(Xt Wz^T + H Rz^T + Wbz + Rbz);  r = f(Xt Wr^T + H Rr^T + Wbr + Rbr)
//         n = g(Xt Wh^T + (r (.) H) Rh^T + Rbh + Wbh)          linear_before_reset = 0
//         n = g(Xt Wh^T + r (.) (H Rh^T + Rbh) + Wbh)          linear_before_reset = 1
//         H = (1 - z) (.) n + z (.) H
//   LSTM: i = f(Xt Wi^T + H Ri^T + Pi (.) C + Wbi + Rbi);  f_ = f(... Pf (.) C ...)  (1 - i with input_forget)
//         c = g(Xt Wc^T + H Rc^T + Wbc + Rbc);  C = f_ (.) C + i (.) c
//         o = f(Xt Wo^T + H Ro^T + Po (.) C_new + Wbo + Rbo);  H = o (.) h(C)
// clip bounds every gate pre-activation to [-clip, clip] before its activation.
#include "runtime/kernels/kernel_util.h"

#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace opstudio::rt {
namespace {

enum class Cell { Rnn, Gru, Lstm };

int gateCount(Cell c) { return c == Cell::Rnn ? 1 : (c == Cell::Gru ? 3 : 4); }
int activationCount(Cell c) { return c == Cell::Rnn ? 1 : (c == Cell::Gru ? 2 : 3); }

struct Activation {
    enum class Kind { Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu,
                      Softsign, Softplus };
    Kind kind = Kind::Tanh;
    float alpha = 0.f, beta = 0.f;

    template <typename T> T operator()(T x) const {
        const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
        switch (kind) {
        case Kind::Sigmoid: return T(1) / (T(1) + std::exp(-x));
        case Kind::Tanh: return std::tanh(x);
        case Kind::Relu: return x > T(0) ? x : T(0);
        case Kind::Affine: return a * x + b;
        case Kind::LeakyRelu: return x >= T(0) ? x : a * x;
        case Kind::ThresholdedRelu: return x >= a ? x : T(0); // the RNN spec says >= (the standalone op uses >)
        case Kind::ScaledTanh: return a * std::tanh(b * x);
        case Kind::HardSigmoid: return std::max(T(0), std::min(T(1), a * x + b));
        case Kind::Elu: return x >= T(0) ? x : a * (std::exp(x) - T(1));
        case Kind::Softsign: return x / (T(1) + std::abs(x));
        case Kind::Softplus: return std::log1p(std::exp(x));
        }
        return x;
    }
};

/// Parses `activations` (+ activation_alpha/beta, consumed in order by the functions that take them).
std::vector<Activation> parseActivations(const ir::Node& node, Cell cell, int dirs) {
    const int perDir = activationCount(cell);
    std::vector<std::string> names;
    if (const ir::Attribute* a = node.attr("activations")) names = a->strings;
    if (names.empty()) {
        if (cell == Cell::Rnn) names = {"Tanh"};
        else if (cell == Cell::Gru) names = {"Sigmoid", "Tanh"};
        else names = {"Sigmoid", "Tanh", "Tanh"};
    }
    if (static_cast<int>(names.size()) == perDir && dirs == 2) {
        const std::vector<std::string> forward = names; // the reverse direction reuses the forward list
        names.insert(names.end(), forward.begin(), forward.end());
    }
    if (static_cast<int>(names.size()) != perDir * dirs)
        kernelFail(node, "expected " + std::to_string(perDir * dirs) + " activations, got " +
                             std::to_string(names.size()));
    const std::vector<float> alphas = node.attrFloats("activation_alpha");
    const std::vector<float> betas = node.attrFloats("activation_beta");
    size_t ai = 0, bi = 0;
    std::vector<Activation> out;
    for (const std::string& raw : names) {
        std::string n = raw;
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        using K = Activation::Kind;
        Activation act;
        // (kind, uses alpha, uses beta, default alpha, default beta)
        bool useA = false, useB = false;
        if (n == "sigmoid") act.kind = K::Sigmoid;
        else if (n == "tanh") act.kind = K::Tanh;
        else if (n == "relu") act.kind = K::Relu;
        else if (n == "affine") { act.kind = K::Affine; act.alpha = 1.f; useA = useB = true; }
        else if (n == "leakyrelu") { act.kind = K::LeakyRelu; act.alpha = 0.01f; useA = true; }
        else if (n == "thresholdedrelu") { act.kind = K::ThresholdedRelu; act.alpha = 1.f; useA = true; }
        else if (n == "scaledtanh") { act.kind = K::ScaledTanh; act.alpha = 1.f; act.beta = 1.f; useA = useB = true; }
        else if (n == "hardsigmoid") { act.kind = K::HardSigmoid; act.alpha = 0.2f; act.beta = 0.5f; useA = useB = true; }
        else if (n == "elu") { act.kind = K::Elu; act.alpha = 1.f; useA = true; }
        else if (n == "softsign") act.kind = K::Softsign;
        else if (n == "softplus") act.kind = K::Softplus;
        else kernelFail(node, "unsupported activation '" + raw + "'");
        if (useA && ai < alphas.size()) act.alpha = alphas[ai++];
        if (useB && bi < betas.size()) act.beta = betas[bi++];
        out.push_back(act);
    }
    return out;
}

template <typename T> using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T> using ConstMatMap = Eigen::Map<const Mat<T>>;

template <typename T> void runRecurrentTyped(KernelContext& ctx, Cell cell) {
    const ir::Node& node = ctx.node();
    const Tensor& X = ctx.input(0);
    const Tensor& W = ctx.input(1);
    const Tensor& R = ctx.input(2);
    const int64_t layout = node.attrInt("layout", 0);
    if (layout != 0 && layout != 1) kernelFail(node, "layout must be 0 or 1");
    if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3) kernelFail(node, "X, W and R must have rank 3");
    // Every float input is read as T: a mismatched dtype would read the wrong number of bytes.
    for (size_t i : {1, 2, 3, 5, 6, 7})
        if (ctx.hasInput(i) && ctx.input(i).dtype() != X.dtype())
            kernelFail(node, "input " + std::to_string(i) + " must have the dtype of X");
    const std::string direction = node.attrString("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
        kernelFail(node, "unknown direction '" + direction + "'");
    const int dirs = direction == "bidirectional" ? 2 : 1;
    const int G = gateCount(cell);
    const int64_t seq = layout == 0 ? X.dim(0) : X.dim(1);
    const int64_t batch = layout == 0 ? X.dim(1) : X.dim(0);
    const int64_t inSize = X.dim(2);
    const int64_t H = R.dim(2);
    if (node.hasAttr("hidden_size") && node.attrInt("hidden_size", H) != H)
        kernelFail(node, "hidden_size does not match R");
    if (W.dim(0) != dirs || R.dim(0) != dirs || W.dim(1) != G * H || R.dim(1) != G * H || W.dim(2) != inSize)
        kernelFail(node, "W/R shapes do not match direction, hidden_size and input size");
    const T* B = nullptr;
    if (ctx.hasInput(3)) {
        const Tensor& b = ctx.input(3);
        if (b.numel() != dirs * 2 * G * H) kernelFail(node, "B must be [num_directions, 2*gates*hidden_size]");
        B = b.data<T>();
    }
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (ctx.hasInput(4)) {
        lens = ctx.input(4).toInt64s();
        if (static_cast<int64_t>(lens.size()) != batch) kernelFail(node, "sequence_lens must have batch_size entries");
        for (int64_t l : lens)
            if (l < 0 || l > seq) kernelFail(node, "sequence_lens value outside [0, seq_length]");
    }
    const T* initH = nullptr;
    const T* initC = nullptr;
    const T* P = nullptr;
    if (ctx.hasInput(5)) {
        if (ctx.input(5).numel() != dirs * batch * H) kernelFail(node, "initial_h has the wrong size");
        initH = ctx.input(5).data<T>();
    }
    if (cell == Cell::Lstm && ctx.hasInput(6)) {
        if (ctx.input(6).numel() != dirs * batch * H) kernelFail(node, "initial_c has the wrong size");
        initC = ctx.input(6).data<T>();
    }
    if (cell == Cell::Lstm && ctx.hasInput(7)) {
        if (ctx.input(7).numel() != dirs * 3 * H) kernelFail(node, "P must be [num_directions, 3*hidden_size]");
        P = ctx.input(7).data<T>();
    }
    const std::vector<Activation> acts = parseActivations(node, cell, dirs);
    const float clipAttr = node.attrFloat("clip", 0.f);
    const bool clip = node.hasAttr("clip") && clipAttr > 0.f;
    const T clipV = static_cast<T>(clipAttr);
    const bool linearBeforeReset = node.attrInt("linear_before_reset", 0) != 0;
    const bool inputForget = node.attrInt("input_forget", 0) != 0;

    // Output layouts: Y [seq, dirs, batch, H] or [batch, seq, dirs, H]; Y_h/Y_c [dirs, batch, H] or [batch, dirs, H].
    T* Y = nullptr;
    T* Yh = nullptr;
    T* Yc = nullptr;
    const Shape yShape = layout == 0 ? Shape{seq, dirs, batch, H} : Shape{batch, seq, dirs, H};
    const Shape stateShape = layout == 0 ? Shape{dirs, batch, H} : Shape{batch, dirs, H};
    if (ctx.outputCount() > 0 && ctx.wantsOutput(0)) {
        Tensor& y = ctx.allocate(0, X.dtype(), yShape);
        std::memset(y.raw(), 0, y.byteSize());
        Y = y.data<T>();
    }
    if (ctx.outputCount() > 1 && ctx.wantsOutput(1)) Yh = ctx.allocate(1, X.dtype(), stateShape).data<T>();
    if (cell == Cell::Lstm && ctx.outputCount() > 2 && ctx.wantsOutput(2))
        Yc = ctx.allocate(2, X.dtype(), stateShape).data<T>();
    auto yOffset = [&](int64_t t, int dir, int64_t b) {
        return layout == 0 ? ((t * dirs + dir) * batch + b) * H : ((b * seq + t) * dirs + dir) * H;
    };
    auto stateOffset = [&](int dir, int64_t b) { return layout == 0 ? (dir * batch + b) * H : (b * dirs + dir) * H; };
    auto xRow = [&](int64_t t, int64_t b) { return layout == 0 ? t * batch + b : b * seq + t; };
    auto clipped = [&](T v) { return clip ? std::max(-clipV, std::min(clipV, v)) : v; };

    const int64_t GH = G * H;
    ConstMatMap<T> xAll(X.data<T>(), seq * batch, inSize);
    for (int dir = 0; dir < dirs; ++dir) {
        const bool reverse = direction == "reverse" || dir == 1;
        ConstMatMap<T> w(W.data<T>() + dir * GH * inSize, GH, inSize);
        ConstMatMap<T> r(R.data<T>() + dir * GH * H, GH, H);
        const T* wb = B ? B + dir * 2 * GH : nullptr;
        const T* rb = B ? wb + GH : nullptr;
        const Activation* fa = &acts[dir * activationCount(cell)];

        // XW = X W^T + Wb + Rb (GRU's Rbh stays out when it must be scaled by the reset gate).
        Mat<T> xw = xAll * w.transpose();
        if (B) {
            Eigen::Matrix<T, 1, Eigen::Dynamic> bias(GH);
            for (int64_t j = 0; j < GH; ++j) {
                const bool rbInside = cell == Cell::Gru && linearBeforeReset && j >= 2 * H;
                bias[j] = wb[j] + (rbInside ? T(0) : rb[j]);
            }
            xw.rowwise() += bias;
        }

        Mat<T> h(batch, H), c(batch, H), hr(batch, GH);
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t k = 0; k < H; ++k) {
                h(b, k) = initH ? initH[stateOffset(dir, b) + k] : T(0);
                c(b, k) = initC ? initC[stateOffset(dir, b) + k] : T(0);
            }
        Mat<T> rh = Mat<T>::Zero(batch, H); // GRU: (r (.) H) or H Rh^T
        for (int64_t step = 0; step < seq; ++step) {
            // H R^T for all rows at once (GRU with linear_before_reset = 0: z and r gates only here).
            if (cell == Cell::Gru && !linearBeforeReset)
                hr.leftCols(2 * H).noalias() = h * r.topRows(2 * H).transpose();
            else
                hr.noalias() = h * r.transpose();
            if (cell == Cell::Gru && !linearBeforeReset) {
                // r (.) H first, then one GEMM with Rh.
                for (int64_t b = 0; b < batch; ++b) {
                    if (step >= lens[b]) continue;
                    const int64_t t = reverse ? lens[b] - 1 - step : step;
                    const T* gx = xw.data() + xRow(t, b) * GH;
                    for (int64_t k = 0; k < H; ++k) {
                        const T rg = fa[0](clipped(gx[H + k] + hr(b, H + k)));
                        rh(b, k) = rg * h(b, k);
                    }
                }
                hr.rightCols(H).noalias() = rh * r.bottomRows(H).transpose();
            }
            for (int64_t b = 0; b < batch; ++b) {
                if (step >= lens[b]) continue;
                const int64_t t = reverse ? lens[b] - 1 - step : step;
                const T* gx = xw.data() + xRow(t, b) * GH;
                const T* gh = hr.data() + b * GH;
                T* hb = h.data() + b * H;
                T* cb = c.data() + b * H;
                switch (cell) {
                case Cell::Rnn:
                    for (int64_t k = 0; k < H; ++k) hb[k] = fa[0](clipped(gx[k] + gh[k]));
                    break;
                case Cell::Gru:
                    for (int64_t k = 0; k < H; ++k) {
                        const T z = fa[0](clipped(gx[k] + gh[k]));
                        T nPre;
                        if (linearBeforeReset) {
                            const T rg = fa[0](clipped(gx[H + k] + gh[H + k]));
                            nPre = gx[2 * H + k] + rg * (gh[2 * H + k] + (rb ? rb[2 * H + k] : T(0)));
                        } else {
                            nPre = gx[2 * H + k] + gh[2 * H + k];
                        }
                        const T n = fa[1](clipped(nPre));
                        hb[k] = (T(1) - z) * n + z * hb[k];
                    }
                    break;
                case Cell::Lstm: {
                    const T* pi = P ? P + dir * 3 * H : nullptr;
                    const T* po = pi ? pi + H : nullptr;
                    const T* pf = pi ? pi + 2 * H : nullptr;
                    for (int64_t k = 0; k < H; ++k) {
                        const T cPrev = cb[k];
                        const T i = fa[0](clipped(gx[k] + gh[k] + (pi ? pi[k] * cPrev : T(0))));
                        const T f = inputForget ? T(1) - i
                                                : fa[0](clipped(gx[2 * H + k] + gh[2 * H + k] + (pf ? pf[k] * cPrev : T(0))));
                        const T cand = fa[1](clipped(gx[3 * H + k] + gh[3 * H + k]));
                        const T cNew = f * cPrev + i * cand;
                        const T o = fa[0](clipped(gx[H + k] + gh[H + k] + (po ? po[k] * cNew : T(0))));
                        cb[k] = cNew;
                        hb[k] = o * fa[2](cNew);
                    }
                    break;
                }
                }
                if (Y) std::memcpy(Y + yOffset(t, dir, b), hb, sizeof(T) * H);
            }
        }
        for (int64_t b = 0; b < batch; ++b) {
            if (Yh) std::memcpy(Yh + stateOffset(dir, b), h.data() + b * H, sizeof(T) * H);
            if (Yc) std::memcpy(Yc + stateOffset(dir, b), c.data() + b * H, sizeof(T) * H);
        }
    }
}

void runRecurrent(KernelContext& ctx, Cell cell) {
    switch (ctx.input(0).dtype()) {
    case DType::F32: runRecurrentTyped<float>(ctx, cell); break;
    case DType::F64: runRecurrentTyped<double>(ctx, cell); break;
    default: kernelFail(ctx.node(), "unsupported dtype " + std::string(ir::dtypeName(ctx.input(0).dtype())));
    }
}

} // namespace

void registerRecurrentKernels(KernelRegistry& r) {
    r.add({"RNN", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runRecurrent(ctx, Cell::Rnn); }, "eigen"));
    r.add({"GRU", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runRecurrent(ctx, Cell::Gru); }, "eigen"));
    r.add({"LSTM", 1, kLatestOpset, ""}, fn([](KernelContext& ctx) { runRecurrent(ctx, Cell::Lstm); }, "eigen"));
}

} // namespace opstudio::rt
