#pragma once
// A decoder-only language model with a KV cache, in the ONNX Runtime GenAI / Optimum layout:
//   input_ids [batch, sequence], attention_mask [batch, total_sequence], position_ids [batch, sequence],
//   past_key_values.N.key/value [batch, kv_heads, past_sequence, head_dim]
//   -> logits [batch, sequence, vocab], present.N.key/value [batch, kv_heads, total_sequence, head_dim]
// One graph does prefill (past_sequence 0) and decode (sequence 1). The Decoder keeps the cache
// between calls (batch 1) and builds the session once: no re-planning per token.
#include "opstudio/ir/graph.h"
#include "opstudio/runtime/session.h"
#include "opstudio/util/error.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace opstudio::llm {

/// Which graph inputs/outputs play which role. Empty names: the model has no such input.
struct DecoderLayout {
    std::string inputIds = "input_ids";
    std::string attentionMask; // optional
    std::string positionIds;   // optional
    std::string logits = "logits";
    /// past_key_values.N.key, past_key_values.N.value for N = 0.. (key, value interleaved), and the
    /// matching present.N.key/value outputs in the same order.
    std::vector<std::string> past, present;
    int layers = 0;
    int64_t kvHeads = 0, headDim = 0, vocab = 0;
    ir::DType kvType = ir::DType::F32;
};

/// Finds the KV-cache layout from the model's inputs and outputs; an error says what is missing
/// ("no input 'input_ids'", "past_key_values.1.value has no matching present output").
Result<DecoderLayout> detectDecoder(const ir::Model& model);
/// True when detectDecoder succeeds (the GUI and `compare` use it to offer LM views).
bool isKvCacheDecoder(const ir::Model& model);

struct DecoderOptions {
    int threads = 1;
    bool reference = false; // reference kernels (plain loops)
};

/// Runs a KV-cache decoder token by token (batch 1). Not thread-safe.
class Decoder {
public:
    static Result<std::unique_ptr<Decoder>> create(std::shared_ptr<const ir::Model> model,
                                                   const DecoderOptions& options = {});
    /// Appends `tokens` to the sequence (prefill when the cache is empty, decode for one token) and
    /// returns the logits [tokens.size(), vocab] as floats (row-major).
    Result<std::vector<float>> forward(std::span<const int64_t> tokens);
    /// Forgets the cache (next forward starts at position 0).
    void reset();
    /// Tokens held in the cache.
    int64_t pastLength() const { return m_pastLength; }
    const DecoderLayout& layout() const { return m_layout; }
    rt::Session& session() { return *m_session; }
    const ir::Model& model() const { return *m_model; }
    /// Session build plus warm-up (a two-token prefill and one decode step), in ms.
    double buildMs() const { return m_buildMs; }
    /// Bytes of KV cache per cached token (all layers, keys and values).
    int64_t kvBytesPerToken() const;

private:
    Decoder() = default;
    std::shared_ptr<const ir::Model> m_model;
    std::unique_ptr<rt::Session> m_session;
    DecoderLayout m_layout;
    std::vector<ir::Tensor> m_past; // one per layout.past entry
    int64_t m_pastLength = 0;
    double m_buildMs = 0;
};

/// Bytes of weights one decode step reads: every initializer read by a node, except that a Gather
/// whose data is an initializer (token embedding, rotary tables) reads one row per token.
int64_t weightBytesPerToken(const ir::Model& model);

/// Byte-level tokenizer of the byte-vocabulary models: token = byte value (0..255).
std::vector<int64_t> bytesToTokens(std::string_view text);
std::string tokensToBytes(std::span<const int64_t> tokens);

} // namespace opstudio::llm
