#include "passes/quantize/weight_quant_util.h"

#include "opstudio/util/error.h"
#include "passes/fusion/fusion_util.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace opstudio::passes::quantize {

namespace {

struct BlockParams {
    float scale = 0.f;
    int32_t zp = 0;
};

int32_t maxCode(const BlockQuantConfig& c) { return (1 << c.bits) - 1; }

int32_t encode(float v, const BlockParams& p, const BlockQuantConfig& c) {
    if (p.scale == 0.f) return p.zp;
    const float q = std::nearbyint(v / p.scale) + static_cast<float>(p.zp);
    return static_cast<int32_t>(std::clamp(q, 0.f, static_cast<float>(maxCode(c))));
}

float decode(int32_t q, const BlockParams& p) { return static_cast<float>(q - p.zp) * p.scale; }

double blockError(const float* v, int64_t len, const BlockParams& p, const BlockQuantConfig& c) {
    double e = 0;
    for (int64_t j = 0; j < len; ++j) {
        const double d = v[j] - decode(encode(v[j], p, c), p);
        e += d * d;
    }
    return e;
}

/// Scale (and zero point) of one block by the round-to-nearest rule, with the optional clip search.
/// Symmetric: the value of largest magnitude m maps to the most negative code, scale = m / -2^(bits-1)
/// (llama.cpp's Q4_0 choice: uses all 2^bits codes, the sign of m decides which end is exact).
/// Asymmetric: [min(v, 0), max(v, 0)] over the 2^bits codes, 0 exactly representable.
BlockParams chooseParams(const float* v, int64_t len, const BlockQuantConfig& c) {
    const int32_t half = 1 << (c.bits - 1);
    BlockParams best;
    best.zp = half;
    if (len == 0) return best;
    float m = 0.f, lo = 0.f, hi = 0.f;
    for (int64_t j = 0; j < len; ++j) {
        if (std::fabs(v[j]) > std::fabs(m)) m = v[j];
        lo = std::min(lo, v[j]);
        hi = std::max(hi, v[j]);
    }
    if (m == 0.f) return best;
    auto candidate = [&](float ratio) {
        BlockParams p;
        if (c.symmetric) {
            p.scale = ratio * m / static_cast<float>(-half);
            p.zp = half;
        } else {
            const float l = ratio * lo, h = ratio * hi;
            p.scale = (h - l) / static_cast<float>(maxCode(c));
            p.zp = p.scale == 0.f ? 0
                                  : static_cast<int32_t>(std::clamp(std::nearbyint(-l / p.scale), 0.f,
                                                                    static_cast<float>(maxCode(c))));
        }
        return p;
    };
    best = candidate(1.f);
    if (!c.searchClip) return best;
    double bestErr = blockError(v, len, best, c);
    for (int step = 1; step <= 8; ++step) {
        const BlockParams p = candidate(1.f - 0.025f * static_cast<float>(step));
        const double e = blockError(v, len, p, c);
        if (e < bestErr) {
            bestErr = e;
            best = p;
        }
    }
    return best;
}

void setCode(QuantizedMatrix& q, int64_t row, int64_t col, int32_t code) {
    const int64_t blk = col / q.config.blockSize, j = col % q.config.blockSize;
    uint8_t* blob = q.packed.data() + (row * q.kBlocks + blk) * q.blobSize;
    if (q.config.bits == 8) {
        blob[j] = static_cast<uint8_t>(code);
    } else {
        uint8_t& b = blob[j / 2];
        b = (j & 1) ? static_cast<uint8_t>((b & 0x0F) | (code << 4)) : static_cast<uint8_t>((b & 0xF0) | code);
    }
}

void setParams(QuantizedMatrix& q, int64_t row, int64_t blk, const BlockParams& p) {
    q.scales[static_cast<size_t>(row * q.kBlocks + blk)] = p.scale;
    if (q.config.symmetric) return;
    if (q.config.bits == 8) {
        q.zeros[static_cast<size_t>(row * q.zpPerRow + blk)] = static_cast<uint8_t>(p.zp);
    } else {
        uint8_t& b = q.zeros[static_cast<size_t>(row * q.zpPerRow + blk / 2)];
        b = (blk & 1) ? static_cast<uint8_t>((b & 0x0F) | (p.zp << 4)) : static_cast<uint8_t>((b & 0xF0) | p.zp);
    }
}

BlockParams paramsOf(const QuantizedMatrix& q, int64_t row, int64_t blk) {
    return {q.scales[static_cast<size_t>(row * q.kBlocks + blk)], q.zeroPoint(row, blk)};
}

void checkConfig(const BlockQuantConfig& c) {
    if (c.bits != 4 && c.bits != 8)
        throw Error("weight quantization: bits must be 4 or 8, got " + std::to_string(c.bits));
    if (c.blockSize < 16 || (c.blockSize & (c.blockSize - 1)) != 0)
        throw Error("weight quantization: block size must be a power of two >= 16, got " +
                    std::to_string(c.blockSize));
}

} // namespace

