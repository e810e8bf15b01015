// Normalization kernels: hand-computed values, fast vs reference on odd shapes, opset semantics
// and clear failures.
#include "support/test_util.h"

#include <cmath>

// NodeSpec literals below leave constantInputs at its default on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using Shape = std::vector<int64_t>;
using ir::Tensor;
using testing::attrFloat;
using testing::attrInt;
using testing::attrInts;
using testing::NodeSpec;
using testing::randomTensor;
using testing::runNode;

/// Runs a node on the fast path (2 threads) and on the reference path and checks they agree.
void expectFastMatchesReference(const NodeSpec& spec, const std::vector<Tensor>& inputs, double atol = 1e-5) {
    const auto fast = runNode(spec, inputs, /*reference=*/false, /*threads=*/2);
    const auto ref = runNode(spec, inputs, /*reference=*/true);
    ASSERT_EQ(fast.size(), ref.size());
    for (size_t i = 0; i < fast.size(); ++i) EXPECT_TRUE(testing::allClose(fast[i], ref[i], atol, 1e-5)) << "output " << i;
}

TEST(LayerNormalization, NormalizesLastAxisWithScaleAndBias) {
    // Row [1, 2, 3]: mean 2, var 2/3 -> y = (x - 2) / sqrt(2/3 + eps) * w + b.
    const Tensor x = Tensor::fromVector<float>({1, 3}, {1, 2, 3});
    const Tensor w = Tensor::fromVector<float>({3}, {1, 2, 0.5f});
    const Tensor b = Tensor::fromVector<float>({3}, {0, 1, -1});
    NodeSpec spec{"LayerNormalization", "", 17, {attrFloat("epsilon", 1e-5f)}, 3};
    const auto out = runNode(spec, {x, w, b});
    const float inv = 1.f / std::sqrt(2.f / 3.f + 1e-5f);
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({1, 3}, {-inv, 1.f, 0.5f * inv - 1.f}), 1e-5));
    EXPECT_TRUE(testing::allClose(out[1], Tensor::fromVector<float>({1, 1}, {2.f})));
    EXPECT_TRUE(testing::allClose(out[2], Tensor::fromVector<float>({1, 1}, {inv}), 1e-5));
}

TEST(LayerNormalization, FastMatchesReferenceOnOddShapes) {
    for (int64_t d : {1, 7, 13, 127}) {
        for (int64_t axis : {-1, 1}) {
            const Shape shape{3, 5, d};
            const Shape norm = axis == -1 ? Shape{d} : Shape{5, d};
            NodeSpec spec{"LayerNormalization", "", 17, {attrInt("axis", axis)}, 3};
            expectFastMatchesReference(spec, {randomTensor(DType::F32, shape, 1), randomTensor(DType::F32, norm, 2),
                                              randomTensor(DType::F32, norm, 3)});
        }
    }
}

TEST(LayerNormalization, ParallelRowsMatchReference) {
    // Enough rows for the fast path to split them over threads.
    NodeSpec spec{"LayerNormalization", "", 17, {}, 3};
    expectFastMatchesReference(spec, {randomTensor(DType::F32, {300, 127}, 1), randomTensor(DType::F32, {127}, 2),
                                      randomTensor(DType::F32, {127}, 3)});
}

TEST(LayerNormalization, BroadcastsScaleAndOmitsBias) {
    // Scale of shape [1, d] broadcast over the normalized [5, d]; no bias.
    NodeSpec spec{"LayerNormalization", "", 17, {attrInt("axis", 1)}, 1};
    const Tensor x = randomTensor(DType::F32, {2, 5, 7}, 4);
    const Tensor w = randomTensor(DType::F32, {1, 7}, 5);
    const auto out = runNode(spec, {x, w});
    const auto full = runNode(spec, {x, Tensor::fromVector<float>({5, 7}, [&] {
        std::vector<float> v;
        for (int r = 0; r < 5; ++r) v.insert(v.end(), w.data<float>(), w.data<float>() + 7);
        return v;
    }())});
    EXPECT_TRUE(testing::allClose(out[0], full[0]));
}

