#pragma once
// Byte-level perplexity of a KV-cache decoder on a text. Chunking (the one make_llm.py uses for
// perplexity.json): non-overlapping `chunk`-byte chunks, each scored on its own from an empty
// cache (predict bytes 1..n-1 of a chunk of n); a last chunk shorter than 2 bytes is dropped.
// ppl = exp(sum of -log p(byte) / predicted bytes), log-softmax in double.
#include "opstudio/llm/decoder.h"

#include <memory>
#include <string_view>

namespace opstudio::llm {

struct PerplexityOptions {
    int64_t chunk = 128;
    int64_t maxChunks = 0; // 0: all chunks (a quick estimate on the first k otherwise)
    int threads = 1;
    bool reference = false;
};

struct PerplexityResult {
    double perplexity = 0;
    double meanNll = 0;    // nats per predicted byte
    int64_t predicted = 0; // bytes predicted
    int64_t chunks = 0;
    double seconds = 0;
};

/// Scores `text` with an existing decoder (its cache is reset per chunk).
Result<PerplexityResult> perplexity(Decoder& decoder, std::string_view text,
                                    const PerplexityOptions& options = {});
/// Convenience: builds a decoder for `model` (options.threads/reference) and scores `text`.
Result<PerplexityResult> perplexity(std::shared_ptr<const ir::Model> model, std::string_view text,
                                    const PerplexityOptions& options = {});

} // namespace opstudio::llm
