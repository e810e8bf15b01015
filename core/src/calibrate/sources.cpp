// Calibration sets from disk (ONNX test-data folders), from a seeded generator, or from text.
#include "opstudio/calibrate/sources.h"

#include "opstudio/llm/decoder.h"
#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace opstudio::calibrate {

namespace {

/// input_N.pb files of a folder, ordered by N.
std::vector<fs::path> inputFiles(const fs::path& dir) {
    static const std::regex kPattern(R"(input_([0-9]+)\.pb)");
    std::vector<std::pair<long, fs::path>> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::smatch m;
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && std::regex_match(name, m, kPattern))
            found.emplace_back(std::stol(m[1]), entry.path());
    }
    std::sort(found.begin(), found.end());
    std::vector<fs::path> out;
    for (auto& [i, p] : found)
        out.push_back(p);
    return out;
}

/// Trailing number of a folder name (test_data_set_10 -> 10), -1 when none.
long trailingNumber(const std::string& s) {
    static const std::regex kNum(R"(.*?([0-9]+)$)");
    std::smatch m;
    return std::regex_match(s, m, kNum) ? std::stol(m[1]) : -1;
}

Result<std::map<std::string, ir::Tensor>> readSet(const ir::Graph& g, const std::vector<fs::path>& files,
                                                  const std::string& where) {
    const std::vector<std::string> inputs = g.realInputs();
    if (files.size() != inputs.size())
        return Error("calibration set '" + where + "' holds " + std::to_string(files.size()) +
                     " input_N.pb files but the model has " + std::to_string(inputs.size()) + " inputs");
    std::map<std::string, ir::Tensor> feeds;
    for (size_t i = 0; i < files.size(); ++i) {
        std::string name;
        auto t = onnxio::readTensorFile(files[i].string(), &name);
        if (!t.ok()) return t.error();
        const std::string input = name.empty() ? inputs[i] : name;
        if (std::find(inputs.begin(), inputs.end(), input) == inputs.end())
            return Error("'" + files[i].string() + "' holds tensor '" + name + "', which is not an input of the model");
        if (feeds.count(input)) return Error("calibration set '" + where + "' gives input '" + input + "' twice");
        const ir::Value* v = g.findValue(input);
        const ir::Tensor& tensor = t.value();
        if (v && v->dtype != ir::DType::Undefined && v->dtype != tensor.dtype())
            return Error("'" + files[i].string() + "': input '" + input + "' has dtype " +
                         std::string(ir::dtypeName(tensor.dtype())) + ", the model expects " +
                         std::string(ir::dtypeName(v->dtype)));
        if (v && v->shape) {
            const auto& dims = *v->shape;
            bool ok = static_cast<int>(dims.size()) == tensor.rank();
            for (size_t d = 0; ok && d < dims.size(); ++d)
                if (dims[d].known() && dims[d].value != tensor.shape()[d]) ok = false;
            if (!ok)
                return Error("'" + files[i].string() + "': input '" + input + "' has shape " +
                             ir::shapeToString(tensor.shape()) + ", the model expects " +
                             ir::valueShapeToString(v->shape));
        }
        feeds.emplace(input, tensor);
    }
    return feeds;
}

} // namespace

Result<passes::CalibrationData> loadCalibrationFolder(const ir::Model& model, const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Error("calibration folder '" + dir + "' does not exist");
    const ir::Graph& g = *model.graph;
    passes::CalibrationData data;
    if (auto files = inputFiles(dir); !files.empty()) {
        auto set = readSet(g, files, dir);
        if (!set.ok()) return set.error();
        data.feeds.push_back(std::move(set.value()));
        return data;
    }
    std::vector<std::pair<long, fs::path>> sets;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_directory() && !inputFiles(entry.path()).empty())
            sets.emplace_back(trailingNumber(entry.path().filename().string()), entry.path());
    std::sort(sets.begin(), sets.end());
    for (const auto& [n, path] : sets) {
        auto set = readSet(g, inputFiles(path), path.string());
        if (!set.ok()) return set.error();
        data.feeds.push_back(std::move(set.value()));
    }
    if (data.feeds.empty())
        return Error("calibration folder '" + dir + "' holds no input_N.pb files, neither itself nor in sub-folders");
    return data;
}

