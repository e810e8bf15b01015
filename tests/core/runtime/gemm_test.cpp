// MatMul / Gemm / Einsum / FusedMatMul: oneDNN fast path against the plain-loop reference on
// odd sizes (1, 7, 13, 127), batched and broadcast operands, 1-D operands, constant (packed)
// and fed weights; integer MatMul; Einsum patterns; error paths.
#include "support/test_util.h"

#include "opstudio/ir/half.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <gtest/gtest.h>

#include <cmath>

// NodeSpec literals below leave trailing fields (outputs, constantInputs) at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace opstudio {
namespace {

using ir::DType;
using ir::Tensor;
using testing::allClose;
using testing::attrFloat;
using testing::attrFloats;
using testing::attrInt;
using testing::attrString;
using testing::NodeSpec;
using testing::randomTensor;
using testing::runNode;
using Shape = std::vector<int64_t>;

// fp32 dot products of up to 127 terms against a double-accumulating reference.
constexpr double kGemmAtol = 1e-4;
constexpr double kGemmRtol = 1e-4;

/// Fast with B constant (packed once), fast with B fed, and reference must agree.
void expectMatMulAgrees(const NodeSpec& base, const Shape& a, const Shape& b, uint64_t seed,
                        const Shape& expectedOut = {}) {
    const Tensor ta = randomTensor(DType::F32, a, seed);
    const Tensor tb = randomTensor(DType::F32, b, seed + 1);
    NodeSpec spec = base;
    const auto ref = runNode(spec, {ta, tb}, true);
    if (!expectedOut.empty()) EXPECT_EQ(ref[0].shape(), expectedOut);
    const auto fedOne = runNode(spec, {ta, tb}, false, 1);
    const auto fedTwo = runNode(spec, {ta, tb}, false, 2);
    spec.constantInputs = {false, true};
    const auto packed = runNode(spec, {ta, tb}, false, 1);
    const std::string what = spec.opType + " " + ir::shapeToString(a) + " x " + ir::shapeToString(b);
    EXPECT_TRUE(allClose(fedOne[0], ref[0], kGemmAtol, kGemmRtol)) << what << " (fed, 1 thread)";
    EXPECT_TRUE(allClose(fedTwo[0], ref[0], kGemmAtol, kGemmRtol)) << what << " (fed, 2 threads)";
    EXPECT_TRUE(allClose(packed[0], ref[0], kGemmAtol, kGemmRtol)) << what << " (packed)";
}

TEST(MatMul, ReferenceMatchesHandComputed) {
    const Tensor a = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor b = Tensor::fromVector<float>({3, 2}, {7, 8, 9, 10, 11, 12});
    const Tensor expected = Tensor::fromVector<float>({2, 2}, {58, 64, 139, 154});
    for (bool reference : {true, false})
        EXPECT_TRUE(allClose(runNode({"MatMul", "", 13, {}}, {a, b}, reference)[0], expected));
}

TEST(MatMul, FastMatchesReferenceOnOddSizes) {
    uint64_t seed = 10;
    for (int64_t m : {1, 7, 13, 127})
        for (int64_t n : {1, 7, 13, 127})
            for (int64_t k : {1, 7, 13, 127})
                expectMatMulAgrees({"MatMul", "", 13, {}}, {m, k}, {k, n}, seed += 2, {m, n});
}

TEST(MatMul, FastMatchesReferenceBatchedAndBroadcast) {
    struct Case {
        Shape a, b, out;
    };
    const Case cases[] = {
        {{2, 1, 7, 13}, {3, 13, 5}, {2, 3, 7, 5}},
        {{3, 7, 13}, {13, 5}, {3, 7, 5}}, // constant-weight case: batch folds into M
        {{2, 3, 7, 13}, {2, 3, 13, 1}, {2, 3, 7, 1}},
        {{1, 7, 13}, {4, 13, 127}, {4, 7, 127}},
        {{5, 1, 13}, {5, 13, 7}, {5, 1, 7}},
        {{13}, {13, 7}, {7}},       // 1-D A: promoted then squeezed
        {{2, 7, 13}, {13}, {2, 7}}, // 1-D B
        {{13}, {13}, {}},           // dot product -> scalar
        {{7}, {3, 7, 5}, {3, 5}},
    };
    uint64_t seed = 200;
    for (const auto& c : cases)
        expectMatMulAgrees({"MatMul", "", 13, {}}, c.a, c.b, seed += 2, c.out);
}

TEST(MatMul, IntegerTypesUseExactLoops) {
    const Tensor a = Tensor::fromVector<int32_t>({2, 2}, {1, -2, 3, 4});
    const Tensor b = Tensor::fromVector<int32_t>({2, 3}, {5, 6, 7, 8, 9, 10});
    const Tensor expected = Tensor::fromVector<int32_t>({2, 3}, {-11, -12, -13, 47, 54, 61});
    EXPECT_TRUE(allClose(runNode({"MatMul", "", 13, {}}, {a, b})[0], expected));
    const Tensor a64 = Tensor::fromVector<int64_t>({3}, {1, 2, 3});
    const Tensor b64 = Tensor::fromVector<int64_t>({3}, {4, 5, 6});
    EXPECT_TRUE(allClose(runNode({"MatMul", "", 13, {}}, {a64, b64})[0], Tensor::scalar<int64_t>(32)));
    const Tensor au = Tensor::fromVector<uint32_t>({1, 2}, {3, 4});
    const Tensor bu = Tensor::fromVector<uint32_t>({2, 1}, {5, 6});
    EXPECT_TRUE(
        allClose(runNode({"MatMul", "", 13, {}}, {au, bu})[0], Tensor::fromVector<uint32_t>({1, 1}, {39})));
}

TEST(MatMul, ReportsPathByDtype) {
    for (DType dt : {DType::F32, DType::I32}) {
        auto model = std::make_shared<ir::Model>(
            testing::makeNodeModel({"MatMul", "", 13, {}, 1, {false, true}},
                                   {randomTensor(dt, {7, 13}, 1), randomTensor(dt, {13, 5}, 2)}));
        auto session = rt::Session::create(model, {});
        ASSERT_TRUE(session.ok()) << session.error().describe();
        EXPECT_EQ(session.value()->kernelPath(model->graph->order()[0]),
                  dt == DType::F32 ? "onednn" : "reference");
    }
}

/// Rounds a float tensor through float16 or bfloat16 (the values a half model would hold).
Tensor toHalf(const Tensor& t, DType dt) {
    Tensor out(dt, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i)
        out.data<uint16_t>()[i] =
            dt == DType::F16 ? ir::floatToHalf(t.data<float>()[i]) : ir::floatToBfloat16(t.data<float>()[i]);
    return out;
}
Tensor toFloat(const Tensor& t) {
    Tensor out(DType::F32, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i)
        out.data<float>()[i] = t.dtype() == DType::F16 ? ir::halfToFloat(t.data<uint16_t>()[i])
                                                       : ir::bfloat16ToFloat(t.data<uint16_t>()[i]);
    return out;
}

TEST(MatMul, HalfTypesComputeInFloat) {
    for (DType dt : {DType::F16, DType::BF16}) {
        const Tensor a = toHalf(randomTensor(DType::F32, {2, 7, 13}, 1), dt);
        const Tensor b = toHalf(randomTensor(DType::F32, {13, 5}, 2), dt);
        // Expected: the fp32 product of the rounded operands, rounded once more.
        const Tensor expected =
            toFloat(toHalf(runNode({"MatMul", "", 13, {}}, {toFloat(a), toFloat(b)}, true)[0], dt));
        for (bool reference : {true, false})
            for (bool constB : {false, true}) {
                const auto y = runNode({"MatMul", "", 13, {}, 1, {false, constB}}, {a, b}, reference);
                ASSERT_EQ(y[0].dtype(), dt);
                EXPECT_TRUE(allClose(toFloat(y[0]), expected, 1e-2, 1e-2));
            }
        const auto g = runNode({"Gemm", "", 13, {attrInt("transB", 1)}, 1, {false, true, true}},
                               {toHalf(randomTensor(DType::F32, {7, 13}, 3), dt),
                                toHalf(randomTensor(DType::F32, {5, 13}, 4), dt),
                                toHalf(randomTensor(DType::F32, {5}, 5), dt)});
        EXPECT_EQ(g[0].dtype(), dt);
        EXPECT_EQ(g[0].shape(), (Shape{7, 5}));
    }
}

TEST(MatMul, EmptyAndZeroInnerDims) {
    // K = 0: every output is an empty sum, i.e. 0.
    for (bool reference : {true, false}) {
        const auto y = runNode({"MatMul", "", 13, {}},
                               {Tensor(DType::F32, {3, 0}), Tensor(DType::F32, {0, 4})}, reference);
        EXPECT_TRUE(allClose(y[0], Tensor::zeros(DType::F32, {3, 4})));
        const auto e = runNode({"MatMul", "", 13, {}},
                               {Tensor(DType::F32, {0, 5}), randomTensor(DType::F32, {5, 4}, 1)}, reference);
        EXPECT_EQ(e[0].shape(), (Shape{0, 4}));
    }
}

TEST(MatMul, BadShapesThrowErrors) {
    EXPECT_THROW(runNode({"MatMul", "", 13, {}},
                         {randomTensor(DType::F32, {3, 4}, 1), randomTensor(DType::F32, {5, 2}, 2)}),
                 Error);
    EXPECT_THROW(runNode({"MatMul", "", 13, {}},
                         {randomTensor(DType::F32, {2, 3, 4}, 1), randomTensor(DType::F32, {3, 4, 2}, 2)}),
                 Error);
    EXPECT_THROW(
        runNode({"MatMul", "", 13, {}}, {Tensor::scalar<float>(1.f), randomTensor(DType::F32, {1}, 2)}),
        Error);
}

// ---------------------------------------------------------------------------------------------
// FusedMatMul (com.microsoft)

TEST(FusedMatMul, TransposesScaleAndActivationMatchReference) {
    uint64_t seed = 400;
    for (int transA : {0, 1})
        for (int transB : {0, 1}) {
            const Shape a = transA ? Shape{2, 13, 7} : Shape{2, 7, 13};
            const Shape b = transB ? Shape{5, 13} : Shape{13, 5};
            NodeSpec spec{"FusedMatMul",
                          "com.microsoft",
                          1,
                          {attrFloat("alpha", 0.5f), attrInt("transA", transA), attrInt("transB", transB),
                           attrString("activation", "LeakyRelu"), attrFloats("activation_params", {0.2f})}};
            expectMatMulAgrees(spec, a, b, seed += 2, {2, 7, 5});
        }
}

TEST(FusedMatMul, EqualsScaledMatMul) {
    const Tensor a = randomTensor(DType::F32, {7, 13}, 1);
    const Tensor b = randomTensor(DType::F32, {7, 13}, 2);
    // alpha * A B^T via transB, compared with plain MatMul on an explicitly transposed B.
    Tensor bt(DType::F32, {13, 7});
    for (int i = 0; i < 7; ++i)
        for (int j = 0; j < 13; ++j)
            bt.data<float>()[j * 7 + i] = b.data<float>()[i * 13 + j];
    Tensor expected = runNode({"MatMul", "", 13, {}}, {a, bt}, true)[0].clone();
    for (float& v : expected.span<float>())
        v *= 2.f;
    const auto y =
        runNode({"FusedMatMul", "com.microsoft", 1, {attrFloat("alpha", 2.f), attrInt("transB", 1)}}, {a, b});
    EXPECT_TRUE(allClose(y[0], expected, kGemmAtol, kGemmRtol));
}

// ---------------------------------------------------------------------------------------------
// Gemm

TEST(Gemm, FastMatchesReferenceWithAttributesAndBias) {
    const Shape biasShapes[] = {{}, {1}, {127}, {13, 1}, {13, 127}, {1, 127}};
    uint64_t seed = 600;
    const int64_t m = 13, n = 127, k = 7;
    for (int transA : {0, 1})
        for (int transB : {0, 1})
            for (const auto& cShape : biasShapes) {
                const Tensor a = randomTensor(DType::F32, transA ? Shape{k, m} : Shape{m, k}, seed += 3);
                const Tensor b = randomTensor(DType::F32, transB ? Shape{n, k} : Shape{k, n}, seed + 1);
                const Tensor c = randomTensor(DType::F32, cShape, seed + 2);
                NodeSpec spec{"Gemm",
                              "",
                              13,
                              {attrInt("transA", transA), attrInt("transB", transB),
                               attrFloat("alpha", 0.75f), attrFloat("beta", -1.5f)}};
                const auto ref = runNode(spec, {a, b, c}, true);
                ASSERT_EQ(ref[0].shape(), (Shape{m, n}));
                const auto fed = runNode(spec, {a, b, c}, false, 2);
                spec.constantInputs = {false, true, true};
                const auto packed = runNode(spec, {a, b, c}, false);
                const std::string what = "transA " + std::to_string(transA) + " transB " +
                                         std::to_string(transB) + " C " + ir::shapeToString(cShape);
                EXPECT_TRUE(allClose(fed[0], ref[0], kGemmAtol, kGemmRtol)) << what;
                EXPECT_TRUE(allClose(packed[0], ref[0], kGemmAtol, kGemmRtol)) << what;
            }
}

TEST(Gemm, ReferenceMatchesHandComputedAndOmitsC) {
    const Tensor a = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
    const Tensor b = Tensor::fromVector<float>({2, 2}, {1, 0, 0, 1});
    const Tensor c = Tensor::fromVector<float>({2}, {10, 20});
    for (bool reference : {true, false}) {
        const auto y = runNode({"Gemm", "", 13, {attrFloat("alpha", 2.f), attrFloat("beta", 0.5f)}},
                               {a, b, c}, reference);
        EXPECT_TRUE(allClose(y[0], Tensor::fromVector<float>({2, 2}, {7, 14, 11, 18})));
        const auto noC = runNode({"Gemm", "", 13, {}}, {a, b, Tensor()}, reference);
        EXPECT_TRUE(allClose(noC[0], a));
    }
}

TEST(Gemm, DoubleAndIntegerUseReference) {
    const Tensor a = Tensor::fromVector<int64_t>({1, 2}, {2, 3});
    const Tensor b = Tensor::fromVector<int64_t>({2, 1}, {4, 5});
    const Tensor c = Tensor::fromVector<int64_t>({1}, {1});
    EXPECT_TRUE(
        allClose(runNode({"Gemm", "", 13, {}}, {a, b, c})[0], Tensor::fromVector<int64_t>({1, 1}, {24})));
    const Tensor ad = randomTensor(DType::F64, {3, 4}, 1), bd = randomTensor(DType::F64, {4, 5}, 2);
    EXPECT_TRUE(allClose(runNode({"Gemm", "", 13, {}}, {ad, bd}, false)[0],
                         runNode({"Gemm", "", 13, {}}, {ad, bd}, true)[0], 1e-12, 1e-12));
}

TEST(FusedGemm, EqualsGemmThenActivation) {
    const Tensor a = randomTensor(DType::F32, {13, 7}, 1);
    const Tensor b = randomTensor(DType::F32, {5, 7}, 2);
    const Tensor c = randomTensor(DType::F32, {5}, 3);
    const std::vector<ir::Attribute> gemmAttrs{attrInt("transB", 1), attrFloat("alpha", 0.5f),
                                               attrFloat("beta", 2.f)};
    Tensor expected = runNode({"Gemm", "", 13, gemmAttrs}, {a, b, c}, true)[0].clone();
    for (float& v : expected.span<float>())
        v = v >= 0 ? v : 0.3f * v;
    std::vector<ir::Attribute> attrs = gemmAttrs;
    attrs.push_back(attrString("activation", "LeakyRelu"));
    attrs.push_back(attrFloat("activation_alpha", 0.3f));
    for (bool reference : {true, false}) {
        const auto y =
            runNode({"FusedGemm", "com.microsoft", 1, attrs, 1, {false, true, true}}, {a, b, c}, reference);
        EXPECT_TRUE(allClose(y[0], expected, kGemmAtol, kGemmRtol)) << (reference ? "reference" : "fast");
    }
}

TEST(Gemm, BadShapesThrowErrors) {
    const Tensor a = randomTensor(DType::F32, {3, 4}, 1);
    EXPECT_THROW(runNode({"Gemm", "", 13, {}}, {a, randomTensor(DType::F32, {5, 2}, 2)}), Error);
    EXPECT_THROW(runNode({"Gemm", "", 13, {}},
                         {a, randomTensor(DType::F32, {4, 2}, 2), randomTensor(DType::F32, {4}, 3)}),
                 Error);
    EXPECT_THROW(runNode({"Gemm", "", 13, {}},
                         {randomTensor(DType::F32, {2, 3, 4}, 1), randomTensor(DType::F32, {4, 2}, 2)}),
                 Error);
}

// ---------------------------------------------------------------------------------------------
// Einsum

void expectEinsumAgrees(const std::string& equation, const std::vector<Shape>& shapes, const Shape& out,
                        uint64_t seed) {
    std::vector<Tensor> inputs;
    for (const auto& s : shapes)
        inputs.push_back(randomTensor(DType::F32, s, seed++));
    const NodeSpec spec{"Einsum", "", 12, {attrString("equation", equation)}};
    const auto ref = runNode(spec, inputs, true);
    EXPECT_EQ(ref[0].shape(), out) << equation;
    const auto fast = runNode(spec, inputs, false);
    EXPECT_TRUE(allClose(fast[0], ref[0], kGemmAtol, kGemmRtol)) << equation;
}

TEST(Einsum, MatMulPatternsMatchReference) {
    expectEinsumAgrees("bij,bjk->bik", {{3, 7, 13}, {3, 13, 5}}, {3, 7, 5}, 1);
    expectEinsumAgrees("bhid,bhjd->bhij", {{2, 3, 7, 13}, {2, 3, 5, 13}}, {2, 3, 7, 5}, 3);
    expectEinsumAgrees("bhij,bhjd->bhid", {{2, 3, 7, 5}, {2, 3, 5, 13}}, {2, 3, 7, 13}, 5);
    expectEinsumAgrees("ij,jk", {{7, 13}, {13, 5}}, {7, 5}, 7);     // implicit output
    expectEinsumAgrees("ik,jk->ji", {{7, 13}, {5, 13}}, {5, 7}, 9); // output permuted
    expectEinsumAgrees("...ij,...jk->...ik", {{2, 3, 7, 13}, {2, 3, 13, 1}}, {2, 3, 7, 1}, 11);
    expectEinsumAgrees("i,j->ij", {{7}, {13}}, {7, 13}, 13); // outer product (K empty)
    expectEinsumAgrees("bi,bi->b", {{7, 13}, {7, 13}}, {7}, 15);
}

TEST(Einsum, GeneralPatternsMatchHandComputed) {
    const Tensor m = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
    auto run = [&](const std::string& eq, const std::vector<Tensor>& in) {
        return runNode({"Einsum", "", 12, {attrString("equation", eq)}}, in)[0];
    };
    EXPECT_TRUE(allClose(run("ii->i", {m}), Tensor::fromVector<float>({2}, {1, 4})));           // diagonal
    EXPECT_TRUE(allClose(run("ii", {m}), Tensor::scalar<float>(5)));                            // trace
    EXPECT_TRUE(allClose(run("ij->ji", {m}), Tensor::fromVector<float>({2, 2}, {1, 3, 2, 4}))); // transpose
    EXPECT_TRUE(allClose(run("ij->", {m}), Tensor::scalar<float>(10)));                         // sum
    EXPECT_TRUE(allClose(run("ij,ij,ij->i", {m, m, m}), Tensor::fromVector<float>({2}, {9, 91})));
    // Ellipsis broadcast with a size-1 dim.
    const Tensor a = Tensor::fromVector<float>({1, 2}, {1, 2});
    const Tensor b = Tensor::fromVector<float>({3, 2}, {1, 1, 2, 2, 3, 3});
    EXPECT_TRUE(allClose(run("...i,...i->...", {a, b}), Tensor::fromVector<float>({3}, {3, 6, 9})));
}

TEST(Einsum, IntegerOperands) {
    const Tensor a = Tensor::fromVector<int64_t>({2, 2}, {1, 2, 3, 4});
    EXPECT_TRUE(allClose(runNode({"Einsum", "", 12, {attrString("equation", "ij,jk->ik")}}, {a, a})[0],
                         Tensor::fromVector<int64_t>({2, 2}, {7, 10, 15, 22})));
}

TEST(Einsum, BadEquationsThrow) {
    const Tensor m = randomTensor(DType::F32, {2, 3}, 1);
    auto run = [&](const std::string& eq, const std::vector<Tensor>& in) {
        return runNode({"Einsum", "", 12, {attrString("equation", eq)}}, in);
    };
    EXPECT_THROW(run("ijk->i", {m}), Error);                                         // rank mismatch
    EXPECT_THROW(run("ij,jk->ik", {m}), Error);                                      // operand count
    EXPECT_THROW(run("ij,ij->ij", {m, randomTensor(DType::F32, {2, 4}, 2)}), Error); // size mismatch
    EXPECT_THROW(run("ij->k", {m}), Error);                                          // unknown output label
    EXPECT_THROW(run("i1->i", {m}), Error);                                          // bad label
}

} // namespace
} // namespace opstudio