TEST(LayerNormalization, EmptyInputGivesEmptyOutput) {
    NodeSpec spec{"LayerNormalization", "", 17, {}, 1};
    const auto out = runNode(spec, {Tensor(DType::F32, {0, 4}), randomTensor(DType::F32, {4}, 1)});
    EXPECT_EQ(out[0].shape(), (Shape{0, 4}));
}

TEST(LayerNormalization, DoubleInputWorks) {
    NodeSpec spec{"LayerNormalization", "", 17, {}, 1};
    expectFastMatchesReference(spec, {randomTensor(DType::F64, {4, 13}, 1), randomTensor(DType::F64, {13}, 2)}, 1e-12);
}

TEST(LayerNormalization, MismatchedScaleFailsClearly) {
    NodeSpec spec{"LayerNormalization", "", 17, {}, 1};
    EXPECT_THROW(runNode(spec, {randomTensor(DType::F32, {2, 4}, 1), randomTensor(DType::F32, {3}, 2)}), Error);
}

TEST(SimplifiedLayerNormalization, IsRmsNorm) {
    // y = x / sqrt(mean(x^2) + eps) * w: row [3, 4] -> rms = sqrt(12.5).
    NodeSpec spec{"SimplifiedLayerNormalization", "com.microsoft", 1, {attrFloat("epsilon", 0.f)}, 2};
    const auto out = runNode(spec, {Tensor::fromVector<float>({1, 2}, {3, 4}), Tensor::fromVector<float>({2}, {1, 2})});
    const float rms = std::sqrt(12.5f);
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({1, 2}, {3 / rms, 8 / rms})));
    EXPECT_TRUE(testing::allClose(out[1], Tensor::fromVector<float>({1, 1}, {1 / rms})));
    expectFastMatchesReference(spec, {randomTensor(DType::F32, {7, 127}, 1), randomTensor(DType::F32, {127}, 2)});
}

TEST(SkipLayerNormalization, EqualsLayerNormOfSum) {
    const Tensor x = randomTensor(DType::F32, {2, 3, 13}, 1);
    const Tensor skip = randomTensor(DType::F32, {2, 3, 13}, 2);
    const Tensor gamma = randomTensor(DType::F32, {13}, 3);
    const Tensor beta = randomTensor(DType::F32, {13}, 4);
    const Tensor bias = randomTensor(DType::F32, {13}, 5);
    NodeSpec spec{"SkipLayerNormalization", "com.microsoft", 1, {attrFloat("epsilon", 1e-5f)}, 4};
    const auto out = runNode(spec, {x, skip, gamma, beta, bias});
    Tensor sum(DType::F32, {2, 3, 13});
    for (int64_t i = 0; i < sum.numel(); ++i)
        sum.data<float>()[i] = x.data<float>()[i] + skip.data<float>()[i] + bias.data<float>()[i % 13];
    NodeSpec ln{"LayerNormalization", "", 17, {attrFloat("epsilon", 1e-5f)}, 3};
    const auto expected = runNode(ln, {sum, gamma, beta});
    EXPECT_TRUE(testing::allClose(out[0], expected[0]));
    EXPECT_TRUE(testing::allClose(out[1], expected[1]));
    EXPECT_TRUE(testing::allClose(out[2], expected[2]));
    EXPECT_TRUE(testing::allClose(out[3], sum));
    expectFastMatchesReference(spec, {x, skip, gamma, beta, bias});
}

TEST(SkipLayerNormalization, BroadcastsSkipOverBatch) {
    const Tensor x = randomTensor(DType::F32, {2, 3, 7}, 1);
    const Tensor skip = randomTensor(DType::F32, {3, 7}, 2);
    Tensor skipFull(DType::F32, {2, 3, 7});
    for (int64_t i = 0; i < skipFull.numel(); ++i) skipFull.data<float>()[i] = skip.data<float>()[i % 21];
    const Tensor gamma = randomTensor(DType::F32, {7}, 3);
    NodeSpec spec{"SkipLayerNormalization", "com.microsoft", 1, {}, 1};
    EXPECT_TRUE(testing::allClose(runNode(spec, {x, skip, gamma})[0], runNode(spec, {x, skipFull, gamma})[0]));
}

