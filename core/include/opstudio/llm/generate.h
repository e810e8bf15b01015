#pragma once
// Text generation over a Decoder: greedy or seeded sampling, with the decode timings and the
// bytes-per-token accounting that place decode on the memory-bandwidth roofline.
#include "opstudio/llm/decoder.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace opstudio::llm {

struct SamplingOptions {
    /// 0: greedy (argmax, first index on ties). > 0: sample from softmax(logits / temperature).
    double temperature = 0;
    int topK = 0;      // keep the k most likely tokens (0: all)
    double topP = 1.0; // keep the smallest set whose probability reaches topP (1: all)
    uint64_t seed = 0;
};

/// Picks the next token from one row of logits. Deterministic for a given seed.
class Sampler {
public:
    explicit Sampler(const SamplingOptions& options);
    int64_t next(std::span<const float> logits);

private:
    SamplingOptions m_options;
    uint64_t m_state;
};

struct GenerateOptions {
    int tokens = 32;
    SamplingOptions sampling;
    /// Called after each new token (its index from 0); return false to stop early.
    std::function<bool(int64_t token, int index)> onToken;
};

struct GenerateResult {
    std::vector<int64_t> tokens; // generated only (not the prompt)
    int64_t promptTokens = 0;
    double prefillMs = 0;             // forward over the prompt (gives the first token)
    std::vector<double> decodeMs;     // one forward of one token each (tokens 2..N)
    double decodeTokensPerSecond = 0; // decodeMs.size() / sum(decodeMs)
    /// Process CPU time of the decode steps (all threads). At 1 thread, decodeMs.size() / decodeCpuMs
    /// is the decode rate without the time other processes took the core (shared machines).
    double decodeCpuMs = 0;
    int64_t weightBytesPerToken = 0;
    double kvBytesPerToken = 0; // mean KV cache bytes read per decode step
    /// (weight + KV) bytes per token x tokens/s.
    double achievedGBps() const {
        return (static_cast<double>(weightBytesPerToken) + kvBytesPerToken) * decodeTokensPerSecond / 1e9;
    }
};

/// Runs the prompt (the cache is reset first), then decodes `options.tokens` tokens.
Result<GenerateResult> generate(Decoder& decoder, std::span<const int64_t> prompt,
                                const GenerateOptions& options);

} // namespace opstudio::llm
