// The calibration collector against statistics computed by hand on a 4-feature model over two sets.
#include "support/graph_builder.h"

#include "opstudio/calibrate/collector.h"

#include <gtest/gtest.h>

namespace opstudio::testing {
namespace {

// Two calibration sets of x [3, 4] (rows × features).
const std::vector<float> kSet0 = {1, 2, 0, -1, /**/ 0, 1, 3, 2, /**/ -2, 0, 1, 1};
const std::vector<float> kSet1 = {1, 1, 1, 1, /**/ 0, 0, 0, -4, /**/ 2, -1, 0, 0};

ir::Attribute intAttr(const std::string& name, int64_t v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Int;
    a.i = v;
    return a;
}

/// x -> MatMul(W) "fc" -> y -> Relu -> r, with W chosen so that y = [x0 + x2, x1 - x2];
/// x -> Transpose -> xt [4, 3] -> Gemm(transA=1) "gt": the same input rows seen through transA.
std::shared_ptr<ir::Model> tinyModel() {
    const auto w = ir::Tensor::fromVector<float>({4, 2}, {1, 0, 0, 1, 1, -1, 0, 0});
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {3, 4})
        .initializer("w", w)
        .initializer("w2", w.clone())
        .node("MatMul", {"x", "w"}, {"y"}, {}, {}, "fc")
        .node("Relu", {"y"}, {"r"}, {}, {}, "relu")
        .node("Transpose", {"x"}, {"xt"}, {}, {}, "tr")
        .node("Gemm", {"xt", "w2"}, {"z"}, {intAttr("transA", 1)}, {}, "gt")
        .output("r")
        .output("z")
        .build();
}

passes::CalibrationData twoSets() {
    passes::CalibrationData data;
    data.feeds.push_back({{"x", ir::Tensor::fromVector<float>({3, 4}, kSet0)}});
    data.feeds.push_back({{"x", ir::Tensor::fromVector<float>({3, 4}, kSet1)}});
    return data;
}

void expectHandComputedLayer(const calibrate::LayerInputStats& s) {
    EXPECT_EQ(s.k, 4);
    EXPECT_EQ(s.rows, 6);
    // Σx² per feature over the six rows: f0 1+0+4+1+0+4, f1 4+1+0+1+0+1, f2 0+9+1+1+0+0, f3 1+4+1+1+16+0.
    EXPECT_EQ(s.sumSq, (std::vector<double>{10, 7, 11, 23}));
    EXPECT_EQ(s.absMax, (std::vector<float>{2, 2, 3, 4}));
    ASSERT_EQ(s.gram.k, 4);
    EXPECT_EQ(s.gram.rows, 6);
    // H01 = 1·2 + 0·1 + (-2)·0 + 1·1 + 0·0 + 2·(-1) = 1;  H23 = 0·(-1) + 3·2 + 1·1 + 1·1 + 0 + 0 = 8.
    EXPECT_DOUBLE_EQ(s.gram.at(0, 1), 1.0);
    EXPECT_DOUBLE_EQ(s.gram.at(2, 3), 8.0);
    EXPECT_DOUBLE_EQ(s.gram.at(3, 2), 8.0);
    for (int i = 0; i < 4; ++i)
        EXPECT_DOUBLE_EQ(s.gram.at(i, i), s.sumSq[i]);
    // Every entry against a direct sum over the rows.
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            double h = 0;
            for (const auto* set : {&kSet0, &kSet1})
                for (int r = 0; r < 3; ++r)
                    h += static_cast<double>((*set)[r * 4 + i]) * (*set)[r * 4 + j];
            EXPECT_DOUBLE_EQ(s.gram.at(i, j), h) << i << "," << j;
        }
}

TEST(CalibrationCollector, LayerInputsMatchHandComputedSums) {
    auto m = tinyModel();
    auto r = calibrate::collectLayerInputs(*m, twoSets(), {"fc", "gt"});
    ASSERT_TRUE(r.ok()) << r.error().what();
    ASSERT_EQ(r.value().count("fc"), 1u);
    EXPECT_EQ(r.value().at("fc").input, "x");
    expectHandComputedLayer(r.value().at("fc"));
    // Gemm transA=1 reads xt [4, 3]: its columns are the rows of x.
    EXPECT_EQ(r.value().at("gt").input, "xt");
    expectHandComputedLayer(r.value().at("gt"));
}

