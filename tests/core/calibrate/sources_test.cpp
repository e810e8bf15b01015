// Calibration sources: test-data folders (one set or many, ordered), seeded random sets and byte text.
#include "support/graph_builder.h"
#include "support/temp_dir.h"

#include "opstudio/calibrate/sources.h"
#include "opstudio/onnx/model_io.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace opstudio::testing {
namespace {

std::shared_ptr<ir::Model> twoInputModel() {
    return GraphBuilder(17)
        .input("a", ir::DType::F32, {2, 3})
        .input("b", ir::DType::F32, {2, 3})
        .node("Add", {"a", "b"}, {"c"})
        .output("c")
        .build();
}

void writeSet(const std::filesystem::path& dir, float a, float b, bool named = true) {
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(onnxio::writeTensorFile(ir::Tensor::fromVector<float>({2, 3}, std::vector<float>(6, b)),
                                        named ? "b" : "", (dir / "input_0.pb").string())
                    .ok());
    ASSERT_TRUE(onnxio::writeTensorFile(ir::Tensor::fromVector<float>({2, 3}, std::vector<float>(6, a)),
                                        named ? "a" : "", (dir / "input_1.pb").string())
                    .ok());
}

TEST(CalibrationSources, FolderOfSetsInNumericOrderMatchedByName) {
    auto m = twoInputModel();
    TempDir tmp("calib_sources");
    writeSet(tmp / "test_data_set_10", 10, -10);
    writeSet(tmp / "test_data_set_2", 2, -2);
    writeSet(tmp / "test_data_set_0", 0, -0.5f);
    std::filesystem::create_directories(tmp / "notes"); // no input files: not a set
    auto data = calibrate::loadCalibrationFolder(*m, tmp.path().string());
    ASSERT_TRUE(data.ok()) << data.error().what();
    ASSERT_EQ(data.value().feeds.size(), 3u);
    // input_0.pb holds "b": names win over positions.
    EXPECT_EQ(data.value().feeds[0].at("a").data<float>()[0], 0.f);
    EXPECT_EQ(data.value().feeds[0].at("b").data<float>()[0], -0.5f);
    EXPECT_EQ(data.value().feeds[1].at("a").data<float>()[0], 2.f);
    EXPECT_EQ(data.value().feeds[2].at("a").data<float>()[0], 10.f);
}

TEST(CalibrationSources, FolderThatIsOneSetAndUnnamedTensorsByPosition) {
    auto m = twoInputModel();
    TempDir tmp("calib_sources");
    writeSet(tmp.path(), 1, 7, /*named=*/false);
    auto data = calibrate::loadCalibrationFolder(*m, tmp.path().string());
    ASSERT_TRUE(data.ok()) << data.error().what();
    ASSERT_EQ(data.value().feeds.size(), 1u);
    EXPECT_EQ(data.value().feeds[0].at("a").data<float>()[0], 7.f); // input_0 -> first input
}

TEST(CalibrationSources, FolderErrorsSayWhatIsWrong) {
    auto m = twoInputModel();
    TempDir tmp("calib_sources");
    EXPECT_FALSE(calibrate::loadCalibrationFolder(*m, (tmp / "missing").string()).ok());
    auto empty = calibrate::loadCalibrationFolder(*m, tmp.path().string());
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(std::string(empty.error().what()).find("no input_N.pb"), std::string::npos);
    std::filesystem::create_directories(tmp / "set_0");
    ASSERT_TRUE(onnxio::writeTensorFile(ir::Tensor::fromVector<float>({3, 3}, std::vector<float>(9, 1)), "a",
                                        (tmp / "set_0" / "input_0.pb").string())
                    .ok());
    ASSERT_TRUE(onnxio::writeTensorFile(ir::Tensor::fromVector<float>({2, 3}, std::vector<float>(6, 1)), "b",
                                        (tmp / "set_0" / "input_1.pb").string())
                    .ok());
    auto badShape = calibrate::loadCalibrationFolder(*m, tmp.path().string());
    ASSERT_FALSE(badShape.ok());
    EXPECT_NE(std::string(badShape.error().what()).find("has shape 3x3"), std::string::npos);
}

TEST(CalibrationSources, RandomSetsAreSeededAndDistinct) {
    auto m = twoInputModel();
    auto a = calibrate::randomCalibration(*m, 3, 42), b = calibrate::randomCalibration(*m, 3, 42);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a.value().feeds.size(), 3u);
    const auto& a0 = a.value().feeds[0].at("a");
    EXPECT_EQ(a0.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a0.data<float>()[0], b.value().feeds[0].at("a").data<float>()[0]);
    EXPECT_NE(a0.data<float>()[0], a.value().feeds[1].at("a").data<float>()[0]);
    EXPECT_FALSE(calibrate::randomCalibration(*m, 0, 1).ok());
}

TEST(CalibrationSources, TextGivesPrefillFeedsForTheByteDecoder) {
    auto model = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/llama_bytes/model.onnx");
    ASSERT_TRUE(model.ok()) << model.error().what();
    auto data = calibrate::textCalibration(model.value(), "Hello, world!", /*chunkBytes=*/5);
    ASSERT_TRUE(data.ok()) << data.error().what();
    // "Hello" ", wor" "ld!": three chunks, the last one short.
    ASSERT_EQ(data.value().feeds.size(), 3u);
    const auto& f = data.value().feeds[2];
    EXPECT_EQ(f.at("input_ids").shape(), (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(f.at("input_ids").data<int64_t>()[0], static_cast<int64_t>('l'));
    EXPECT_EQ(f.at("input_ids").data<int64_t>()[2], static_cast<int64_t>('!'));
    EXPECT_EQ(f.at("position_ids").data<int64_t>()[2], 2);
    EXPECT_EQ(f.at("attention_mask").data<int64_t>()[1], 1);
    EXPECT_EQ(f.at("past_key_values.0.key").shape(), (std::vector<int64_t>{1, 2, 0, 32}));
    EXPECT_EQ(f.size(), 3u + 8u);
    auto capped = calibrate::textCalibration(model.value(), "Hello, world!", 5, /*maxChunks=*/2);
    ASSERT_TRUE(capped.ok());
    EXPECT_EQ(capped.value().feeds.size(), 2u);
}

TEST(CalibrationSources, TextForAStaticTokenModelUsesItsSequenceLength) {
    auto model = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/gpt_decoder/model.onnx");
    ASSERT_TRUE(model.ok()) << model.error().what();
    const std::string text(40, 'x'); // two full chunks of 16, the 8-byte tail does not fit
    auto data = calibrate::textCalibration(model.value(), text, 128);
    ASSERT_TRUE(data.ok()) << data.error().what();
    ASSERT_EQ(data.value().feeds.size(), 2u);
    EXPECT_EQ(data.value().feeds[0].at("input_ids").shape(), (std::vector<int64_t>{1, 16}));
    auto m = twoInputModel();
    EXPECT_FALSE(calibrate::textCalibration(*m, text).ok());
}

} // namespace
} // namespace opstudio::testing
