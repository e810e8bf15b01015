// Every committed model in tests/data/models matches its torch reference output
// (fp32: max abs error <= 1e-4 relative to the output's scale), on the fast and the reference path.
#include "support/onnx_case.h"

#include <gtest/gtest.h>

using namespace opstudio::testing;

namespace {

constexpr double kModelRelativeTolerance = 1e-4;

class CommittedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(CommittedModel, MatchesTorchReference) {
    CaseOptions o;
    o.scaleTolerance = kModelRelativeTolerance;
    const CaseResult r = runOnnxCase(GetParam(), o);
    EXPECT_EQ(r.outcome, CaseOutcome::Passed) << r.message;
    std::cout << GetParam() << ": max abs error " << r.maxAbsError << "\n";
}

TEST_P(CommittedModel, MatchesTorchReferenceWithTwoThreads) {
    CaseOptions o;
    o.scaleTolerance = kModelRelativeTolerance;
    o.threads = 2;
    const CaseResult r = runOnnxCase(GetParam(), o);
    EXPECT_EQ(r.outcome, CaseOutcome::Passed) << r.message;
}

TEST_P(CommittedModel, ReferencePathMatchesTorch) {
    CaseOptions o;
    o.scaleTolerance = kModelRelativeTolerance;
    o.reference = true;
    const CaseResult r = runOnnxCase(GetParam(), o);
    EXPECT_EQ(r.outcome, CaseOutcome::Passed) << r.message;
}

INSTANTIATE_TEST_SUITE_P(TestData, CommittedModel,
                         ::testing::ValuesIn(listCaseDirs(OPSTUDIO_TEST_DATA_DIR "/models")),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string n = info.param.substr(info.param.find_last_of('/') + 1);
                             for (auto& c : n)
                                 if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

} // namespace