Result<passes::CalibrationData> randomCalibration(const ir::Model& model, int64_t sets, uint64_t seed,
                                                   const std::map<std::string, int64_t>& dims) {
    if (sets < 1) return Error("random calibration needs at least one set");
    rt::SessionOptions so;
    so.dims = dims;
    auto session = rt::Session::create(std::shared_ptr<const ir::Model>(&model, [](const ir::Model*) {}), so);
    if (!session.ok()) return session.error();
    passes::CalibrationData data;
    for (int64_t i = 0; i < sets; ++i)
        data.feeds.push_back(rt::randomFeeds(*session.value(), seed + static_cast<uint64_t>(i)));
    return data;
}

Result<passes::CalibrationData> textCalibration(const ir::Model& model, std::string_view text,
                                                int64_t chunkBytes, int64_t maxChunks) {
    const ir::Graph& g = *model.graph;
    auto layout = llm::detectDecoder(model);
    std::string idsInput;
    int64_t staticLength = -1;
    if (!layout.ok()) {
        // A plain token model: exactly one integer input [1, sequence].
        const auto inputs = g.realInputs();
        const ir::Value* v = inputs.size() == 1 ? g.findValue(inputs[0]) : nullptr;
        if (!v || (v->dtype != ir::DType::I64 && v->dtype != ir::DType::I32) || !v->shape || v->shape->size() != 2)
            return Error("text calibration needs a KV-cache decoder (" + std::string(layout.error().what()) +
                         ") or a model with exactly one integer input [1, sequence]");
        idsInput = inputs[0];
        if ((*v->shape)[1].known()) staticLength = (*v->shape)[1].value;
    }
    const int64_t chunk = staticLength > 0 ? staticLength : chunkBytes;
    if (chunk < 2) return Error("text calibration chunks must be at least 2 bytes");
    passes::CalibrationData data;
    for (size_t start = 0; start < text.size(); start += static_cast<size_t>(chunk)) {
        if (maxChunks > 0 && static_cast<int64_t>(data.feeds.size()) >= maxChunks) break;
        const std::string_view piece = text.substr(start, static_cast<size_t>(chunk));
        if (piece.size() < 2 || (staticLength > 0 && static_cast<int64_t>(piece.size()) != staticLength)) continue;
        const std::vector<int64_t> ids = llm::bytesToTokens(piece);
        const auto s = static_cast<int64_t>(ids.size());
        std::map<std::string, ir::Tensor> feeds;
        if (!layout.ok()) {
            const ir::Value* v = g.findValue(idsInput);
            if (v->dtype == ir::DType::I32)
                feeds.emplace(idsInput,
                              ir::Tensor::fromVector<int32_t>({1, s}, std::vector<int32_t>(ids.begin(), ids.end())));
            else
                feeds.emplace(idsInput, ir::Tensor::fromVector<int64_t>({1, s}, ids));
            data.feeds.push_back(std::move(feeds));
            continue;
        }
        // The prefill feeds llm::Decoder::forward builds from an empty cache.
        const llm::DecoderLayout& L = layout.value();
        feeds.emplace(L.inputIds, ir::Tensor::fromVector<int64_t>({1, s}, ids));
        if (!L.attentionMask.empty())
            feeds.emplace(L.attentionMask, ir::Tensor::fromVector<int64_t>({1, s}, std::vector<int64_t>(ids.size(), 1)));
        if (!L.positionIds.empty()) {
            std::vector<int64_t> pos(ids.size());
            for (int64_t i = 0; i < s; ++i)
                pos[static_cast<size_t>(i)] = i;
            feeds.emplace(L.positionIds, ir::Tensor::fromVector<int64_t>({1, s}, pos));
        }
        for (const auto& past : L.past)
            feeds.emplace(past, ir::Tensor(L.kvType, {1, L.kvHeads, 0, L.headDim}));
        data.feeds.push_back(std::move(feeds));
    }
    if (data.feeds.empty())
        return Error("text calibration: the text gives no chunk of " +
                     (staticLength > 0 ? "exactly " + std::to_string(staticLength) : std::string("at least 2")) +
                     " bytes");
    return data;
}

Result<std::string> readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error("cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace opstudio::calibrate
