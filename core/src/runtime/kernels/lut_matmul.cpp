// ai.opstudio.LutMatMul: Y = A . W with W [K, N] palettized, W[k, n] = codebook[offset[n] + index[k, n]].
// Decode (few rows of A) is memory-bound, so the kernel streams the indices once per call in their
// stored order, 4 rows of W per pass over a column strip whose accumulators stay in L1, and turns
// every 16 indices into 16 weights in registers: with at most 16 centroids and one codebook for the
// 16 columns, one vpermps on the 16-entry table (the indices are then packed to 4 bits at build, so
// a weight costs half a byte of memory traffic); otherwise a gather from the (L1-resident) codebook.
// Prefill (many rows) dequantizes one 256-column tile at a time and runs a oneDNN GEMM on it.
#include "runtime/kernels/lut_matmul.h"

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_util.h"

#include <dnnl.hpp>

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

// GCC 12 flags the undefined pass-through vectors inside its own AVX-512 intrinsics (false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace opstudio::rt {

namespace {

/// Reads of each value by the nodes of g (subgraph reads included) and graph outputs.
std::unordered_map<std::string, int> readCounts(const ir::Graph& g) {
    std::unordered_map<std::string, int> counts;
    std::function<void(const ir::Graph&)> walk = [&](const ir::Graph& gr) {
        gr.forEachNode([&](const ir::Node& n) {
            for (const auto& in : n.inputs)
                if (!in.empty()) ++counts[in];
            for (ir::Graph* sg : n.subgraphs())
                walk(*sg);
        });
    };
    walk(g);
    for (const auto& o : g.outputs)
        ++counts[o];
    return counts;
}

} // namespace