TEST(BatchNormalization, InferenceMatchesFormula) {
    // y = (x - mean) * scale / sqrt(var + eps) + B per channel.
    const Tensor x = Tensor::fromVector<float>({1, 2, 1, 2}, {1, 2, 3, 4});
    const Tensor s = Tensor::fromVector<float>({2}, {1, 2});
    const Tensor b = Tensor::fromVector<float>({2}, {0, 1});
    const Tensor m = Tensor::fromVector<float>({2}, {1, 3});
    const Tensor v = Tensor::fromVector<float>({2}, {4, 1});
    NodeSpec spec{"BatchNormalization", "", 15, {attrFloat("epsilon", 0.f)}, 1};
    const auto out = runNode(spec, {x, s, b, m, v});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({1, 2, 1, 2}, {0.f, 0.5f, 1.f, 3.f})));
}

TEST(BatchNormalization, FastMatchesReferenceAcrossOpsets) {
    for (int64_t opset : {7, 9, 14, 15}) {
        for (int64_t hw : {1, 7, 13}) {
            NodeSpec spec{"BatchNormalization", "", opset, {}, 1};
            expectFastMatchesReference(spec, {randomTensor(DType::F32, {2, 3, hw, 5}, 1), randomTensor(DType::F32, {3}, 2),
                                              randomTensor(DType::F32, {3}, 3), randomTensor(DType::F32, {3}, 4),
                                              randomTensor(DType::F32, {3}, 5, 0.5, 2.0)});
        }
    }
}

TEST(BatchNormalization, NonSpatialOpset7UsesPerPositionParameters) {
    // spatial=0: parameters of shape (C, H, W); with all-equal values it equals the spatial form.
    const Tensor x = randomTensor(DType::F32, {2, 3, 2, 2}, 1);
    std::vector<float> s(12), b(12), m(12), v(12);
    for (int i = 0; i < 12; ++i) {
        const int c = i / 4;
        s[i] = 1.f + c;
        b[i] = 0.5f * c;
        m[i] = 0.1f * c;
        v[i] = 1.f + 0.25f * c;
    }
    NodeSpec spec{"BatchNormalization", "", 7, {attrInt("spatial", 0)}, 1};
    const auto out = runNode(spec, {x, Tensor::fromVector<float>({3, 2, 2}, s), Tensor::fromVector<float>({3, 2, 2}, b),
                                    Tensor::fromVector<float>({3, 2, 2}, m), Tensor::fromVector<float>({3, 2, 2}, v)});
    NodeSpec spatial{"BatchNormalization", "", 7, {}, 1};
    const auto expected =
        runNode(spatial, {x, Tensor::fromVector<float>({3}, {1, 2, 3}), Tensor::fromVector<float>({3}, {0, 0.5f, 1}),
                          Tensor::fromVector<float>({3}, {0, 0.1f, 0.2f}), Tensor::fromVector<float>({3}, {1, 1.25f, 1.5f})});
    EXPECT_TRUE(testing::allClose(out[0], expected[0]));
}

TEST(BatchNormalization, TrainingModeUpdatesRunningStatistics) {
    // Channel values {1, 3}: batch mean 2, var 1; running = input * 0.9 + batch * 0.1.
    const Tensor x = Tensor::fromVector<float>({2, 1, 1, 1}, {1, 3});
    NodeSpec spec{"BatchNormalization", "", 15, {attrInt("training_mode", 1), attrFloat("epsilon", 0.f)}, 3};
    const auto out = runNode(spec, {x, Tensor::fromVector<float>({1}, {1}), Tensor::fromVector<float>({1}, {0}),
                                    Tensor::fromVector<float>({1}, {0}), Tensor::fromVector<float>({1}, {1})});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({2, 1, 1, 1}, {-1, 1})));
    EXPECT_TRUE(testing::allClose(out[1], Tensor::fromVector<float>({1}, {0.2f})));
    EXPECT_TRUE(testing::allClose(out[2], Tensor::fromVector<float>({1}, {1.0f})));
}

TEST(BatchNormalization, WrongParameterSizeFailsClearly) {
    NodeSpec spec{"BatchNormalization", "", 15, {}, 1};
    const Tensor p = randomTensor(DType::F32, {2}, 2);
    EXPECT_THROW(runNode(spec, {randomTensor(DType::F32, {1, 3, 2}, 1), p, p, p, p}), Error);
}

