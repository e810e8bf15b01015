#pragma once
// Where calibration sets come from: a folder of ONNX test-data sets, seeded random feeds, or text for
// byte-level language models. Each returns passes::CalibrationData ready for the collector.
#include "opstudio/ir/graph.h"
#include "opstudio/passes/pass.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace opstudio::calibrate {

/// Said wherever random calibration is used: statistics of random inputs misplace ranges and
/// activation norms of real ones.
inline constexpr const char* kRandomCalibrationWarning =
    "calibration uses random inputs: ranges and activation norms of real data differ; pass real sets "
    "(--calibration DIR or --calibration-text FILE) for results you can trust";

/// A folder of sets in the ONNX test-data layout: either DIR/input_N.pb (one set) or
/// DIR/<set>/input_N.pb for every sub-folder holding input files (sets ordered by the number in the
/// folder name, then by name: test_data_set_2 before test_data_set_10). Tensors are matched to the
/// model's real inputs by TensorProto name, else by position; dtype, rank and known dims are checked.
Result<passes::CalibrationData> loadCalibrationFolder(const ir::Model& model, const std::string& dir);

/// `sets` seeded random feeds (floats ~ U(-1, 1), ints in [0, 8), as rt::randomFeeds); symbolic dims
/// from `dims`, else 1. Callers show kRandomCalibrationWarning.
Result<passes::CalibrationData> randomCalibration(const ir::Model& model, int64_t sets, uint64_t seed,
                                                   const std::map<std::string, int64_t>& dims = {});

/// Text for byte-level language models (token = byte value, as llm::bytesToTokens): non-overlapping
/// chunks of `chunkBytes` bytes (a last chunk shorter than 2 bytes is dropped), at most `maxChunks`
/// (0: all). KV-cache decoders (llm::detectDecoder) get prefill feeds per chunk (input_ids,
/// attention_mask of ones, position_ids 0..n-1, empty past); other models need exactly one integer
/// input of rank 2 [1, sequence] (a static sequence length overrides `chunkBytes`).
Result<passes::CalibrationData> textCalibration(const ir::Model& model, std::string_view text,
                                                int64_t chunkBytes = 128, int64_t maxChunks = 0);

/// Reads a whole file (for --calibration-text).
Result<std::string> readTextFile(const std::string& path);

} // namespace opstudio::calibrate