std::vector<LutMatMulRewrite> findLutMatMuls(const ir::Graph& graph) {
    std::vector<LutMatMulRewrite> out;
    if (const char* env = std::getenv("OPSTUDIO_LUT"); env && std::string(env) == "0") return out;
    std::unordered_map<std::string, const ir::Node*> producer;
    bool any = false;
    graph.forEachNode([&](const ir::Node& n) {
        for (const auto& o : n.outputs)
            if (!o.empty()) producer[o] = &n;
        any = any || (n.opType == "Gather" && n.domain.empty());
    });
    if (!any) return out;
    const auto reads = readCounts(graph);
    auto onlyReader = [&](const std::string& v) {
        auto it = reads.find(v);
        return it != reads.end() && it->second == 1;
    };
    auto producedBy = [&](const std::string& v, const char* op) -> const ir::Node* {
        auto it = producer.find(v);
        if (it == producer.end() || it->second->opType != op || !it->second->domain.empty()) return nullptr;
        return it->second;
    };
    auto constant = [&](const std::string& v) -> const ir::Tensor* {
        return v.empty() || graph.isGraphInput(v) ? nullptr : graph.constantValue(v);
    };
    auto isScalar = [&](const std::string& v, int64_t value) {
        const ir::Tensor* t = constant(v);
        return t && t->numel() == 1 && t->toInt64s()[0] == value;
    };
    // The portable 4-bit form cluster-weights-kmeans writes (pack_indices):
    //   Reshape([Slice 0..numel](Concat(p - BitShift(hi, 4, LEFT), hi = BitShift(p, 4, RIGHT))), shape)
    // element e < P is the low nibble of p[e], element e >= P the high nibble of p[e - P].
    auto unpackNibbles = [&](const std::string& v, std::vector<ir::NodeId>& nodes) -> std::optional<ir::Tensor> {
        const ir::Node* reshape = producedBy(v, "Reshape");
        if (!reshape || reshape->inputs.size() != 2) return std::nullopt;
        const ir::Tensor* shapeT = constant(reshape->inputs[1]);
        if (!shapeT || shapeT->rank() != 1 || !onlyReader(reshape->inputs[0])) return std::nullopt;
        const std::vector<int64_t> shape = shapeT->toInt64s();
        int64_t numel = 1;
        for (int64_t d : shape) {
            if (d <= 0) return std::nullopt;
            numel *= d;
        }
        std::string x = reshape->inputs[0];
        nodes = {reshape->id};
        if (const ir::Node* slice = producedBy(x, "Slice")) {
            if (slice->inputs.size() != 4 || !isScalar(slice->inputs[1], 0) || !isScalar(slice->inputs[2], numel) ||
                !isScalar(slice->inputs[3], 0) || !onlyReader(slice->inputs[0]))
                return std::nullopt;
            nodes.push_back(slice->id);
            x = slice->inputs[0];
        }
        const ir::Node* concat = producedBy(x, "Concat");
        if (!concat || concat->inputs.size() != 2 || concat->attrInt("axis", 0) != 0) return std::nullopt;
        const ir::Node* sub = producedBy(concat->inputs[0], "Sub");
        const ir::Node* hi = producedBy(concat->inputs[1], "BitShift");
        if (!sub || !hi || sub->inputs.size() != 2 || hi->inputs.size() != 2 || !onlyReader(concat->inputs[0]))
            return std::nullopt;
        const ir::Node* shl = producedBy(sub->inputs[1], "BitShift");
        if (!shl || shl->inputs.size() != 2 || !onlyReader(sub->inputs[1]) || shl->inputs[0] != concat->inputs[1])
            return std::nullopt;
        auto readsOf = [&](const std::string& name) {
            auto it = reads.find(name);
            return it == reads.end() ? 0 : it->second;
        };
        if (readsOf(concat->inputs[1]) != 2) return std::nullopt; // hi: Concat and the left shift
        if (hi->attrString("direction", "") != "RIGHT" || shl->attrString("direction", "") != "LEFT" ||
            !isScalar(hi->inputs[1], 4) || !isScalar(shl->inputs[1], 4) || sub->inputs[0] != hi->inputs[0])
            return std::nullopt;
        const ir::Tensor* p = constant(hi->inputs[0]);
        if (!p || p->dtype() != ir::DType::U8 || p->rank() != 1 || 2 * p->numel() < numel ||
            2 * p->numel() > numel + 1)
            return std::nullopt;
        const int64_t half = p->numel();
        ir::Tensor out(ir::DType::U8, shape);
        const uint8_t* pb = p->data<uint8_t>();
        for (int64_t e = 0; e < numel; ++e)
            out.data<uint8_t>()[e] = e < half ? (pb[e] & 0xF) : (pb[e - half] >> 4);
        nodes.insert(nodes.end(), {concat->id, sub->id, hi->id, shl->id});
        return out;
    };
    graph.forEachNode([&](const ir::Node& mm) {
        if (mm.opType != "MatMul" || !mm.domain.empty() || mm.inputs.size() != 2 || mm.outputs.size() != 1)
            return;
        const ir::Node* gather = producedBy(mm.inputs[1], "Gather");
        if (!gather || gather->inputs.size() != 2 || gather->attrInt("axis", 0) != 0 || !onlyReader(mm.inputs[1]))
            return;
        const ir::Tensor* cb = graph.constantValue(gather->inputs[0]);
        if (!cb || cb->dtype() != ir::DType::F32 || cb->rank() != 1 || cb->numel() == 0 ||
            graph.isGraphInput(gather->inputs[0]))
            return;
        const ir::Node* add = producedBy(gather->inputs[1], "Add");
        const ir::Tensor* offsets = nullptr;
        std::string castOut = gather->inputs[1];
        if (add) {
            if (add->inputs.size() != 2 || !onlyReader(gather->inputs[1])) return;
            offsets = graph.constantValue(add->inputs[1]);
            if (!offsets || graph.isGraphInput(add->inputs[1])) return;
            castOut = add->inputs[0];
        }
        const ir::Node* cast = producedBy(castOut, "Cast");
        if (!cast || cast->inputs.size() != 1 || !onlyReader(castOut)) return;
        const int64_t to = cast->attrInt("to", 0);
        if (to != 6 && to != 7) return; // int32 / int64
        const ir::Tensor* idx = graph.constantValue(cast->inputs[0]);
        std::optional<ir::Tensor> unpacked;
        std::vector<ir::NodeId> unpackNodes;
        if (!idx && onlyReader(cast->inputs[0])) {
            unpacked = unpackNibbles(cast->inputs[0], unpackNodes);
            if (unpacked) idx = &*unpacked;
        }
        if (!idx || idx->dtype() != ir::DType::U8 || idx->rank() != 2 || graph.isGraphInput(cast->inputs[0]))
            return;
        const int64_t n = idx->dim(1);
        int32_t maxIdx = 0;
        for (uint8_t v : idx->span<const uint8_t>())
            maxIdx = std::max<int32_t>(maxIdx, v);
        if (offsets) {
            // The offset must broadcast along the columns only: [N] or [1, N], every entry in range.
            const bool shapeOk = offsets->dtype() == ir::DType::I32 && offsets->numel() == n &&
                                 (offsets->rank() == 1 || (offsets->rank() == 2 && offsets->dim(0) == 1));
            if (!shapeOk) return;
            for (int32_t o : offsets->span<const int32_t>())
                if (o < 0 || o + maxIdx >= cb->numel()) return;
        } else if (maxIdx >= cb->numel()) {
            return;
        }
        LutMatMulRewrite r;
        r.matmul = mm.id;
        r.absorbed = {cast->id, gather->id};
        if (add) r.absorbed.push_back(add->id);
        r.absorbed.insert(r.absorbed.end(), unpackNodes.begin(), unpackNodes.end());
        r.fused = std::make_unique<ir::Node>();
        ir::Node& f = *r.fused;
        f.id = mm.id;
        f.name = mm.name;
        f.opType = kLutMatMulOp;
        f.domain = kLutMatMulDomain;
        f.inputs = {mm.inputs[0], unpacked ? std::string() : cast->inputs[0], gather->inputs[0]};
        if (add) f.inputs.push_back(add->inputs[1]);
        if (unpacked) { // 4-bit packed in the file: the unpacked indices travel as an attribute
            ir::Attribute a;
            a.name = "indices";
            a.type = ir::AttrType::Tensor;
            a.t = std::move(*unpacked);
            f.attributes.push_back(std::move(a));
        }
        f.outputs = mm.outputs;
        f.provenance = {mm.id, cast->id, gather->id};
        if (add) f.provenance.push_back(add->id);
        f.provenance.insert(f.provenance.end(), unpackNodes.begin(), unpackNodes.end());
        out.push_back(std::move(r));
    });
    return out;
}

