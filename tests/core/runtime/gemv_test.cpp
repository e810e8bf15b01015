// M = 1 matrix-vector fast path (LLM decode): gemvF32 against the double-accumulating reference on
// odd sizes (loop tails of the 4-row passes, the 16/8-lane reductions and the 512-column strips),
// both weight layouts, 1 and 2 threads; and the MatMul kernel taking it for one-row products with a
// constant B while agreeing with the reference kernel.
#include "support/test_util.h"

#include "runtime/kernels/gemv.h"

#include "opstudio/runtime/session.h"

#include <gtest/gtest.h>

#include <cmath>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using rt::gemvF32;
using rt::gemvF32Reference;

/// fp32 accumulation of up to ~3000 products of U(-1, 1) values against a double reference.
constexpr double kGemvAbsTol = 2e-4;

TEST(Gemv, FastMatchesReferenceOnOddShapes) {
    const int64_t sizes[] = {1, 3, 7, 13, 127, 513, 1031};
    uint64_t seed = 1;
    for (int64_t k : sizes)
        for (int64_t n : sizes)
            for (bool transposed : {false, true})
                for (int threads : {1, 2}) {
                    const Tensor x = testing::randomTensor(DType::F32, {k}, seed++);
                    const Tensor w =
                        testing::randomTensor(DType::F32, {transposed ? n : k, transposed ? k : n}, seed++);
                    std::vector<float> fast(n, -7.f), ref(n);
                    gemvF32(x.data<float>(), w.data<float>(), fast.data(), k, n, transposed, threads);
                    gemvF32Reference(x.data<float>(), w.data<float>(), ref.data(), k, n, transposed);
                    double worst = 0;
                    for (int64_t j = 0; j < n; ++j)
                        worst = std::max(worst, std::abs(double(fast[j]) - ref[j]));
                    EXPECT_LE(worst, kGemvAbsTol)
                        << "k " << k << " n " << n << " transposed " << transposed << " threads " << threads;
                }
}

TEST(Gemv, EmptyInnerDimensionGivesZeros) {
    std::vector<float> y(5, 3.f);
    gemvF32(nullptr, nullptr, y.data(), 0, 5, false, 1);
    for (float v : y)
        EXPECT_EQ(v, 0.f);
}

TEST(Gemv, MatMulTakesItForOneRowWithConstantWeights) {
    for (int64_t k : {7, 127, 300})
        for (int64_t n : {13, 513}) {
            const Tensor a = testing::randomTensor(DType::F32, {1, 1, k}, 11);
            const Tensor b = testing::randomTensor(DType::F32, {k, n}, 12);
            testing::NodeSpec spec{"MatMul"};
            spec.constantInputs = {false, true};
            std::shared_ptr<const ir::Model> model =
                std::make_shared<ir::Model>(testing::makeNodeModel(spec, {a, b}));
            rt::SessionOptions fastOptions;
            auto fast = rt::Session::create(model, fastOptions);
            ASSERT_TRUE(fast.ok()) << fast.error().what();
            rt::SessionOptions refOptions;
            refOptions.reference = true;
            auto ref = rt::Session::create(model, refOptions);
            ASSERT_TRUE(ref.ok());
            const std::string in = fast.value()->inputs()[0].name;
            auto yf = fast.value()->run({{in, a}});
            auto yr = ref.value()->run({{in, a}});
            ASSERT_TRUE(yf.ok() && yr.ok());
            EXPECT_TRUE(testing::allClose(yf.value()[0].tensor, yr.value()[0].tensor, kGemvAbsTol, 1e-5));
            const auto& steps = fast.value()->lastExecution();
            ASSERT_EQ(steps.size(), 1u);
            EXPECT_EQ(steps[0].kernelPath, "gemv");
            // Two rows go to oneDNN.
            const Tensor a2 = testing::randomTensor(DType::F32, {1, 2, k}, 13);
            std::shared_ptr<const ir::Model> model2 =
                std::make_shared<ir::Model>(testing::makeNodeModel(spec, {a2, b}));
            auto two = rt::Session::create(model2, fastOptions);
            ASSERT_TRUE(two.ok());
            ASSERT_TRUE(two.value()->run({{two.value()->inputs()[0].name, a2}}).ok());
            EXPECT_EQ(two.value()->lastExecution()[0].kernelPath, "onednn");
        }
}

TEST(Gemv, FusedMatMulWithTransposedWeightsUsesTheDotForm) {
    const int64_t k = 129, n = 37;
    const Tensor a = testing::randomTensor(DType::F32, {1, k}, 21);
    const Tensor b = testing::randomTensor(DType::F32, {n, k}, 22);
    testing::NodeSpec spec{"FusedMatMul", "com.microsoft", 1, {testing::attrInt("transB", 1)}};
    spec.constantInputs = {false, true};
    const auto fast = testing::runNode(spec, {a, b});
    const auto ref = testing::runNode(spec, {a, b}, /*reference=*/true);
    EXPECT_TRUE(testing::allClose(fast[0], ref[0], kGemvAbsTol, 1e-5));
}

} // namespace
} // namespace opstudio