int32_t QuantizedMatrix::zeroPoint(int64_t row, int64_t block) const {
    if (config.symmetric) return 1 << (config.bits - 1);
    if (config.bits == 8) return zeros[static_cast<size_t>(row * zpPerRow + block)];
    const uint8_t z = zeros[static_cast<size_t>(row * zpPerRow + block / 2)];
    return (block & 1) ? (z >> 4) : (z & 0xF);
}

int32_t QuantizedMatrix::code(int64_t row, int64_t col) const {
    const int64_t blk = col / config.blockSize, j = col % config.blockSize;
    const uint8_t* blob = packed.data() + (row * kBlocks + blk) * blobSize;
    if (config.bits == 8) return blob[j];
    return (j & 1) ? (blob[j / 2] >> 4) : (blob[j / 2] & 0xF);
}

std::vector<float> QuantizedMatrix::dequantize() const {
    std::vector<float> w(static_cast<size_t>(n * k));
    for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
            w[static_cast<size_t>(r * k + c)] = decode(code(r, c), paramsOf(*this, r, c / config.blockSize));
    return w;
}

int64_t QuantizedMatrix::storageBytes() const {
    return static_cast<int64_t>(packed.size() + scales.size() * sizeof(float) + zeros.size());
}

QuantizedMatrix makeQuantizedMatrix(int64_t n, int64_t k, const BlockQuantConfig& config) {
    checkConfig(config);
    QuantizedMatrix q;
    q.n = n;
    q.k = k;
    q.config = config;
    q.kBlocks = (k + config.blockSize - 1) / config.blockSize;
    q.blobSize = config.blockSize * config.bits / 8;
    q.zpPerRow = (q.kBlocks * config.bits + 7) / 8;
    q.packed.assign(static_cast<size_t>(n * q.kBlocks * q.blobSize), 0);
    q.scales.assign(static_cast<size_t>(n * q.kBlocks), 0.f);
    if (!config.symmetric) q.zeros.assign(static_cast<size_t>(n * q.zpPerRow), 0);
    return q;
}

QuantizedMatrix quantizeRtn(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config) {
    QuantizedMatrix q = makeQuantizedMatrix(n, k, config);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t blk = 0; blk < q.kBlocks; ++blk) {
            const int64_t k0 = blk * config.blockSize, len = std::min(config.blockSize, k - k0);
            const float* v = w.data() + r * k + k0;
            const BlockParams p = chooseParams(v, len, config);
            setParams(q, r, blk, p);
            for (int64_t j = 0; j < config.blockSize; ++j)
                setCode(q, r, k0 + j, j < len ? encode(v[j], p, config) : p.zp); // padding decodes to 0
        }
    return q;
}