namespace {

/// The weight as the kernel keeps it: indices in row-major [K, N] order (two per byte, low nibble
/// first, when every index < 16), the codebook (padded by 16 so a 16-entry table load never reads
/// past it) and one offset per column.
struct LutWeights {
    int64_t k = 0, n = 0, rowBytes = 0;
    bool packed4 = false;
    std::vector<uint8_t> idx;
    std::vector<float> codebook;
    std::vector<int32_t> offsets;
    /// Per 16-column vector: 1 when its columns share one offset and indices < 16 (vpermps table).
    std::vector<uint8_t> permutable;

    int index(int64_t r, int64_t c) const {
        if (!packed4) return idx[r * rowBytes + c];
        const uint8_t b = idx[r * rowBytes + c / 2];
        return (c & 1) ? (b >> 4) : (b & 0xF);
    }
    float weight(int64_t r, int64_t c) const { return codebook[offsets[c] + index(r, c)]; }
};

LutWeights packWeights(const ir::Node& node, const Tensor& idx, const Tensor& cb, const Tensor* off) {
    if (idx.dtype() != DType::U8 || idx.rank() != 2)
        kernelFail(node, "LutMatMul: indices must be uint8 [K, N]");
    if (cb.dtype() != DType::F32 || cb.rank() != 1 || cb.numel() == 0)
        kernelFail(node, "LutMatMul: codebook must be a non-empty float vector");
    LutWeights w;
    w.k = idx.dim(0);
    w.n = idx.dim(1);
    const uint8_t* src = idx.data<uint8_t>();
    int maxIdx = 0;
    for (int64_t i = 0; i < idx.numel(); ++i)
        maxIdx = std::max<int>(maxIdx, src[i]);
    w.offsets.assign(static_cast<size_t>(w.n), 0);
    if (off) {
        if (off->dtype() != DType::I32 || off->numel() != w.n)
            kernelFail(node, "LutMatMul: offsets must be int32 with N = " + std::to_string(w.n) + " elements");
        std::copy(off->data<int32_t>(), off->data<int32_t>() + w.n, w.offsets.begin());
    }
    for (int32_t o : w.offsets)
        if (o < 0 || o + maxIdx >= cb.numel())
            kernelFail(node, "LutMatMul: an index plus its column offset falls outside the codebook of " +
                                 std::to_string(cb.numel()));
    w.codebook.assign(cb.data<float>(), cb.data<float>() + cb.numel());
    w.codebook.resize(w.codebook.size() + 16, 0.f);
    w.packed4 = maxIdx < 16;
    w.rowBytes = w.packed4 ? (w.n + 1) / 2 : w.n;
    w.idx.assign(static_cast<size_t>(w.k * w.rowBytes + 16), 0); // +16: vector loads of the last row
    for (int64_t r = 0; r < w.k; ++r)
        for (int64_t c = 0; c < w.n; ++c) {
            const uint8_t v = src[r * w.n + c];
            if (w.packed4)
                w.idx[r * w.rowBytes + c / 2] |= static_cast<uint8_t>((c & 1) ? v << 4 : v);
            else
                w.idx[r * w.rowBytes + c] = v;
        }
    w.permutable.assign(static_cast<size_t>(w.n / 16), 0);
    for (int64_t v = 0; v < w.n / 16; ++v) {
        bool same = maxIdx < 16;
        for (int64_t j = 1; j < 16 && same; ++j)
            same = w.offsets[v * 16 + j] == w.offsets[v * 16];
        w.permutable[v] = same ? 1 : 0;
    }
    return w;
}

bool hasAvx512() {
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    return has;
}

/// y[j] += sum over rows r in [r0, r1) of x[r] * W[r, c0 + j], j in [j0, width): plain loops (tails and
/// machines without AVX-512).
void stripScalar(const LutWeights& w, const float* x, float* y, int64_t c0, int64_t j0, int64_t width, int64_t r0,
                 int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
        const float xr = x[r];
        for (int64_t j = j0; j < width; ++j)
            y[j] += xr * w.weight(r, c0 + j);
    }
}

