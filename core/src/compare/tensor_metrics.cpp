// Accuracy metrics between a reference tensor `a` and a candidate `b` of the same shape.
#include "opstudio/compare/compare.h"

#include "opstudio/ir/half.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace opstudio::compare {

namespace {

bool isNumeric(ir::DType t) {
    return t != ir::DType::Undefined && t != ir::DType::String && t != ir::DType::C64 && t != ir::DType::C128;
}

void checkComparable(const std::string& name, const ir::Tensor& a, const ir::Tensor& b) {
    if (a.shape() != b.shape())
        throw Error("output '" + name + "' has shape " + ir::shapeToString(a.shape()) + " in model A but " +
                    ir::shapeToString(b.shape()) + " in model B");
    if (!isNumeric(a.dtype()) || !isNumeric(b.dtype()))
        throw Error("output '" + name + "' has a non-numeric dtype (" +
                    std::string(ir::dtypeName(a.dtype())) + " / " + std::string(ir::dtypeName(b.dtype())) +
                    "); only numeric tensors can be compared");
}

/// Elements as doubles without copying fp32 data (the common case, and intermediates can be large).
class DoubleView {
public:
    explicit DoubleView(const ir::Tensor& t) {
        if (t.dtype() == ir::DType::F32)
            m_f32 = t.data<float>();
        else
            m_values = t.toDoubles();
    }
    double operator[](int64_t i) const {
        return m_f32 ? static_cast<double>(m_f32[i]) : m_values[static_cast<size_t>(i)];
    }

private:
    const float* m_f32 = nullptr;
    std::vector<double> m_values;
};

/// Indices of the k largest entries of one row (ties: lower index first).
std::vector<int64_t> topK(const DoubleView& v, int64_t offset, int64_t stride, int64_t count, int64_t k) {
    std::vector<int64_t> idx(static_cast<size_t>(count));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t x, int64_t y) {
        const double vx = v[offset + x * stride], vy = v[offset + y * stride];
        return vx > vy || (vx == vy && x < y);
    });
    idx.resize(static_cast<size_t>(k));
    return idx;
}

} // namespace

AbsErrors absErrors(const ir::Tensor& a, const ir::Tensor& b) {
    checkComparable("value", a, b);
    AbsErrors e;
    const int64_t n = a.numel();
    if (a.dtype() == ir::DType::F32 && b.dtype() == ir::DType::F32) {
        const float* pa = a.data<float>();
        const float* pb = b.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            e.maxAbs = std::max(e.maxAbs, static_cast<double>(std::fabs(pa[i] - pb[i])));
            e.maxRef = std::max(e.maxRef, static_cast<double>(std::fabs(pa[i])));
            if (std::isnan(pa[i]) != std::isnan(pb[i])) e.maxAbs = INFINITY;
        }
        return e;
    }
    const DoubleView va(a), vb(b);
    for (int64_t i = 0; i < n; ++i) {
        const double x = va[i], y = vb[i];
        e.maxAbs = std::max(e.maxAbs, std::fabs(x - y));
        e.maxRef = std::max(e.maxRef, std::fabs(x));
        if (std::isnan(x) != std::isnan(y)) e.maxAbs = INFINITY;
    }
    return e;
}

OutputComparison compareTensors(const std::string& name, const ir::Tensor& a, const ir::Tensor& b) {
    checkComparable(name, a, b);
    OutputComparison c;
    c.name = name;
    const int64_t n = a.numel();
    const DoubleView va(a), vb(b);

    double maxRef = 0;
    for (int64_t i = 0; i < n; ++i)
        maxRef = std::max(maxRef, std::fabs(va[i]));
    // Relative error per element uses max(|a_i|, 1e-6 * max|a|) as denominator: elements that are
    // zero up to the tensor's own scale would otherwise turn rounding noise into huge ratios.
    const double relFloor = std::max(1e-6 * maxRef, 1e-30);

    double sumAbs = 0, dot = 0, normA = 0, normB = 0, noise = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double x = va[i], y = vb[i];
        const double d = std::fabs(x - y);
        c.maxAbs = std::max(c.maxAbs, d);
        c.maxRel = std::max(c.maxRel, d / std::max(std::fabs(x), relFloor));
        sumAbs += d;
        dot += x * y;
        normA += x * x;
        normB += y * y;
        noise += d * d;
    }
    c.meanAbs = n > 0 ? sumAbs / static_cast<double>(n) : 0;
    // cos = <a, b> / (|a| |b|); two all-zero tensors agree perfectly, one all-zero tensor not at all.
    if (normA == 0 && normB == 0)
        c.cosine = 1;
    else if (normA == 0 || normB == 0)
        c.cosine = 0;
    else
        c.cosine = std::clamp(dot / (std::sqrt(normA) * std::sqrt(normB)), -1.0, 1.0);
    // SNR = 10 log10(sum a^2 / sum (a - b)^2)
    if (noise == 0)
        c.snrDb = kIdenticalSnrDb;
    else if (normA == 0)
        c.snrDb = -kIdenticalSnrDb;
    else
        c.snrDb = 10.0 * std::log10(normA / noise);

    // Classifier-shaped: [N, C] or [N, C, 1, 1] with C >= 2. Rows are the N samples; a row's
    // classes are C elements apart by 1 (the trailing 1x1 does not change the layout).
    const auto& s = a.shape();
    const bool classifier = s.size() >= 2 && s[1] >= 2 && a.numel() > 0 &&
                            (s.size() == 2 || (s.size() == 4 && s[2] == 1 && s[3] == 1));
    if (classifier) {
        c.classifier = true;
        const int64_t rows = s[0], classes = s[1];
        const int64_t k = std::min<int64_t>(5, classes);
        double top1 = 0, top5 = 0;
        for (int64_t r = 0; r < rows; ++r) {
            const auto ta = topK(va, r * classes, 1, classes, k);
            const auto tb = topK(vb, r * classes, 1, classes, k);
            if (ta[0] == tb[0]) top1 += 1;
            // top-5 agreement: share of A's top-k classes that are also in B's top-k.
            int64_t common = 0;
            for (int64_t x : ta)
                if (std::find(tb.begin(), tb.end(), x) != tb.end()) ++common;
            top5 += static_cast<double>(common) / static_cast<double>(k);
        }
        c.top1Agreement = rows > 0 ? top1 / static_cast<double>(rows) : 1;
        c.top5Agreement = rows > 0 ? top5 / static_cast<double>(rows) : 1;
    }
    return c;
}

} // namespace opstudio::compare
