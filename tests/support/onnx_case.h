#pragma once
// Runs one ONNX test case folder (model.onnx + test_data_set_N/{input,output}_K.pb) and compares
// OpStudio's outputs with the expected ones.
#include <string>
#include <vector>

namespace opstudio::testing {

enum class CaseOutcome { Passed, Failed, Unsupported };

struct CaseResult {
    CaseOutcome outcome = CaseOutcome::Failed;
    std::string message; // why it failed / what is unsupported
    double maxAbsError = 0.0;
};

struct CaseOptions {
    double atol = 1e-5;
    double rtol = 1e-3;
    /// When > 0: tolerance relative to the largest |expected| value (used for whole models).
    double scaleTolerance = 0.0;
    int threads = 1;
    bool reference = false;
};

/// Runs the case in this process. Never throws.
CaseResult runOnnxCase(const std::string& caseDir, const CaseOptions& options = {});
/// Runs the case in a forked child with a time limit, so a crash or hang is a failure, not the end of the suite.
CaseResult runOnnxCaseIsolated(const std::string& caseDir, const CaseOptions& options = {}, int timeoutSeconds = 60);
/// Sorted sub-folders of a directory (empty when it does not exist).
std::vector<std::string> listCaseDirs(const std::string& suiteDir);

} // namespace opstudio::testing