/// 16 indices of row r starting at column c (a multiple of 16) as int32 lanes.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) inline __m512i indices16(const LutWeights& w,
                                                                                      int64_t r, int64_t c) {
    const uint8_t* p = w.idx.data() + r * w.rowBytes;
    if (w.packed4) {
        // Byte j holds columns 2j (low nibble) and 2j+1 (high): interleave the nibbles back into order.
        const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + c / 2));
        const __m128i mask = _mm_set1_epi8(0x0F);
        const __m128i lo = _mm_and_si128(v, mask), hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
        return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    }
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + c)));
}

/// y[v * 16 ...] += sum over the ROWS rows from r of x[r + q] * W[r + q, c0 + v * 16 ...] for `vecs` vectors.
template <int ROWS>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void
rowsAvx512(const LutWeights& w, const float* x, float* y, int64_t c0, int64_t vecs, int64_t r) {
    const float* cb = w.codebook.data();
    for (int64_t v = 0; v < vecs; ++v) {
        const int64_t c = c0 + v * 16;
        __m512 acc = _mm512_loadu_ps(y + v * 16);
        if (w.permutable[c / 16]) {
            const __m512 table = _mm512_loadu_ps(cb + w.offsets[c]);
            for (int q = 0; q < ROWS; ++q)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(x[r + q]), _mm512_permutexvar_ps(indices16(w, r + q, c), table),
                                      acc);
        } else {
            const __m512i off = _mm512_loadu_si512(w.offsets.data() + c);
            for (int q = 0; q < ROWS; ++q)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(x[r + q]),
                                      _mm512_i32gather_ps(_mm512_add_epi32(indices16(w, r + q, c), off), cb, 4),
                                      acc);
        }
        _mm512_storeu_ps(y + v * 16, acc);
    }
}

/// y[0, width) = x . W[:, c0 : c0 + width) (overwrites y): 4 rows of W per pass over the strip.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void
stripAvx512(const LutWeights& w, const float* x, float* y, int64_t c0, int64_t width) {
    std::memset(y, 0, sizeof(float) * static_cast<size_t>(width));
    const int64_t vecs = width / 16;
    int64_t r = 0;
    for (; r + 4 <= w.k; r += 4)
        rowsAvx512<4>(w, x, y, c0, vecs, r);
    for (; r < w.k; ++r)
        rowsAvx512<1>(w, x, y, c0, vecs, r);
    if (vecs * 16 < width) stripScalar(w, x, y, c0, vecs * 16, width, 0, w.k);
}

/// out[r * ld + j] = W[r, c0 + j] for every row, j in [0, width): the prefill tile, decoded 16 weights at a time.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void
dequantTileAvx512(const LutWeights& w, int64_t c0, int64_t width, float* out, int64_t ld) {
    const float* cb = w.codebook.data();
    const int64_t vecs = c0 % 16 == 0 ? width / 16 : 0;
    for (int64_t r = 0; r < w.k; ++r) {
        float* o = out + r * ld;
        for (int64_t v = 0; v < vecs; ++v) {
            const int64_t c = c0 + v * 16;
            const __m512i i = indices16(w, r, c);
            _mm512_storeu_ps(o + v * 16, w.permutable[c / 16]
                                             ? _mm512_permutexvar_ps(i, _mm512_loadu_ps(cb + w.offsets[c]))
                                             : _mm512_i32gather_ps(
                                                   _mm512_add_epi32(i, _mm512_loadu_si512(w.offsets.data() + c)),
                                                   cb, 4));
        }
        for (int64_t j = vecs * 16; j < width; ++j)
            o[j] = w.weight(r, c0 + j);
    }
}

