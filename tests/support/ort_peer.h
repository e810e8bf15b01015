#pragma once
// ONNX Runtime as a peer: runs a model through tests/interop/ort_run.js (npm onnxruntime-node).
#include "opstudio/ir/tensor.h"
#include "opstudio/util/error.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace opstudio::testing {

/// True when node and tests/interop/node_modules/onnxruntime-node are installed.
bool ortAvailable();
/// True when CI=true: a missing ONNX Runtime is then a failure, not a skip.
bool ortRequired();
/// Why ORT is missing (for skip and failure messages).
inline constexpr const char* kOrtMissing =
    "ONNX Runtime peer missing: node or tests/interop/node_modules/onnxruntime-node not installed "
    "(packaging/setup.sh installs them)";
/// Runs MODEL in ONNX Runtime on `feeds`; returns outputs in the model's output order.
Result<std::vector<std::pair<std::string, ir::Tensor>>> runWithOrt(const std::string& modelPath,
                                                                  const std::map<std::string, ir::Tensor>& feeds,
                                                                  int threads = 1, const std::string& optLevel = "disabled");
/// Writes feeds as raw files + manifest.json (the format ort_run.js reads).
void writeRawFeeds(const std::map<std::string, ir::Tensor>& feeds, const std::string& dir);

} // namespace opstudio::testing

/// Use at the top of every ORT interop check (a test body or a void helper): without ONNX Runtime the
/// test is skipped visibly, or fails under CI=true, instead of passing without its peer.
#define OPSTUDIO_REQUIRE_ORT()                                                                                    \
    do {                                                                                                          \
        if (!::opstudio::testing::ortAvailable()) {                                                               \
            if (::opstudio::testing::ortRequired()) FAIL() << ::opstudio::testing::kOrtMissing << " and CI=true"; \
            GTEST_SKIP() << ::opstudio::testing::kOrtMissing;                                                     \
        }                                                                                                         \
    } while (0)
