// com.microsoft MatMulNBits: weight-only block quantization for LLM decode.
// B holds W [N, K] in blocks of `block_size` along K, `bits` (4 or 8) per value, low nibble
// first; each (n, block) has a float scale and an unsigned zero point (default 2^(bits-1)):
//   W[n, k] = (q[n, k] - zp[n, k / block_size]) * scale[n, k / block_size];   Y = A . W^T (+ bias)
// Decode is memory-bound, so the fast path reads the packed weights once per call and
// dequantizes one block at a time into a small buffer (in cache) for the dot products;
// for many rows (prefill) it dequantizes W^T once per call and runs an Eigen GEMM.
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/nbits_dot.h"
#include "runtime/kernels/onednn_util.h"

#include <Eigen/Core>
#include <dnnl.hpp>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace opstudio::rt {
namespace {

const Tensor& requireInput(KernelContext& ctx, size_t i, const char* what) {
    if (!ctx.hasInput(i)) kernelFail(ctx.node(), ctx.node().opType + ": missing input '" + what + "'");
    return ctx.input(i);
}

struct NBitsLayout {
    int64_t k = 0, n = 0, bits = 4, blockSize = 32, kBlocks = 0, blobSize = 0, zpPerColumn = 0;
};

struct NBitsWeights {
    const uint8_t* b = nullptr;
    const float* scales = nullptr;
    const uint8_t* zeros = nullptr; // packed like the values; null = 2^(bits-1)

    int32_t zeroPoint(const NBitsLayout& l, int64_t col, int64_t blk) const {
        if (!zeros) return 1 << (l.bits - 1);
        if (l.bits == 8) return zeros[col * l.zpPerColumn + blk];
        const uint8_t z = zeros[col * l.zpPerColumn + blk / 2];
        return (blk & 1) ? (z >> 4) : (z & 0xF);
    }
    const uint8_t* blob(const NBitsLayout& l, int64_t col, int64_t blk) const {
        return b + (col * l.kBlocks + blk) * l.blobSize;
    }

    /// Dequantizes block `blk` of column `col` (len = valid K elements in it) into out.
    void block(const NBitsLayout& l, int64_t col, int64_t blk, float* out, int64_t len) const {
        const uint8_t* p = blob(l, col, blk);
        const float s = scales[col * l.kBlocks + blk];
        const int32_t zp = zeroPoint(l, col, blk);
        if (l.bits == 4) {
            for (int64_t j = 0; j + 1 < len; j += 2) {
                const uint8_t v = p[j / 2];
                out[j] = static_cast<float>((v & 0xF) - zp) * s;
                out[j + 1] = static_cast<float>((v >> 4) - zp) * s;
            }
            if (len & 1) out[len - 1] = static_cast<float>((p[len / 2] & 0xF) - zp) * s;
        } else {
            for (int64_t j = 0; j < len; ++j)
                out[j] = static_cast<float>(p[j] - zp) * s;
        }
    }
};

/// sum_j q_j a_j over one 4-bit block of `len` values (len a multiple of 16), AVX2 + FMA.
/// Byte j holds q_2j (low nibble) and q_2j+1 (high nibble): interleaving the two nibble
/// vectors restores element order.
__attribute__((target("avx2,fma"))) float nibbleDotAvx2(const uint8_t* p, const float* a, int64_t len) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t j = 0; j < len; j += 32) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j / 2));
        const __m128i lo = _mm_and_si128(v, mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
        const __m128i q0 = _mm_unpacklo_epi8(lo, hi); // elements j .. j+15
        const __m128i q1 = _mm_unpackhi_epi8(lo, hi); // elements j+16 .. j+31
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), _mm256_loadu_ps(a + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))),
                               _mm256_loadu_ps(a + j + 8), acc1);
        acc0 =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), _mm256_loadu_ps(a + j + 16), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))),
                               _mm256_loadu_ps(a + j + 24), acc1);
    }
    const __m256 sum = _mm256_add_ps(acc0, acc1);
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    r = _mm_hadd_ps(r, r);
    r = _mm_hadd_ps(r, r);
    return _mm_cvtss_f32(r);
}

