#include "opstudio/llm/decoder.h"

#include <chrono>
#include <regex>
#include <set>

namespace opstudio::llm {

namespace {

const ir::Value* valueOf(const ir::Graph& g, const std::string& name) {
    return g.findValue(name);
}

bool hasInput(const ir::Graph& g, const std::string& name) {
    for (const auto& in : g.realInputs())
        if (in == name) return true;
    return false;
}

bool hasOutput(const ir::Graph& g, const std::string& name) {
    for (const auto& out : g.outputs)
        if (out == name) return true;
    return false;
}

/// Known size of dim `d` of a value, or -1.
int64_t knownDim(const ir::Graph& g, const std::string& name, size_t d) {
    const ir::Value* v = valueOf(g, name);
    if (!v || !v->shape || v->shape->size() <= d || !(*v->shape)[d].known()) return -1;
    return (*v->shape)[d].value;
}

} // namespace

Result<DecoderLayout> detectDecoder(const ir::Model& model) {
    if (!model.graph) return Error("no graph");
    const ir::Graph& g = *model.graph;
    DecoderLayout L;
    if (!hasInput(g, L.inputIds)) return Error("not a KV-cache decoder: no input 'input_ids'");
    if (!hasOutput(g, L.logits)) return Error("not a KV-cache decoder: no output 'logits'");
    if (hasInput(g, "attention_mask")) L.attentionMask = "attention_mask";
    if (hasInput(g, "position_ids")) L.positionIds = "position_ids";
    // past_key_values.N.key / .value (Optimum, ORT GenAI) -> present.N.key / .value.
    static const std::regex kPast(R"(past_key_values\.(\d+)\.(key|value))");
    std::set<int> layers;
    for (const auto& in : g.realInputs()) {
        std::smatch m;
        if (std::regex_match(in, m, kPast)) layers.insert(std::stoi(m[1]));
    }
    if (layers.empty()) return Error("not a KV-cache decoder: no past_key_values.N.key/value inputs");
    for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
        if (!layers.count(i)) return Error("past_key_values." + std::to_string(i) + ".* is missing");
        for (const char* kv : {"key", "value"}) {
            const std::string past = "past_key_values." + std::to_string(i) + "." + kv;
            const std::string present = "present." + std::to_string(i) + "." + kv;
            if (!hasInput(g, past)) return Error("input '" + past + "' is missing");
            if (!hasOutput(g, present))
                return Error("'" + past + "' has no matching output '" + present + "'");
            const ir::Value* v = valueOf(g, past);
            if (!v || !v->shape || v->shape->size() != 4)
                return Error("'" + past + "' must be rank 4 [batch, kv_heads, past_sequence, head_dim]");
            L.past.push_back(past);
            L.present.push_back(present);
        }
    }
    L.layers = static_cast<int>(layers.size());
    L.kvHeads = knownDim(g, L.past[0], 1);
    L.headDim = knownDim(g, L.past[0], 3);
    if (L.kvHeads <= 0 || L.headDim <= 0)
        return Error("'" + L.past[0] + "' needs known kv_heads and head_dim (dims 1 and 3)");
    L.kvType = valueOf(g, L.past[0])->dtype;
    if (L.kvType != ir::DType::F32)
        return Error("only fp32 KV caches are supported (got " + std::string(ir::dtypeName(L.kvType)) + ")");
    L.vocab = knownDim(g, L.logits, 2);
    if (const ir::Value* ids = valueOf(g, L.inputIds); !ids || ids->dtype != ir::DType::I64)
        return Error("'input_ids' must be int64");
    return L;
}

bool isKvCacheDecoder(const ir::Model& model) {
    return detectDecoder(model).ok();
}

Result<std::unique_ptr<Decoder>> Decoder::create(std::shared_ptr<const ir::Model> model,
                                                 const DecoderOptions& options) {
    if (!model) return Error("no model");
    const auto t0 = std::chrono::steady_clock::now();
    auto layout = detectDecoder(*model);
    if (!layout.ok()) return layout.error();
    rt::SessionOptions so;
    so.threads = options.threads;
    so.reference = options.reference;
    so.dims = {{"batch", 1}};
    auto session = rt::Session::create(model, so);
    if (!session.ok()) return session.error();
    std::unique_ptr<Decoder> d(new Decoder());
    d->m_model = std::move(model);
    d->m_session = std::move(session.value());
    d->m_layout = std::move(layout.value());
    d->reset();
    // Warm-up: a two-token prefill and one decode step create the kernels' per-shape state (oneDNN
    // primitives, weights packed for M > 1 and M = 1) at build time, as ONNX Runtime pre-packs at
    // session creation; otherwise the first prefill and the first decode step pay for it.
    const int64_t tokens[2] = {0, 0};
    for (size_t n : {size_t{2}, size_t{1}}) {
        auto warm = d->forward(std::span<const int64_t>(tokens, n));
        if (!warm.ok()) return warm.error();
    }
    d->reset();
    d->m_buildMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return d;
}

