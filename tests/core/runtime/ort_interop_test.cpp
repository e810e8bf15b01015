// OpStudio vs ONNX Runtime (npm onnxruntime-node) on every committed model, same seeded inputs.
#include "support/ort_peer.h"
#include "support/onnx_case.h"
#include "support/test_util.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"

#include <cmath>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

constexpr double kOrtAgreementRelative = 1e-4; // relative to the output's largest magnitude

class OrtInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(OrtInterop, OutputsMatchOnnxRuntime) {
    OPSTUDIO_REQUIRE_ORT();
    const std::string path = GetParam() + "/model.onnx";
    auto loaded = onnxio::loadModel(path);
    ASSERT_TRUE(loaded) << loaded.error().describe();
    auto model = std::make_shared<ir::Model>(std::move(loaded.value()));
    auto session = rt::Session::create(model);
    ASSERT_TRUE(session) << session.error().describe();
    const auto feeds = rt::randomFeeds(*session.value(), 11);
    auto ours = session.value()->run(feeds);
    ASSERT_TRUE(ours) << ours.error().describe();
    auto theirs = runWithOrt(path, feeds);
    ASSERT_TRUE(theirs) << theirs.error().describe();
    ASSERT_EQ(theirs.value().size(), ours.value().size());
    for (size_t i = 0; i < ours.value().size(); ++i) {
        const ir::Tensor& a = ours.value()[i].tensor;
        const ir::Tensor& b = theirs.value()[i].second;
        double scale = 1e-6;
        for (double v : b.toDoubles()) scale = std::max(scale, std::fabs(v));
        EXPECT_TRUE(allClose(a, b, kOrtAgreementRelative * scale, 0)) << ours.value()[i].name;
    }
}

INSTANTIATE_TEST_SUITE_P(TestData, OrtInterop, ::testing::ValuesIn(listCaseDirs(OPSTUDIO_TEST_DATA_DIR "/models")),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param.substr(info.param.find_last_of('/') + 1);
                         });

} // namespace
