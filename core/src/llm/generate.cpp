#include "opstudio/llm/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <time.h>

namespace opstudio::llm {

namespace {

/// splitmix64: a small, portable generator (the same stream on every platform for a seed).
uint64_t nextRandom(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double elapsedMs(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double processCpuMs() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

} // namespace

Sampler::Sampler(const SamplingOptions& options) : m_options(options), m_state(options.seed) {}

int64_t Sampler::next(std::span<const float> logits) {
    if (logits.empty()) return 0;
    if (m_options.temperature <= 0) // greedy: first maximum, as torch.argmax
        return std::max_element(logits.begin(), logits.end()) - logits.begin();
    // p_i = exp((l_i - max) / T) / sum, restricted to top-k and then to the top-p nucleus.
    std::vector<int64_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
    size_t keep = order.size();
    if (m_options.topK > 0) keep = std::min(keep, static_cast<size_t>(m_options.topK));
    std::vector<double> p(keep);
    const double top = logits[order[0]];
    double sum = 0;
    for (size_t i = 0; i < keep; ++i)
        sum += p[i] = std::exp((logits[order[i]] - top) / m_options.temperature);
    if (m_options.topP < 1.0) {
        double acc = 0;
        size_t n = 0;
        while (n < keep) {
            acc += p[n++] / sum;
            if (acc >= m_options.topP) break;
        }
        keep = std::max<size_t>(n, 1);
        sum = std::accumulate(p.begin(), p.begin() + keep, 0.0);
    }
    const double u = static_cast<double>(nextRandom(m_state) >> 11) * 0x1.0p-53 * sum;
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
        acc += p[i];
        if (u < acc) return order[i];
    }
    return order[keep - 1];
}

Result<GenerateResult> generate(Decoder& decoder, std::span<const int64_t> prompt,
                                const GenerateOptions& options) {
    if (prompt.empty()) return Error("generate needs a non-empty prompt");
    if (options.tokens < 0) return Error("--tokens must be >= 0");
    const int64_t vocab = decoder.layout().vocab;
    GenerateResult r;
    r.promptTokens = static_cast<int64_t>(prompt.size());
    r.weightBytesPerToken = weightBytesPerToken(decoder.model());
    decoder.reset();
    Sampler sampler(options.sampling);
    if (options.tokens == 0) return r;
    auto t0 = std::chrono::steady_clock::now();
    auto logits = decoder.forward(prompt);
    r.prefillMs = elapsedMs(t0);
    if (!logits.ok()) return logits.error();
    const int64_t v = vocab > 0 ? vocab : static_cast<int64_t>(logits.value().size()) / r.promptTokens;
    auto lastRow = [&](const std::vector<float>& l) {
        return std::span<const float>(l.data() + l.size() - v, static_cast<size_t>(v));
    };
    int64_t token = sampler.next(lastRow(logits.value()));
    r.tokens.push_back(token);
    double kvSum = 0;
    bool more = !options.onToken || options.onToken(token, 0);
    for (int i = 1; i < options.tokens && more; ++i) {
        kvSum += static_cast<double>(decoder.pastLength()) * decoder.kvBytesPerToken();
        const double cpu0 = processCpuMs();
        t0 = std::chrono::steady_clock::now();
        auto step = decoder.forward(std::span<const int64_t>(&token, 1));
        r.decodeMs.push_back(elapsedMs(t0));
        r.decodeCpuMs += processCpuMs() - cpu0;
        if (!step.ok()) return step.error();
        token = sampler.next(lastRow(step.value()));
        r.tokens.push_back(token);
        more = !options.onToken || options.onToken(token, i);
    }
    const double total = std::accumulate(r.decodeMs.begin(), r.decodeMs.end(), 0.0);
    if (!r.decodeMs.empty() && total > 0) {
        r.decodeTokensPerSecond = static_cast<double>(r.decodeMs.size()) / (total / 1e3);
        r.kvBytesPerToken = kvSum / static_cast<double>(r.decodeMs.size());
    }
    return r;
}

} // namespace opstudio::llm