TEST(InstanceNormalization, NormalizesEachPlane) {
    // Plane [1, 3]: mean 2, var 1 -> [-1, 1] * scale + B.
    NodeSpec spec{"InstanceNormalization", "", 6, {attrFloat("epsilon", 0.f)}, 1};
    const auto out = runNode(spec, {Tensor::fromVector<float>({1, 1, 2}, {1, 3}), Tensor::fromVector<float>({1}, {2}),
                                    Tensor::fromVector<float>({1}, {1})});
    EXPECT_TRUE(testing::allClose(out[0], Tensor::fromVector<float>({1, 1, 2}, {-1, 3})));
    for (int64_t hw : {1, 7, 127}) {
        expectFastMatchesReference(spec, {randomTensor(DType::F32, {2, 3, hw}, 1), randomTensor(DType::F32, {3}, 2),
                                          randomTensor(DType::F32, {3}, 3)});
    }
}

TEST(LpNormalization, L1AndL2AlongAxis) {
    const Tensor x = Tensor::fromVector<float>({2, 2}, {3, 4, 0, 0});
    NodeSpec l2{"LpNormalization", "", 1, {attrInt("axis", 1), attrInt("p", 2)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(l2, {x})[0], Tensor::fromVector<float>({2, 2}, {0.6f, 0.8f, 0, 0})));
    NodeSpec l1{"LpNormalization", "", 1, {attrInt("axis", 0), attrInt("p", 1)}, 1};
    EXPECT_TRUE(testing::allClose(runNode(l1, {x})[0], Tensor::fromVector<float>({2, 2}, {1, 1, 0, 0})));
    expectFastMatchesReference(l2, {randomTensor(DType::F32, {13, 7}, 1)});
    NodeSpec bad{"LpNormalization", "", 1, {attrInt("p", 3)}, 1};
    EXPECT_THROW(runNode(bad, {x}), Error);
}

TEST(MeanVarianceNormalization, ZeroMeanUnitVariancePerChannel) {
    NodeSpec spec{"MeanVarianceNormalization", "", 13, {}, 1};
    const auto out = runNode(spec, {randomTensor(DType::F32, {2, 3, 4, 5}, 1)})[0];
    const float* y = out.data<float>();
    for (int c = 0; c < 3; ++c) {
        double s = 0, s2 = 0;
        for (int n = 0; n < 2; ++n)
            for (int i = 0; i < 20; ++i) {
                const double v = y[(n * 3 + c) * 20 + i];
                s += v;
                s2 += v * v;
            }
        EXPECT_NEAR(s / 40, 0.0, 1e-5);
        EXPECT_NEAR(s2 / 40, 1.0, 1e-4);
    }
}

TEST(NormKernels, EmptyBatchGivesEmptyOutputs) {
    const Tensor p = randomTensor(DType::F32, {3}, 1, 0.5, 1.5);
    EXPECT_EQ(runNode({"BatchNormalization", "", 15, {}, 1}, {Tensor(DType::F32, {0, 3, 4}), p, p, p, p}, false, 2)[0].shape(),
              (Shape{0, 3, 4}));
    EXPECT_EQ(runNode({"InstanceNormalization", "", 6, {}, 1}, {Tensor(DType::F32, {0, 3, 4}), p, p}, false, 2)[0].shape(),
              (Shape{0, 3, 4}));
    EXPECT_EQ(runNode({"SkipLayerNormalization", "com.microsoft", 1, {}, 1},
                      {Tensor(DType::F32, {0, 2, 3}), Tensor(DType::F32, {0, 2, 3}), p}, false, 2)[0].shape(),
              (Shape{0, 2, 3}));
    EXPECT_EQ(runNode({"LpNormalization", "", 1, {}, 1}, {Tensor(DType::F32, {0, 3})})[0].shape(), (Shape{0, 3}));
    EXPECT_EQ(runNode({"MeanVarianceNormalization", "", 13, {}, 1}, {Tensor(DType::F32, {0, 3, 2, 2})})[0].shape(),
              (Shape{0, 3, 2, 2}));
}

} // namespace
} // namespace opstudio