QuantizedMatrix quantizeGptq(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config,
                             const calibrate::GramMatrix& gram, double dampRatio) {
    if (gram.k != k)
        throw Error("GPTQ: the calibration Gram matrix has " + std::to_string(gram.k) + " features, the layer " +
                    std::to_string(k));
    QuantizedMatrix q = makeQuantizedMatrix(n, k, config);
    using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const std::vector<double> hd = calibrate::dampedHessian(gram, dampRatio);
    const MatD h = Eigen::Map<const MatD>(hd.data(), k, k);
    Eigen::LLT<MatD> llt(h);
    if (llt.info() != Eigen::Success)
        throw Error("GPTQ: the damped Hessian is not positive definite (all-zero calibration inputs?)");
    const MatD hinv = llt.solve(MatD::Identity(k, k));
    Eigen::LLT<MatD> lltInv(hinv);
    if (lltInv.info() != Eigen::Success) throw Error("GPTQ: the inverse Hessian is not positive definite");
    const MatD u = lltInv.matrixU(); // H⁻¹ = Uᵀ U
    MatD wm(n, k);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
            wm(r, c) = w[static_cast<size_t>(r * k + c)];
    std::vector<float> blockValues(static_cast<size_t>(config.blockSize));
    std::vector<BlockParams> params(static_cast<size_t>(n));
    Eigen::VectorXd err(n);
    for (int64_t c = 0; c < k; ++c) {
        const int64_t blk = c / config.blockSize;
        if (c % config.blockSize == 0) {
            const int64_t len = std::min(config.blockSize, k - c);
            for (int64_t r = 0; r < n; ++r) {
                for (int64_t j = 0; j < len; ++j)
                    blockValues[static_cast<size_t>(j)] = static_cast<float>(wm(r, c + j));
                params[static_cast<size_t>(r)] = chooseParams(blockValues.data(), len, config);
                setParams(q, r, blk, params[static_cast<size_t>(r)]);
                for (int64_t j = len; j < config.blockSize; ++j)
                    setCode(q, r, c + j, params[static_cast<size_t>(r)].zp);
            }
        }
        const double d = u(c, c);
        for (int64_t r = 0; r < n; ++r) {
            const BlockParams& p = params[static_cast<size_t>(r)];
            const int32_t code = encode(static_cast<float>(wm(r, c)), p, config);
            setCode(q, r, c, code);
            err(r) = (wm(r, c) - decode(code, p)) / d;
        }
        if (c + 1 < k) wm.rightCols(k - c - 1).noalias() -= err * u.row(c).tail(k - c - 1);
    }
    return q;
}

AwqResult quantizeAwq(const std::vector<float>& w, int64_t n, int64_t k, const BlockQuantConfig& config,
                      const calibrate::GramMatrix& gram, const std::vector<double>& featureSumSq) {
    if (static_cast<int64_t>(featureSumSq.size()) != k || gram.k != k)
        throw Error("AWQ: calibration statistics have " + std::to_string(featureSumSq.size()) +
                    " features, the layer " + std::to_string(k));
    const double rows = std::max<int64_t>(1, gram.rows);
    std::vector<double> rms(static_cast<size_t>(k));
    double meanRms = 0;
    for (int64_t j = 0; j < k; ++j) {
        rms[static_cast<size_t>(j)] = std::sqrt(featureSumSq[static_cast<size_t>(j)] / rows);
        meanRms += rms[static_cast<size_t>(j)] / static_cast<double>(k);
    }
    AwqResult best;
    bool have = false;
    std::vector<float> ws(w.size()), wq(w.size());
    for (int step = 0; step <= 10; ++step) {
        const double alpha = 0.1 * step;
        std::vector<float> s(static_cast<size_t>(k), 1.f);
        if (step > 0 && meanRms > 0)
            for (int64_t j = 0; j < k; ++j) {
                // Normalized so the scales centre on 1; dead channels keep 1.
                const double r = rms[static_cast<size_t>(j)] / meanRms;
                s[static_cast<size_t>(j)] = r > 0 ? static_cast<float>(std::pow(r, alpha)) : 1.f;
            }
        for (int64_t r = 0; r < n; ++r)
            for (int64_t j = 0; j < k; ++j)
                ws[static_cast<size_t>(r * k + j)] = w[static_cast<size_t>(r * k + j)] * s[static_cast<size_t>(j)];
        QuantizedMatrix q = quantizeRtn(ws, n, k, config);
        const std::vector<float> d = q.dequantize();
        for (int64_t r = 0; r < n; ++r)
            for (int64_t j = 0; j < k; ++j)
                wq[static_cast<size_t>(r * k + j)] = d[static_cast<size_t>(r * k + j)] / s[static_cast<size_t>(j)];
        const double e = relativeOutputError(w, wq, n, gram);
        if (!have || e < best.outputError) {
            have = true;
            best.alpha = alpha;
            best.scales = std::move(s);
            best.q = std::move(q);
            best.outputError = e;
        }
    }
    return best;
}

