#include "opstudio/llm/perplexity.h"

#include <chrono>
#include <cmath>

namespace opstudio::llm {

Result<PerplexityResult> perplexity(Decoder& decoder, std::string_view text,
                                    const PerplexityOptions& options) {
    if (options.chunk < 2) return Error("--chunk must be at least 2 bytes");
    const auto t0 = std::chrono::steady_clock::now();
    PerplexityResult r;
    double nll = 0;
    for (size_t start = 0; start < text.size(); start += static_cast<size_t>(options.chunk)) {
        if (options.maxChunks > 0 && r.chunks >= options.maxChunks) break;
        const std::string_view piece = text.substr(start, static_cast<size_t>(options.chunk));
        if (piece.size() < 2) continue;
        const std::vector<int64_t> ids = bytesToTokens(piece);
        decoder.reset();
        auto logits = decoder.forward(ids);
        if (!logits.ok()) return logits.error();
        const std::vector<float>& l = logits.value();
        const size_t v = l.size() / ids.size();
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
            // -log softmax(l_i)[y] = logsumexp(l_i) - l_i[y], in double (as torch's cross_entropy on
            // .double()).
            const float* row = l.data() + i * v;
            const auto y = static_cast<size_t>(ids[i + 1]);
            if (y >= v)
                return Error("token " + std::to_string(y) + " is outside the vocabulary (" +
                             std::to_string(v) + ")");
            double mx = row[0];
            for (size_t k = 1; k < v; ++k)
                mx = std::max(mx, static_cast<double>(row[k]));
            double sum = 0;
            for (size_t k = 0; k < v; ++k)
                sum += std::exp(static_cast<double>(row[k]) - mx);
            nll += mx + std::log(sum) - static_cast<double>(row[y]);
        }
        r.predicted += static_cast<int64_t>(ids.size()) - 1;
        ++r.chunks;
    }
    decoder.reset();
    if (r.predicted == 0) return Error("text too short: no chunk of at least 2 bytes");
    r.meanNll = nll / static_cast<double>(r.predicted);
    r.perplexity = std::exp(r.meanNll);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

Result<PerplexityResult> perplexity(std::shared_ptr<const ir::Model> model, std::string_view text,
                                    const PerplexityOptions& options) {
    auto decoder = Decoder::create(std::move(model), {options.threads, options.reference});
    if (!decoder.ok()) return decoder.error();
    return perplexity(*decoder.value(), text, options);
}

} // namespace opstudio::llm