void dequantTile(const LutWeights& w, int64_t c0, int64_t width, float* out, int64_t ld) {
    if (hasAvx512()) {
        dequantTileAvx512(w, c0, width, out, ld);
        return;
    }
    for (int64_t r = 0; r < w.k; ++r)
        for (int64_t j = 0; j < width; ++j)
            out[r * ld + j] = w.weight(r, c0 + j);
}

void stripAny(const LutWeights& w, const float* x, float* y, int64_t c0, int64_t width) {
    if (hasAvx512() && c0 % 16 == 0) {
        stripAvx512(w, x, y, c0, width);
        return;
    }
    std::fill(y, y + width, 0.f);
    stripScalar(w, x, y, c0, 0, width, 0, w.k);
}

/// Indices given as the tensor attribute "indices" (the plan unpacked a 4-bit file form), or nullptr.
const ir::Tensor* indicesAttr(const ir::Node& node) {
    const ir::Attribute* a = node.attr("indices");
    return a && a->type == ir::AttrType::Tensor ? &a->t : nullptr;
}

const Tensor& indicesOf(KernelContext& ctx) {
    if (const ir::Tensor* t = indicesAttr(ctx.node())) return *t;
    if (!ctx.hasInput(1)) kernelFail(ctx.node(), "LutMatMul: no indices (input 1 or attribute 'indices')");
    return ctx.input(1);
}

/// Y [M, width] (row stride ldy) = A [M, K] . T [K, width] (row stride ldt) through oneDNN's fp32 matmul
/// (Eigen tiles took llama_bytes perplexity, 88 x 128-byte prefills, 7.7 s; oneDNN 2.8 s, fp32 2.7 s).
/// Primitives cached per shape.
class TileGemm {
public:
    void run(const float* a, const float* t, float* y, int64_t m, int64_t k, int64_t width, int64_t ldt,
             int64_t ldy) {
        using dt = dnnl::memory::data_type;
        std::shared_ptr<Entry> e;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& c : m_cache)
                if (c->m == m && c->k == k && c->width == width && c->ldt == ldt && c->ldy == ldy) e = c;
            if (!e) {
                e = std::make_shared<Entry>(Entry{m, k, width, ldt, ldy, {}, {}});
                e->pd = dnnl::matmul::primitive_desc(
                    dnnl::matmul::desc(dnnl::memory::desc({m, k}, dt::f32, dnnl::memory::dims{k, 1}),
                                       dnnl::memory::desc({k, width}, dt::f32, dnnl::memory::dims{ldt, 1}),
                                       dnnl::memory::desc({m, width}, dt::f32, dnnl::memory::dims{ldy, 1})),
                    onednn::engine());
                e->prim = dnnl::matmul(e->pd);
                if (m_cache.size() >= 8) m_cache.erase(m_cache.begin());
                m_cache.push_back(e);
            }
        }
        dnnl::memory am(e->pd.src_desc(), onednn::engine(), const_cast<float*>(a));
        dnnl::memory tm(e->pd.weights_desc(), onednn::engine(), const_cast<float*>(t));
        dnnl::memory ym(e->pd.dst_desc(), onednn::engine(), y);
        e->prim.execute(onednn::stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, tm}, {DNNL_ARG_DST, ym}});
        onednn::stream().wait();
    }

private:
    struct Entry {
        int64_t m, k, width, ldt, ldy;
        dnnl::matmul::primitive_desc pd;
        dnnl::matmul prim;
    };
    std::mutex m_mutex;
    std::vector<std::shared_ptr<Entry>> m_cache;
};

class LutMatMulKernel final : public Kernel {
public:
    explicit LutMatMulKernel(const KernelInit& init) {
        const auto& c = init.constInputs;
        const ir::Tensor* idx = indicesAttr(init.node);
        if (!idx && c.size() > 1) idx = c[1];
        if (c.size() > 2 && idx && c[2] && (init.node.inputs.size() < 4 || (c.size() > 3 && c[3])))
            m_weights = std::make_shared<LutWeights>(
                packWeights(init.node, *idx, *c[2], c.size() > 3 ? c[3] : nullptr));
    }
    std::string_view path() const override { return hasAvx512() ? "lut-avx512" : "lut"; }

