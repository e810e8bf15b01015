// Softmax family and com.microsoft GELU kernels: hand-computed values, opset-13 semantics change,
// fast vs reference on odd shapes.
#include "support/test_util.h"

#include <cmath>

// NodeSpec literals below leave constantInputs at its default on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using Shape = std::vector<int64_t>;
using testing::attrInt;
using testing::NodeSpec;
using testing::randomTensor;
using testing::runNode;

void expectFastMatchesReference(const NodeSpec& spec, const std::vector<Tensor>& inputs, double atol = 1e-6) {
    const auto fast = runNode(spec, inputs, /*reference=*/false, /*threads=*/2);
    const auto ref = runNode(spec, inputs, /*reference=*/true);
    ASSERT_EQ(fast.size(), ref.size());
    for (size_t i = 0; i < fast.size(); ++i) EXPECT_TRUE(testing::allClose(fast[i], ref[i], atol, 1e-5)) << "output " << i;
}

TEST(Softmax, HandComputedRow) {
    // softmax([0, ln 3]) = [1/4, 3/4]; huge equal logits must not overflow (max subtraction).
    const Tensor x = Tensor::fromVector<float>({2, 2}, {0.f, std::log(3.f), 1000.f, 1000.f});
    NodeSpec spec{"Softmax", "", 13, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0], Tensor::fromVector<float>({2, 2}, {0.25f, 0.75f, 0.5f, 0.5f})));
    NodeSpec logSpec{"LogSoftmax", "", 13, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(logSpec, {x})[0],
                                  Tensor::fromVector<float>({2, 2}, {std::log(0.25f), std::log(0.75f), std::log(0.5f),
                                                                     std::log(0.5f)})));
}

TEST(Softmax, Opset13NormalizesOneAxisWhileOlderOpsetsFlatten) {
    // Shape [1, 2, 2], axis 1. Opset 13: each column over axis 1 sums to 1.
    // Opset 11: the input is coerced to [1, 4] and all four elements sum to 1.
    const Tensor x = Tensor::fromVector<float>({1, 2, 2}, {0, 0, 0, 0});
    NodeSpec v13{"Softmax", "", 13, {attrInt("axis", 1)}, 1};
    NodeSpec v11{"Softmax", "", 11, {attrInt("axis", 1)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(v13, {x})[0], Tensor::fromVector<float>({1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f})));
    EXPECT_TRUE(testing::allClose(runNode(v11, {x})[0], Tensor::fromVector<float>({1, 2, 2}, {0.25f, 0.25f, 0.25f, 0.25f})));
}

TEST(Softmax, DefaultAxisChangedAt13) {
    // Before 13 the default axis is 1 (flatten [2, 3, 4] to [2, 12]); from 13 it is -1.
    const Tensor x = randomTensor(DType::F32, {2, 3, 4}, 1);
    const auto old = runNode({"Softmax", "", 12, {}, 1}, {x})[0];
    const auto flat = runNode({"Softmax", "", 13, {}, 1}, {x.reshaped({2, 12})})[0];
    EXPECT_TRUE(testing::allClose(old, flat.reshaped({2, 3, 4})));
}

TEST(Softmax, FastMatchesReferenceOnOddShapes) {
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
        for (int64_t d : {1, 7, 13, 127}) {
            for (int64_t axis : {0, 1, 2, -1}) {
                for (int64_t opset : {11, 13}) {
                    NodeSpec spec{op, "", opset, {attrInt("axis", axis)}, 1};
                    expectFastMatchesReference(spec, {randomTensor(DType::F32, {3, d, 5}, d + axis, -5, 5)});
                }
            }
        }
    }
}

TEST(Softmax, ParallelRowsAndDoubles) {
    NodeSpec spec{"Softmax", "", 13, {}, 1};
    expectFastMatchesReference(spec, {randomTensor(DType::F32, {200, 127}, 1, -10, 10)});
    expectFastMatchesReference({"LogSoftmax", "", 13, {attrInt("axis", 1)}, 1},
                               {randomTensor(DType::F64, {40, 50, 33}, 2, -10, 10)}, 1e-12);
}

TEST(Softmax, EmptyAndScalarInputs) {
    NodeSpec spec{"Softmax", "", 13, {}, 1};
    EXPECT_EQ(runNode(spec, {Tensor(DType::F32, {0, 5})})[0].shape(), (Shape{0, 5}));
    EXPECT_EQ(runNode(spec, {Tensor(DType::F32, {4, 0})})[0].shape(), (Shape{4, 0}));
}