void Decoder::reset() {
    m_pastLength = 0;
    m_past.clear();
    for (size_t i = 0; i < m_layout.past.size(); ++i)
        m_past.emplace_back(m_layout.kvType, std::vector<int64_t>{1, m_layout.kvHeads, 0, m_layout.headDim});
}

int64_t Decoder::kvBytesPerToken() const {
    return static_cast<int64_t>(m_layout.past.size()) * m_layout.kvHeads * m_layout.headDim *
           static_cast<int64_t>(ir::dtypeSize(m_layout.kvType));
}

Result<std::vector<float>> Decoder::forward(std::span<const int64_t> tokens) {
    if (tokens.empty()) return Error("forward needs at least one token");
    const int64_t s = static_cast<int64_t>(tokens.size());
    std::map<std::string, ir::Tensor> feeds;
    feeds.emplace(m_layout.inputIds, ir::Tensor::fromVector<int64_t>(
                                         {1, s}, std::vector<int64_t>(tokens.begin(), tokens.end())));
    if (!m_layout.attentionMask.empty())
        feeds.emplace(m_layout.attentionMask,
                      ir::Tensor::fromVector<int64_t>({1, m_pastLength + s},
                                                      std::vector<int64_t>(m_pastLength + s, 1)));
    if (!m_layout.positionIds.empty()) {
        std::vector<int64_t> pos(s);
        for (int64_t i = 0; i < s; ++i)
            pos[i] = m_pastLength + i;
        feeds.emplace(m_layout.positionIds, ir::Tensor::fromVector<int64_t>({1, s}, pos));
    }
    for (size_t i = 0; i < m_layout.past.size(); ++i)
        feeds.emplace(m_layout.past[i], m_past[i]);
    auto run = m_session->run(feeds);
    if (!run.ok()) return run.error();
    std::vector<float> logits;
    bool gotLogits = false;
    std::vector<ir::Tensor> present(m_layout.present.size());
    for (auto& out : run.value()) {
        if (out.name == m_layout.logits) {
            const ir::Tensor& t = out.tensor;
            if (t.dtype() != ir::DType::F32 || t.rank() != 3 || t.dim(0) != 1 || t.dim(1) != s)
                return Error("logits have shape " + ir::shapeToString(t.shape()) + ", expected [1, " +
                             std::to_string(s) + ", vocab] f32");
            logits.assign(t.data<float>(), t.data<float>() + t.numel());
            gotLogits = true;
            continue;
        }
        for (size_t i = 0; i < m_layout.present.size(); ++i)
            if (out.name == m_layout.present[i]) present[i] = std::move(out.tensor);
    }
    if (!gotLogits) return Error("the run produced no logits");
    for (size_t i = 0; i < present.size(); ++i) {
        const ir::Tensor& t = present[i];
        if (!t.defined() || t.rank() != 4 || t.dim(2) != m_pastLength + s)
            return Error("'" + m_layout.present[i] + "' has shape " + ir::shapeToString(t.shape()) +
                         ", expected total_sequence " + std::to_string(m_pastLength + s) + " on axis 2");
    }
    m_past = std::move(present);
    m_pastLength += s;
    return logits;
}

int64_t weightBytesPerToken(const ir::Model& model) {
    const ir::Graph& g = *model.graph;
    int64_t bytes = 0;
    std::set<std::string> counted;
    g.forEachNode([&](const ir::Node& n) {
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            const std::string& name = n.inputs[i];
            if (name.empty() || counted.count(name)) continue;
            const ir::Tensor* t = g.constantValue(name);
            if (!t) continue; // initializers and Constant-node tensors
            counted.insert(name);
            if (n.opType == "Gather" && i == 0 && t->rank() >= 1 && t->dim(0) > 0)
                bytes += static_cast<int64_t>(t->byteSize()) / t->dim(0); // one row per token
            else
                bytes += static_cast<int64_t>(t->byteSize());
        }
    });
    return bytes;
}

std::vector<int64_t> bytesToTokens(std::string_view text) {
    std::vector<int64_t> out(text.size());
    for (size_t i = 0; i < text.size(); ++i)
        out[i] = static_cast<unsigned char>(text[i]);
    return out;
}

std::string tokensToBytes(std::span<const int64_t> tokens) {
    std::string out;
    out.reserve(tokens.size());
    for (int64_t t : tokens)
        out.push_back(static_cast<char>(static_cast<unsigned char>(t & 0xff)));
    return out;
}

} // namespace opstudio::llm