/// sum_b scale_b * (sum_j q_bj a_bj) over all blocks of one column (full blocks, block size a
/// multiple of 32): the per-block scale is applied to the 8-lane partial sums so the horizontal
/// reduction happens once per column, not once per block.
__attribute__((target("avx2,fma"))) float nibbleColumnDotAvx2(const uint8_t* p, const float* scales,
                                                              const float* a, int64_t blocks,
                                                              int64_t blockSize) {
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m256 total = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        const uint8_t* pb = p + b * (blockSize / 2);
        const float* ab = a + b * blockSize;
        for (int64_t j = 0; j < blockSize; j += 32) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + j / 2));
            const __m128i lo = _mm_and_si128(v, mask);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
            const __m128i q0 = _mm_unpacklo_epi8(lo, hi);
            const __m128i q1 = _mm_unpackhi_epi8(lo, hi);
            acc0 =
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), _mm256_loadu_ps(ab + j), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))),
                                   _mm256_loadu_ps(ab + j + 8), acc1);
            acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), _mm256_loadu_ps(ab + j + 16),
                                   acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))),
                                   _mm256_loadu_ps(ab + j + 24), acc1);
        }
        total = _mm256_fmadd_ps(_mm256_add_ps(acc0, acc1), _mm256_set1_ps(scales[b]), total);
    }
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
    r = _mm_hadd_ps(r, r);
    r = _mm_hadd_ps(r, r);
    return _mm_cvtss_f32(r);
}

bool hasAvx2Fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}

/// Y [M, N] = A [M, K] . W^T with W [N, K] row-major, via oneDNN's fp32 matmul (W read as
/// K x N in column-major "ba" layout, so no transpose copy). Primitive cached per M.
class NBitsPrefillGemm {
public:
    void run(const float* a, const float* w, float* y, int64_t m, int64_t k, int64_t n) {
        using tag = dnnl::memory::format_tag;
        using dt = dnnl::memory::data_type;
        std::shared_ptr<Entry> e;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& c : m_cache)
                if (c->m == m && c->k == k && c->n == n) e = c;
            if (!e) {
                e = std::make_shared<Entry>();
                e->m = m;
                e->k = k;
                e->n = n;
                e->pd = dnnl::matmul::primitive_desc(
                    dnnl::matmul::desc(dnnl::memory::desc({m, k}, dt::f32, tag::ab),
                                       dnnl::memory::desc({k, n}, dt::f32, tag::ba),
                                       dnnl::memory::desc({m, n}, dt::f32, tag::ab)),
                    onednn::engine());
                e->prim = dnnl::matmul(e->pd);
                if (m_cache.size() >= 8) m_cache.erase(m_cache.begin());
                m_cache.push_back(e);
            }
        }
        dnnl::memory am(e->pd.src_desc(), onednn::engine(), const_cast<float*>(a));
        dnnl::memory wm(e->pd.weights_desc(), onednn::engine(), const_cast<float*>(w));
        dnnl::memory ym(e->pd.dst_desc(), onednn::engine(), y);
        e->prim.execute(onednn::stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
        onednn::stream().wait();
    }

private:
    struct Entry {
        int64_t m = 0, k = 0, n = 0;
        dnnl::matmul::primitive_desc pd;
        dnnl::matmul prim;
    };
    std::mutex m_mutex;
    std::vector<std::shared_ptr<Entry>> m_cache;
};

