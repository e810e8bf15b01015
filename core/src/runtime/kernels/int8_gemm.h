#pragma once
// oneDNN int8 GEMM shared by the integer matmul and integer conv kernels.
//
// oneDNN's u8/s8 x s8 -> s32 GEMM (VNNI where the CPU has it) wants signed weights and a common
// weight zero point, so instead of zero-point attributes we compute the plain product P = A.B'
// and correct it afterwards:
//   sum_k (a_mk - za_m)(b_kn - zb_n) = P_mn - zb_n * rowsum(A)_m - za_m * colsum(B)_n + K za_m zb_n
// which covers per-row / per-column zero points at O(MK + KN) extra cost. A u8 B is made signed
// by b' = b - 128 with zb' = zb - 128 (the differences b - zb are unchanged).
// Integer products accumulate in int32 (u8/s8 x u8/s8 over K <= 2^16 cannot overflow).
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/onednn_util.h"

#include <dnnl.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

namespace opstudio::rt::quant {

/// oneDNN int8 GEMM P = A (M x K, u8 or s8) . B' (K x N, s8) -> s32, then the zero-point correction.
/// B' is signed: the constant weights are converted once at session build.
class Int8MatMul {
public:
    /// `b` is K x N row-major int8 (already shifted), with zero points shifted the same way.
    void setWeights(int64_t k, int64_t n, std::vector<int8_t> b) {
        m_k = k;
        m_n = n;
        m_b = std::move(b);
        m_colSum.assign(static_cast<size_t>(n), 0);
        for (int64_t kk = 0; kk < k; ++kk)
            for (int64_t j = 0; j < n; ++j)
                m_colSum[j] += m_b[kk * n + j];
    }
    /// y (M x N) = (A - za)(B' - zb'), za per row (size 1 or M), zb' per column (size 1 or N).
    template <typename A>
    void run(const A* a, int64_t m, const std::vector<int32_t>& za, const std::vector<int32_t>& zb,
             int32_t* y) {
        using dt = dnnl::memory::data_type;
        const dt aType = std::is_same_v<A, uint8_t> ? dt::u8 : dt::s8;
        std::shared_ptr<Prim> prim;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& p : m_prims)
                if (p->m == m && p->aType == aType) prim = p;
            if (!prim) {
                prim = std::make_shared<Prim>();
                prim->m = m;
                prim->aType = aType;
                dnnl::memory::desc aDesc({m, m_k}, aType, dnnl::memory::format_tag::ab);
                dnnl::memory::desc bAny({m_k, m_n}, dt::s8, dnnl::memory::format_tag::any);
                dnnl::memory::desc yDesc({m, m_n}, dt::s32, dnnl::memory::format_tag::ab);
                dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aDesc, bAny, yDesc), onednn::engine());
                prim->pd = pd;
                prim->prim = dnnl::matmul(pd);
                // Pack B into the primitive's preferred layout once per layout.
                dnnl::memory::desc want = pd.weights_desc();
                for (auto& pk : m_packed)
                    if (pk.get_desc() == want) prim->weights = pk;
                if (!prim->weights) {
                    dnnl::memory user({{m_k, m_n}, dt::s8, dnnl::memory::format_tag::ab}, onednn::engine(),
                                      m_b.data());
                    dnnl::memory packed(want, onednn::engine());
                    dnnl::reorder(user, packed).execute(onednn::stream(), user, packed);
                    onednn::stream().wait();
                    m_packed.push_back(packed);
                    prim->weights = packed;
                }
                if (m_prims.size() >= 8) m_prims.erase(m_prims.begin());
                m_prims.push_back(prim);
            }
        }
        dnnl::memory aMem(prim->pd.src_desc(), onednn::engine(), const_cast<A*>(a));
        dnnl::memory yMem(prim->pd.dst_desc(), onednn::engine(), y);
        prim->prim.execute(onednn::stream(),
                           {{DNNL_ARG_SRC, aMem}, {DNNL_ARG_WEIGHTS, prim->weights}, {DNNL_ARG_DST, yMem}});
        onednn::stream().wait();
        const bool zaZero = std::all_of(za.begin(), za.end(), [](int32_t v) { return v == 0; });
        const bool zbZero = std::all_of(zb.begin(), zb.end(), [](int32_t v) { return v == 0; });
        if (zaZero && zbZero) return;
        // y -= zb_n * rowsum(A)_m + za_m * colsum(B')_n - K za_m zb_n
        parallelFor(
            m,
            [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                    int32_t rowSum = 0;
                    if (!zbZero)
                        for (int64_t kk = 0; kk < m_k; ++kk)
                            rowSum += a[i * m_k + kk];
                    const int32_t zai = za.size() == 1 ? za[0] : za[i];
                    int32_t* yr = y + i * m_n;
                    for (int64_t j = 0; j < m_n; ++j) {
                        const int32_t zbj = zb.size() == 1 ? zb[0] : zb[j];
                        yr[j] -= zbj * rowSum + zai * m_colSum[j] - static_cast<int32_t>(m_k) * zai * zbj;
                    }
                }
            },
            m_n + m_k);
    }
    int64_t k() const { return m_k; }
    int64_t n() const { return m_n; }

private:
    struct Prim {
        int64_t m = 0;
        dnnl::memory::data_type aType{};
        dnnl::matmul::primitive_desc pd;
        dnnl::matmul prim;
        dnnl::memory weights;
    };
    int64_t m_k = 0, m_n = 0;
    std::vector<int8_t> m_b;
    std::vector<int32_t> m_colSum;
    std::mutex m_mutex;
    std::vector<std::shared_ptr<Prim>> m_prims;
    std::vector<dnnl::memory> m_packed;
};

/// Signed copy of B: u8 values shifted by -128 (zero points shift with them).
std::vector<int8_t> signedWeights(const Tensor& b, int32_t& shift);

} // namespace opstudio::rt::quant