double relativeOutputError(const std::vector<float>& w, const std::vector<float>& wq, int64_t n,
                           const calibrate::GramMatrix& gram) {
    using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const int64_t k = gram.k;
    const MatD h = Eigen::Map<const MatD>(gram.h.data(), k, k);
    MatD a(n, k), d(n, k);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c) {
            a(r, c) = w[static_cast<size_t>(r * k + c)];
            d(r, c) = a(r, c) - wq[static_cast<size_t>(r * k + c)];
        }
    const double num = (d * h).cwiseProduct(d).sum(), den = (a * h).cwiseProduct(a).sum();
    return den > 0 ? num / den : 0.0;
}

bool inSkipList(const std::vector<std::string>& list, const ir::Node& n) {
    return std::find(list.begin(), list.end(), n.name) != list.end() ||
           std::find(list.begin(), list.end(), n.opType) != list.end();
}

std::vector<LinearLayer> linearLayers(PassContext& ctx, const std::vector<std::string>& skip, const std::string& target) {
    ir::Graph& g = *ctx.model.graph;
    g.rebuildIndex();
    std::vector<LinearLayer> out;
    for (ir::NodeId id : g.order()) {
        ir::Node& n = *g.node(id);
        if (!n.domain.empty() || (n.opType != "MatMul" && n.opType != "Gemm")) continue;
        if (inSkipList(skip, n)) {
            ctx.skip(n, "in the skip list");
            continue;
        }
        if (n.inputs.size() < 2 || n.inputs[1].empty()) continue;
        const ir::Tensor* w = fusion::constF32(g, n.inputs[1]);
        if (!w) {
            ctx.skip(n, "weight input '" + n.inputs[1] + "' is not a constant f32 tensor (activation x activation)");
            continue;
        }
        if (w->rank() != 2) {
            ctx.skip(n, "weight of rank " + std::to_string(w->rank()) + " (" + target + " takes a 2-D weight)");
            continue;
        }
        if (const ir::Value* a = g.findValue(n.inputs[0]); a && a->hasType && a->dtype != ir::DType::F32) {
            ctx.skip(n, "input is " + std::string(ir::dtypeName(a->dtype)) + "; only float inputs are quantized");
            continue;
        }
        LinearLayer c{&n};
        float alpha = 1.f;
        bool transB = false;
        if (n.opType == "Gemm") {
            if (n.attrInt("transA", 0) != 0) {
                ctx.skip(n, "Gemm with transA=1 (" + target + " reads A as stored)");
                continue;
            }
            alpha = n.attrFloat("alpha", 1.f);
            transB = n.attrInt("transB", 0) != 0;
        }
        c.k = transB ? w->dim(1) : w->dim(0);
        c.n = transB ? w->dim(0) : w->dim(1);
        if (c.k * c.n == 0) {
            ctx.skip(n, "empty weight");
            continue;
        }
        if (n.opType == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
            const ir::Tensor* cb = fusion::constF32(g, n.inputs[2]);
            if (!cb || cb->numel() != c.n || (cb->rank() == 2 && cb->dim(0) != 1)) {
                ctx.skip(n, "Gemm bias '" + n.inputs[2] + "' is not a constant per-column vector of " +
                                std::to_string(c.n));
                continue;
            }
            const float beta = n.attrFloat("beta", 1.f);
            c.bias.resize(static_cast<size_t>(c.n));
            for (int64_t j = 0; j < c.n; ++j)
                c.bias[static_cast<size_t>(j)] = beta * cb->data<float>()[j];
        }
        const float* src = w->data<float>();
        c.w.resize(static_cast<size_t>(c.n * c.k));
        for (int64_t r = 0; r < c.n; ++r)
            for (int64_t i = 0; i < c.k; ++i)
                c.w[static_cast<size_t>(r * c.k + i)] = alpha * (transB ? src[r * c.k + i] : src[i * c.n + r]);
        out.push_back(std::move(c));
    }
    return out;
}

double relativeRmse(const std::vector<float>& w, const std::vector<float>& wq) {
    double num = 0, den = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double d = static_cast<double>(w[i]) - wq[i];
        num += d * d;
        den += static_cast<double>(w[i]) * w[i];
    }
    return den > 0 ? std::sqrt(num / den) : 0.0;
}

} // namespace opstudio::passes::quantize