    void run(KernelContext& ctx) override {
        const ir::Node& node = ctx.node();
        std::shared_ptr<const LutWeights> wp = m_weights;
        if (!wp) // indices/codebook computed at run time: pack per call
            wp = std::make_shared<LutWeights>(packWeights(node, indicesOf(ctx), ctx.input(2),
                                                          ctx.hasInput(3) ? &ctx.input(3) : nullptr));
        const LutWeights& w = *wp;
        const Tensor& a = ctx.input(0);
        if (a.dtype() != DType::F32) kernelFail(node, "LutMatMul: A must be float");
        if (a.rank() < 1 || a.dim(-1) != w.k)
            kernelFail(node, "LutMatMul: A's last dim must be K = " + std::to_string(w.k) + ", got shape " +
                                 ir::shapeToString(a.shape()));
        Shape outShape(a.shape().begin(), a.shape().end() - 1);
        outShape.push_back(w.n);
        float* y = ctx.allocate(0, DType::F32, outShape).data<float>();
        if (w.n == 0) return;
        const int64_t rows = ir::shapeNumel(outShape) / w.n;
        if (w.k == 0 || rows == 0) {
            std::fill(y, y + rows * w.n, 0.f);
            return;
        }
        const float* as = a.data<float>();
        constexpr int64_t kGemmRows = 16;
        if (rows >= kGemmRows) {
            // Prefill: one 256-column tile of W dequantized at a time (K x 256 floats, in cache), then a
            // oneDNN GEMM on it; oneDNN parallelizes each tile over the session's threads.
            constexpr int64_t kTile = 256;
            std::vector<float> tile(static_cast<size_t>(w.k * kTile));
            for (int64_t c0 = 0; c0 < w.n; c0 += kTile) {
                const int64_t width = std::min(kTile, w.n - c0);
                dequantTile(w, c0, width, tile.data(), kTile);
                m_gemm.run(as, tile.data(), y + c0, rows, w.k, width, kTile, w.n);
            }
            return;
        }
        // Decode: column strips (multiples of 16, at most 512 = 2 KiB of accumulators), one per task.
        const int threads = std::max(1, ctx.threads());
        int64_t strip = (w.n + threads - 1) / threads;
        strip = std::clamp<int64_t>((strip + 15) / 16 * 16, 16, 512);
        const int64_t strips = (w.n + strip - 1) / strip;
        parallelFor(
            strips * rows,
            [&](int64_t s0, int64_t s1) {
                for (int64_t s = s0; s < s1; ++s) {
                    const int64_t i = s / strips, c0 = (s % strips) * strip;
                    stripAny(w, as + i * w.k, y + i * w.n + c0, c0, std::min(strip, w.n - c0));
                }
            },
            w.k * strip);
    }

private:
    std::shared_ptr<const LutWeights> m_weights;
    TileGemm m_gemm;
};

/// Plain loops: dequantize W, accumulate in double.
void lutMatMulReference(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const LutWeights w = packWeights(node, indicesOf(ctx), ctx.input(2), ctx.hasInput(3) ? &ctx.input(3) : nullptr);
    const Tensor& a = ctx.input(0);
    if (a.dtype() != DType::F32 || a.rank() < 1 || a.dim(-1) != w.k)
        kernelFail(node, "LutMatMul: A must be float with last dim K = " + std::to_string(w.k));
    Shape outShape(a.shape().begin(), a.shape().end() - 1);
    outShape.push_back(w.n);
    float* y = ctx.allocate(0, DType::F32, outShape).data<float>();
    const int64_t rows = w.n == 0 ? 0 : ir::shapeNumel(outShape) / w.n;
    const float* as = a.data<float>();
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < w.n; ++c) {
            double s = 0;
            for (int64_t r = 0; r < w.k; ++r)
                s += static_cast<double>(as[i * w.k + r]) * w.weight(r, c);
            y[i * w.n + c] = static_cast<float>(s);
        }
}

} // namespace

void registerLutMatMulKernels(KernelRegistry& r) {
    r.add({kLutMatMulOp, 0, kLatestOpset, kLutMatMulDomain},
          [](const KernelInit& init) -> std::unique_ptr<Kernel> { return std::make_unique<LutMatMulKernel>(init); },
          fn(lutMatMulReference));
}

} // namespace opstudio::rt
