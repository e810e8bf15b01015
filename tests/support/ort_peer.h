#pragma once
// ONNX Runtime as a peer: runs a model through tests/interop/ort_run.js (npm onnxruntime-node).
#include "opstudio/ir/tensor.h"
#include "opstudio/util/error.h"

#include <map>
#include <string>
#include <vector>

namespace opstudio::testing {

/// True when node and tests/interop/node_modules/onnxruntime-node are installed.
bool ortAvailable();
/// Runs MODEL in ONNX Runtime on `feeds`; returns outputs in the model's output order.
Result<std::vector<std::pair<std::string, ir::Tensor>>> runWithOrt(const std::string& modelPath,
                                                                  const std::map<std::string, ir::Tensor>& feeds,
                                                                  int threads = 1, const std::string& optLevel = "disabled");
/// Writes feeds as raw files + manifest.json (the format ort_run.js reads).
void writeRawFeeds(const std::map<std::string, ir::Tensor>& feeds, const std::string& dir);

} // namespace opstudio::testing