TEST(CalibrationCollector, GramIsOptional) {
    auto m = tinyModel();
    calibrate::CollectOptions o;
    o.gram = false;
    auto r = calibrate::collectLayerInputs(*m, twoSets(), {"fc"}, o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(r.value().at("fc").gram.k, 0);
    EXPECT_TRUE(r.value().at("fc").gram.h.empty());
    EXPECT_EQ(r.value().at("fc").sumSq, (std::vector<double>{10, 7, 11, 23}));
}

TEST(CalibrationCollector, TensorStatsOfAnInputMatchHandComputedValues) {
    auto m = tinyModel();
    calibrate::CollectOptions o;
    o.histogramBins = 8;
    auto r = calibrate::collectTensorStats(*m, twoSets(), {"x"}, o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    const calibrate::TensorStats& s = r.value().at("x");
    EXPECT_EQ(s.count, 24);
    EXPECT_EQ(s.zeros, 8);
    EXPECT_EQ(s.min, -4);
    EXPECT_EQ(s.max, 3);
    EXPECT_EQ(s.channelSumSq, (std::vector<double>{10, 7, 11, 23}));
    EXPECT_EQ(s.channelAbsMax, (std::vector<float>{2, 2, 3, 4}));
    EXPECT_EQ(s.channelZeros, (std::vector<int64_t>{2, 2, 3, 1}));
    // Set 0 starts the range at 3 (bins of 0.75), set 1's -4 doubles it to 6 (bins of 1.5, edges
    // -6 -4.5 -3 -1.5 0 1.5 3 4.5 6; the 3 of set 0 was clamped into the old last bin [2.25, 3]).
    EXPECT_EQ(s.histogram.range, 6);
    EXPECT_EQ(s.histogram.counts, (std::vector<uint64_t>{0, 1, 1, 2, 16, 4, 0, 0}));
    EXPECT_DOUBLE_EQ(s.histogram.binCenter(4), 0.75);
    // Half of the 24 samples lie below the 12th: inside bin 4 [0, 1.5), 8 of its 16 -> 0.75.
    EXPECT_DOUBLE_EQ(s.histogram.quantile(0.5), 0.75);
}

TEST(CalibrationCollector, TensorStatsOfANodeOutputMatchHandComputedValues) {
    auto m = tinyModel();
    auto r = calibrate::collectTensorStats(*m, twoSets(), {"r"});
    ASSERT_TRUE(r.ok()) << r.error().what();
    const calibrate::TensorStats& s = r.value().at("r");
    // relu([x0 + x2, x1 - x2]): set 0 [1 2][3 0][0 0], set 1 [2 0][0 0][2 0].
    EXPECT_EQ(s.count, 12);
    EXPECT_EQ(s.zeros, 7);
    EXPECT_EQ(s.min, 0);
    EXPECT_EQ(s.max, 3);
    EXPECT_EQ(s.channelSumSq, (std::vector<double>{18, 4}));
    EXPECT_EQ(s.channelAbsMax, (std::vector<float>{3, 2}));
    // Channel 0: 1 3 0 2 0 2; channel 1: 2 0 0 0 0 0.
    EXPECT_EQ(s.channelZeros, (std::vector<int64_t>{2, 5}));
    EXPECT_EQ(s.nearZeros, 7);
    uint64_t total = 0;
    for (uint64_t c : s.histogram.counts)
        total += c;
    EXPECT_EQ(total, 12u);
}

TEST(CalibrationCollector, ChannelAxisOneGivesNchwChannelsAndNearZeros) {
    auto m = GraphBuilder(17)
                 .input("x", ir::DType::F32, {1, 2, 2, 2})
                 .node("Relu", {"x"}, {"r"}, {}, {}, "relu")
                 .output("r")
                 .build();
    passes::CalibrationData data;
    data.feeds.push_back({{"x", ir::Tensor::fromVector<float>({1, 2, 2, 2}, {1, -1, 0, 2, -3, 0.0005f, -1, 4})}});
    calibrate::CollectOptions o;
    o.channelAxis = 1;
    auto r = calibrate::collectTensorStats(*m, data, {"r"}, o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    const calibrate::TensorStats& s = r.value().at("r");
    // relu: channel 0 [1 0 0 2], channel 1 [0 0.0005 0 4].
    EXPECT_EQ(s.channelZeros, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(s.channelNearZeros, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(s.nearZeros, 5);
    EXPECT_EQ(s.channelAbsMax, (std::vector<float>{2, 4}));
    EXPECT_DOUBLE_EQ(s.channelSumSq[0], 5.0);
    EXPECT_NEAR(s.channelSumSq[1], 16.0, 1e-6);
    o.channelAxis = 4;
    auto bad = calibrate::collectTensorStats(*m, data, {"r"}, o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(std::string(bad.error().what()).find("channel axis 4"), std::string::npos);
}

TEST(CalibrationCollector, ReportsProgressPerSetAndStopsWhenCancelled) {
    auto m = tinyModel();
    std::vector<std::pair<int64_t, int64_t>> progress;
    calibrate::CollectOptions o;
    o.progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
    auto r = calibrate::collect(*m, twoSets(), {{"r"}, {"fc"}}, o);
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(r.value().sets, 2);
    EXPECT_EQ(progress, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 2}}));

    int calls = 0;
    o.progress = {};
    o.cancelled = [&] { return ++calls > 1; }; // cancel before the second set
    auto c = calibrate::collect(*m, twoSets(), {{"r"}, {"fc"}}, o);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(std::string(c.error().what()).find("cancelled"), std::string::npos);
}

ir::Attribute intsAttr(const std::string& name, std::vector<int64_t> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Ints;
    a.ints = std::move(v);
    return a;
}

/// x [1, 2, 4, 5] through a 2x3 Conv with `attrs`; features (ki·3 + kj)·2 + c of the im2col rows,
/// computed here straight from the definition (out[y][x] reads in[y·s - pad + ki·d][x·s - pad + kj·d]).
void expectConvIm2col(std::vector<ir::Attribute> attrs, int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                      int64_t oh, int64_t ow, int64_t dh = 1, int64_t dw = 1) {
    std::vector<float> x(40);
    for (size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>((static_cast<int>(i) * 7) % 11) - 5.f;
    auto m = GraphBuilder(17)
                 .input("x", ir::DType::F32, {1, 2, 4, 5})
                 .initializer("w", ir::Tensor::fromVector<float>({3, 2, 2, 3}, std::vector<float>(36, 0.5f)))
                 .node("Conv", {"x", "w"}, {"y"}, std::move(attrs), {}, "conv")
                 .output("y")
                 .build();
    passes::CalibrationData data;
    data.feeds.push_back({{"x", ir::Tensor::fromVector<float>({1, 2, 4, 5}, x)}});
    auto r = calibrate::collectLayerInputs(*m, data, {"conv"});
    ASSERT_TRUE(r.ok()) << r.error().what();
    const calibrate::LayerInputStats& s = r.value().at("conv");
    ASSERT_EQ(s.k, 12);
    ASSERT_EQ(s.rows, oh * ow);
    std::vector<std::vector<double>> rows;
    for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
            std::vector<double> row(12, 0.0);
            for (int64_t ki = 0; ki < 2; ++ki)
                for (int64_t kj = 0; kj < 3; ++kj)
                    for (int64_t c = 0; c < 2; ++c) {
                        const int64_t iy = y * sh - pt + ki * dh, ix = xo * sw - pl + kj * dw;
                        if (iy >= 0 && iy < 4 && ix >= 0 && ix < 5) row[(ki * 3 + kj) * 2 + c] = x[(c * 4 + iy) * 5 + ix];
                    }
            rows.push_back(row);
        }
    for (int i = 0; i < 12; ++i) {
        double sq = 0;
        for (const auto& row : rows)
            sq += row[i] * row[i];
        EXPECT_DOUBLE_EQ(s.sumSq[i], sq) << "feature " << i;
        for (int j = 0; j < 12; ++j) {
            double h = 0;
            for (const auto& row : rows)
                h += row[i] * row[j];
            EXPECT_DOUBLE_EQ(s.gram.at(i, j), h) << i << "," << j;
        }
    }
}

TEST(CalibrationCollector, ConvInputsAreTheIm2colRows) {
    expectConvIm2col({}, 1, 1, 0, 0, /*oh=*/3, /*ow=*/3);
    expectConvIm2col({intsAttr("strides", {2, 2}), intsAttr("pads", {1, 1, 1, 1})}, 2, 2, 1, 1, 3, 3);
    expectConvIm2col({intsAttr("dilations", {2, 1}), intsAttr("pads", {1, 0, 1, 0})}, 1, 1, 1, 0, 4, 3, 2, 1);
    // SAME_UPPER with stride 2: out ceil(4/2)=2 x ceil(5/2)=3; pad totals 0 (rows) and 2 (cols) -> 1 left.
    ir::Attribute same;
    same.name = "auto_pad";
    same.type = ir::AttrType::String;
    same.s = "SAME_UPPER";
    expectConvIm2col({same, intsAttr("strides", {2, 2})}, 2, 2, 0, 1, 2, 3);
}

TEST(CalibrationCollector, RejectsWhatItCannotCollectWithAReason) {
    auto m = tinyModel();
    auto unknown = calibrate::collectLayerInputs(*m, twoSets(), {"nope"});
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(std::string(unknown.error().what()).find("no node 'nope'"), std::string::npos);
    auto notLayer = calibrate::collectLayerInputs(*m, twoSets(), {"relu"});
    ASSERT_FALSE(notLayer.ok());
    EXPECT_NE(std::string(notLayer.error().what()).find("MatMul/Gemm/Conv"), std::string::npos);
    auto noValue = calibrate::collectTensorStats(*m, twoSets(), {"missing"});
    ASSERT_FALSE(noValue.ok());
    auto empty = calibrate::collectTensorStats(*m, passes::CalibrationData{}, {"x"});
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(std::string(empty.error().what()).find("no calibration sets"), std::string::npos);
}

} // namespace
} // namespace opstudio::testing