TEST(Softmax, BadAxisAndDtypeFailClearly) {
    EXPECT_THROW(runNode({"Softmax", "", 13, {attrInt("axis", 3)}, 1}, {randomTensor(DType::F32, {2, 2}, 1)}), Error);
    EXPECT_THROW(runNode({"Softmax", "", 13, {}, 1}, {Tensor::fromVector<int32_t>({2}, {1, 2})}), Error);
}

TEST(Hardmax, PicksFirstMaximum) {
    const Tensor x = Tensor::fromVector<float>({2, 3}, {1, 3, 3, -1, -2, -3});
    NodeSpec spec{"Hardmax", "", 13, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0], Tensor::fromVector<float>({2, 3}, {0, 1, 0, 1, 0, 0})));
    NodeSpec col{"Hardmax", "", 13, {attrInt("axis", 0)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(col, {x})[0], Tensor::fromVector<float>({2, 3}, {1, 1, 1, 0, 0, 0})));
}

float geluErf(float v) { return 0.5f * v * (1.f + std::erf(v / std::sqrt(2.f))); }
float geluTanh(float v) {
    return 0.5f * v * (1.f + std::tanh(std::sqrt(2.f / static_cast<float>(M_PI)) * (v + 0.044715f * v * v * v)));
}

TEST(Gelu, MatchesErfFormula) {
    const Tensor x = randomTensor(DType::F32, {7, 13}, 1, -4, 4);
    Tensor expected(DType::F32, {7, 13});
    for (int64_t i = 0; i < x.numel(); ++i) expected.data<float>()[i] = geluErf(x.data<float>()[i]);
    NodeSpec spec{"Gelu", "com.microsoft", 1, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0], expected, 1e-5));
    expectFastMatchesReference(spec, {randomTensor(DType::F32, {127, 129}, 2, -6, 6)}, 1e-5);
}

TEST(BiasGelu, AddsBiasOverLastDim) {
    const Tensor x = randomTensor(DType::F32, {3, 13}, 1, -3, 3);
    const Tensor b = randomTensor(DType::F32, {13}, 2);
    Tensor expected(DType::F32, {3, 13});
    for (int64_t i = 0; i < x.numel(); ++i) expected.data<float>()[i] = geluErf(x.data<float>()[i] + b.data<float>()[i % 13]);
    NodeSpec spec{"BiasGelu", "com.microsoft", 1, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, b})[0], expected, 1e-5));
    expectFastMatchesReference(spec, {x, b}, 1e-5);
    EXPECT_THROW(runNode(spec, {x, randomTensor(DType::F32, {5}, 3)}), Error);
}

TEST(FastGelu, TanhApproximationWithAndWithoutBias) {
    const Tensor x = randomTensor(DType::F32, {5, 7}, 1, -3, 3);
    const Tensor b = randomTensor(DType::F32, {7}, 2);
    Tensor plain(DType::F32, {5, 7}), biased(DType::F32, {5, 7});
    for (int64_t i = 0; i < x.numel(); ++i) {
        plain.data<float>()[i] = geluTanh(x.data<float>()[i]);
        biased.data<float>()[i] = geluTanh(x.data<float>()[i] + b.data<float>()[i % 7]);
    }
    NodeSpec spec{"FastGelu", "com.microsoft", 1, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0], plain, 1e-5));
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, b})[0], biased, 1e-5));
    expectFastMatchesReference(spec, {x, b}, 1e-5);
}

TEST(QuickGelu, IsXTimesSigmoidOfAlphaX) {
    const Tensor x = randomTensor(DType::F32, {7, 13}, 1, -5, 5);
    Tensor expected(DType::F32, {7, 13});
    for (int64_t i = 0; i < x.numel(); ++i) {
        const float v = x.data<float>()[i];
        expected.data<float>()[i] = v / (1.f + std::exp(-1.5f * v));
    }
    NodeSpec spec{"QuickGelu", "com.microsoft", 1, {testing::attrFloat("alpha", 1.5f)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x})[0], expected, 1e-5));
    expectFastMatchesReference(spec, {x}, 1e-5);
}

} // namespace
} // namespace opstudio
