// ONNX backend conformance: every case of Debian's libonnx-testdata, each run in a forked child
// (a crash or hang fails that case only). Cases listed in expected_pass.txt must pass; the rest are
// reported as failed / unsupported with the reason. The node suite also runs with every kernel's
// reference path and with two threads, against the same expected list: the reference path that each
// fast path is tested against is itself tested, and threading must not change a result. Environment:
//   OPSTUDIO_CONFORMANCE_FILTER=substr   run only cases whose name contains substr (prints every result)
//   OPSTUDIO_CONFORMANCE_WRITE=1         rewrite expected_pass.txt with the cases that pass now
#include "support/onnx_case.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace opstudio::testing;

namespace {

const char* kExpectedFile = OPSTUDIO_CONFORMANCE_DIR "/expected_pass.txt";

std::set<std::string> readExpected() {
    std::set<std::string> out;
    std::ifstream in(kExpectedFile);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') out.insert(line);
    return out;
}

struct SuiteSummary {
    int passed = 0, failed = 0, unsupported = 0;
    std::vector<std::string> passing;
    std::vector<std::string> regressions;
};

SuiteSummary runSuite(const std::string& suite, const CaseOptions& options, const std::string& variant) {
    SuiteSummary s;
    const char* filter = std::getenv("OPSTUDIO_CONFORMANCE_FILTER");
    const auto expected = readExpected();
    const auto dirs = listCaseDirs(std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/" + suite);
    for (const auto& dir : dirs) {
        const std::string name = fs::path(dir).filename().string();
        if (filter && name.find(filter) == std::string::npos) continue;
        const std::string key = suite + "/" + name;
        const CaseResult r = runOnnxCaseIsolated(dir, options, 120);
        const bool mustPass = expected.count(key) != 0;
        switch (r.outcome) {
        case CaseOutcome::Passed:
            ++s.passed;
            s.passing.push_back(key);
            if (filter) std::cout << "  PASS " << key << "\n";
            break;
        case CaseOutcome::Failed:
            ++s.failed;
            if (filter || mustPass) std::cout << "  FAIL " << key << ": " << r.message << "\n";
            break;
        case CaseOutcome::Unsupported:
            ++s.unsupported;
            if (filter || mustPass) std::cout << "  UNSUPPORTED " << key << ": " << r.message << "\n";
            break;
        }
        if (mustPass && r.outcome != CaseOutcome::Passed) s.regressions.push_back(key + ": " + r.message);
    }
    std::cout << suite << variant << ": " << s.passed << " passed / " << s.failed << " failed / " << s.unsupported
              << " unsupported (of " << (s.passed + s.failed + s.unsupported) << ")\n";
    return s;
}

void checkSuite(const std::string& suite, const CaseOptions& options = {}, const std::string& variant = "") {
    if (!fs::is_directory(std::string(OPSTUDIO_ONNX_TESTDATA_DIR) + "/" + suite))
        GTEST_SKIP() << "libonnx-testdata is not installed";
    const SuiteSummary s = runSuite(suite, options, variant);
    // Only the default variant (fast path, one thread) writes the list the other variants share.
    if (variant.empty() && std::getenv("OPSTUDIO_CONFORMANCE_WRITE") && !std::getenv("OPSTUDIO_CONFORMANCE_FILTER")) {
        // Merge: replace this suite's lines, keep the others.
        std::set<std::string> all;
        for (const auto& e : readExpected())
            if (e.rfind(suite + "/", 0) != 0) all.insert(e);
        all.insert(s.passing.begin(), s.passing.end());
        std::ofstream out(kExpectedFile);
        out << "# ONNX backend cases that must pass (suite/case). Regenerate: OPSTUDIO_CONFORMANCE_WRITE=1 opstudio_conformance\n";
        for (const auto& e : all) out << e << "\n";
    }
    for (const auto& r : s.regressions) ADD_FAILURE() << "regression" << variant << ": " << r;
}

} // namespace

TEST(Conformance, NodeSuite) { checkSuite("node"); }
TEST(Conformance, NodeSuiteReferencePath) {
    CaseOptions options;
    options.reference = true;
    checkSuite("node", options, " (reference path)");
}
TEST(Conformance, NodeSuiteTwoThreads) {
    CaseOptions options;
    options.threads = 2;
    checkSuite("node", options, " (2 threads)");
}
TEST(Conformance, PytorchConvertedSuite) { checkSuite("pytorch-converted"); }
TEST(Conformance, PytorchOperatorSuite) { checkSuite("pytorch-operator"); }
TEST(Conformance, SimpleSuite) { checkSuite("simple"); }