void matMulNBits(KernelContext& ctx, bool reference, NBitsPrefillGemm* gemm) {
    const ir::Node& node = ctx.node();
    NBitsLayout l;
    l.k = node.attrInt("K", 0);
    l.n = node.attrInt("N", 0);
    l.bits = node.attrInt("bits", 4);
    l.blockSize = node.attrInt("block_size", 0);
    if (l.bits != 4 && l.bits != 8)
        kernelFail(node, "MatMulNBits: bits must be 4 or 8, got " + std::to_string(l.bits));
    if (l.k <= 0 || l.n <= 0 || l.blockSize < 16 || (l.blockSize & (l.blockSize - 1)) != 0)
        kernelFail(node, "MatMulNBits: K, N must be > 0 and block_size a power of two >= 16");
    l.kBlocks = (l.k + l.blockSize - 1) / l.blockSize;
    l.blobSize = l.blockSize * l.bits / 8;
    l.zpPerColumn = (l.kBlocks * l.bits + 7) / 8;
    const Tensor& a = requireInput(ctx, 0, "A");
    const Tensor& b = requireInput(ctx, 1, "B");
    const Tensor& sc = requireInput(ctx, 2, "scales");
    if (a.dtype() != DType::F32)
        kernelFail(node,
                   "MatMulNBits: only float A is supported, got " + std::string(ir::dtypeName(a.dtype())));
    if (a.rank() < 1 || a.dim(-1) != l.k)
        kernelFail(node, "MatMulNBits: A's last dim must be K = " + std::to_string(l.k));
    if (b.dtype() != DType::U8 || b.numel() != l.n * l.kBlocks * l.blobSize)
        kernelFail(node, "MatMulNBits: B must be uint8 [N, k_blocks, blob_size]");
    if (sc.dtype() != DType::F32 || sc.numel() != l.n * l.kBlocks)
        kernelFail(node, "MatMulNBits: scales must be float with N * k_blocks elements");
    NBitsWeights w{b.data<uint8_t>(), sc.data<float>(), nullptr};
    if (ctx.hasInput(3)) {
        const Tensor& z = ctx.input(3);
        if (z.dtype() != DType::U8 || z.numel() != l.n * l.zpPerColumn)
            kernelFail(node, "MatMulNBits: only packed uint8 zero points are supported");
        w.zeros = z.data<uint8_t>();
    }
    if (ctx.hasInput(4)) kernelFail(node, "MatMulNBits: g_idx (act-order) is not supported");
    const float* bias = nullptr;
    if (ctx.hasInput(5)) {
        const Tensor& bt = ctx.input(5);
        if (bt.dtype() != DType::F32 || bt.numel() != l.n)
            kernelFail(node, "MatMulNBits: bias must be float with N elements");
        bias = bt.data<float>();
    }
    Shape outShape(a.shape().begin(), a.shape().end() - 1);
    outShape.push_back(l.n);
    const int64_t rows = a.numel() / l.k;
    const float* as = a.data<float>();
    float* y = ctx.allocate(0, DType::F32, outShape).data<float>();
    if (rows == 0) return;

    if (reference) {
        std::vector<float> wt(static_cast<size_t>(l.n * l.k));
        for (int64_t col = 0; col < l.n; ++col)
            for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                w.block(l, col, blk, wt.data() + col * l.k + blk * l.blockSize,
                        std::min(l.blockSize, l.k - blk * l.blockSize));
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t col = 0; col < l.n; ++col) {
                float acc = bias ? bias[col] : 0.f;
                for (int64_t kk = 0; kk < l.k; ++kk)
                    acc += as[i * l.k + kk] * wt[col * l.k + kk];
                y[i * l.n + col] = acc;
            }
        return;
    }
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    constexpr int64_t kGemmRows = 16;
    if (rows >= kGemmRows) {
        // Prefill: W [N, K] dequantized once (contiguous rows), then one GEMM Y = A . W^T.
        RowMajor wm(l.n, l.k);
        parallelFor(
            l.n,
            [&](int64_t begin, int64_t end) {
                for (int64_t col = begin; col < end; ++col)
                    for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                        w.block(l, col, blk, wm.data() + col * l.k + blk * l.blockSize,
                                std::min(l.blockSize, l.k - blk * l.blockSize));
            },
            l.k);
        gemm->run(as, wm.data(), y, rows, l.k, l.n);
        if (bias)
            Eigen::Map<RowMajor>(y, rows, l.n).rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, l.n);
        return;
    }
    // Decode on AVX-512: the activation rows are permuted (fp32) or quantized per block (int8,
    // accuracy_level 4 as in ONNX Runtime) once; each column is one pass over its packed bytes.
    if (nbits::chunkPathApplies(l.bits, l.blockSize, l.k) && nbits::hasAvx512()) {
        const bool int8 = node.attrInt("accuracy_level", 0) == 4 && nbits::hasAvx512Vnni();
        std::vector<float> aChunk, blockTerm(static_cast<size_t>(rows * l.kBlocks), 0.f);
        std::vector<int8_t> a8;
        std::vector<float> sa;
        std::vector<int32_t> asum;
        if (int8) {
            a8.resize(static_cast<size_t>(rows * l.k));
            sa.resize(static_cast<size_t>(rows * l.kBlocks));
            asum.resize(static_cast<size_t>(rows * l.kBlocks));
            for (int64_t i = 0; i < rows; ++i) {
                nbits::quantizeRow(as + i * l.k, l.k, l.blockSize,
                                   {a8.data() + i * l.k, sa.data() + i * l.kBlocks, asum.data() + i * l.kBlocks},
                                   l.bits == 4);
                for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                    blockTerm[i * l.kBlocks + blk] = sa[i * l.kBlocks + blk] * static_cast<float>(asum[i * l.kBlocks + blk]);
            }
        } else {
            aChunk.resize(static_cast<size_t>(rows * l.k));
            for (int64_t i = 0; i < rows; ++i) {
                if (l.bits == 4)
                    nbits::toChunkOrder(as + i * l.k, l.k, aChunk.data() + i * l.k);
                else
                    std::copy(as + i * l.k, as + (i + 1) * l.k, aChunk.data() + i * l.k);
                for (int64_t kk = 0; kk < l.k; ++kk)
                    blockTerm[i * l.kBlocks + kk / l.blockSize] += as[i * l.k + kk];
            }
        }
        parallelFor(
            l.n,
            [&](int64_t begin, int64_t end) {
                for (int64_t col = begin; col < end; ++col) {
                    const float* sc = w.scales + col * l.kBlocks;
                    for (int64_t i = 0; i < rows; ++i) {
                        // y = sum_b s_b (q_b . a_b) - sum_b s_b zp_b asum_b
                        const float* bt = blockTerm.data() + i * l.kBlocks;
                        float zpTerm = 0.f;
                        if (!w.zeros) {
                            zpTerm = nbits::dotF32Avx512(sc, bt, l.kBlocks) * static_cast<float>(1 << (l.bits - 1));
                        } else {
                            for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                                zpTerm += sc[blk] * static_cast<float>(w.zeroPoint(l, col, blk)) * bt[blk];
                        }
                        const nbits::QuantizedRow qr{a8.data() + i * l.k, sa.data() + i * l.kBlocks,
                                                     asum.data() + i * l.kBlocks};
                        const uint8_t* codes = w.blob(l, col, 0);
                        const float* ar = int8 ? nullptr : aChunk.data() + i * l.k;
                        const float dot =
                            l.bits == 4
                                ? (int8 ? nbits::columnDotU4S8Vnni(codes, sc, qr, l.k, l.blockSize)
                                        : nbits::columnDotF32Avx512(codes, sc, ar, l.k, l.blockSize))
                                : (int8 ? nbits::columnDotU8S8Vnni(codes, sc, qr, l.k, l.blockSize)
                                        : nbits::columnDotU8F32Avx512(codes, sc, ar, l.k, l.blockSize));
                        y[i * l.n + col] = (bias ? bias[col] : 0.f) + dot - zpTerm;
                    }
                }
            },
            l.k * rows / 4 + l.kBlocks);
        return;
    }
    // Decode: per block, y += s * (sum_j q_j a_j - zp * sum_j a_j); the block sums of A are
    // computed once, so the inner loop is only unpack + multiply-add over the packed bytes.
    std::vector<float> aBlockSum(static_cast<size_t>(rows * l.kBlocks), 0.f);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t kk = 0; kk < l.k; ++kk)
            aBlockSum[i * l.kBlocks + kk / l.blockSize] += as[i * l.k + kk];
    const bool simd = hasAvx2Fma();
    // Whole-column SIMD when every block is full and 32-aligned in size.
    const bool columnSimd = simd && l.bits == 4 && l.blockSize % 32 == 0 && l.k % l.blockSize == 0;
    parallelFor(
        l.n,
        [&](int64_t begin, int64_t end) {
            std::vector<float> acc(static_cast<size_t>(rows));
            for (int64_t col = begin; col < end; ++col) {
                std::fill(acc.begin(), acc.end(), bias ? bias[col] : 0.f);
                if (columnSimd) {
                    // y = sum_b s_b (q_b . a_b) - sum_b s_b zp_b asum_b
                    for (int64_t i = 0; i < rows; ++i) {
                        float zpTerm = 0.f;
                        for (int64_t blk = 0; blk < l.kBlocks; ++blk)
                            zpTerm += w.scales[col * l.kBlocks + blk] *
                                      static_cast<float>(w.zeroPoint(l, col, blk)) *
                                      aBlockSum[i * l.kBlocks + blk];
                        y[i * l.n + col] = acc[i] - zpTerm +
                                           nibbleColumnDotAvx2(w.blob(l, col, 0), w.scales + col * l.kBlocks,
                                                               as + i * l.k, l.kBlocks, l.blockSize);
                    }
                    continue;
                }
                for (int64_t blk = 0; blk < l.kBlocks; ++blk) {
                    const int64_t k0 = blk * l.blockSize, len = std::min(l.blockSize, l.k - k0);
                    const uint8_t* p = w.blob(l, col, blk);
                    const float s = w.scales[col * l.kBlocks + blk];
                    const float zp = static_cast<float>(w.zeroPoint(l, col, blk));
                    for (int64_t i = 0; i < rows; ++i) {
                        const float* ar = as + i * l.k + k0;
                        float d0 = 0.f, d1 = 0.f;
                        if (l.bits == 4 && simd && len % 32 == 0) {
                            d0 = nibbleDotAvx2(p, ar, len);
                        } else if (l.bits == 4) {
                            const int64_t pairs = len / 2;
                            for (int64_t j = 0; j < pairs; ++j) {
                                const uint8_t v = p[j];
                                d0 += static_cast<float>(v & 0xF) * ar[2 * j];
                                d1 += static_cast<float>(v >> 4) * ar[2 * j + 1];
                            }
                            if (len & 1) d0 += static_cast<float>(p[pairs] & 0xF) * ar[len - 1];
                        } else {
                            for (int64_t j = 0; j < len; ++j)
                                d0 += static_cast<float>(p[j]) * ar[j];
                        }
                        acc[i] += s * (d0 + d1 - zp * aBlockSum[i * l.kBlocks + blk]);
                    }
                }
                for (int64_t i = 0; i < rows; ++i)
                    y[i * l.n + col] = acc[i];
            }
        },
        l.k * rows + l.k);
}

} // namespace

void registerMatMulNBitsKernels(KernelRegistry& r) {
    r.add(
        {"MatMulNBits", 1, kLatestOpset, "com.microsoft"},
        [](const KernelInit&) -> std::unique_ptr<Kernel> {
            auto gemm = std::make_shared<NBitsPrefillGemm>();
            return std::make_unique<FunctionKernel>(
                [gemm](KernelContext& ctx) { matMulNBits(ctx, false, gemm.get()); },
                nbits::hasAvx512() ? "avx512" : "avx2");
        },
        fn([](KernelContext& ctx) { matMulNBits(ctx, true, nullptr); }));
}

} // namespace opstudio::rt
