#include "support/ort_peer.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;

namespace opstudio::testing {

namespace {

const std::string kInteropDir = std::string(OPSTUDIO_SOURCE_DIR) + "/tests/interop";

std::string ortDtype(ir::DType t) {
    switch (t) {
    case ir::DType::F32: return "float32";
    case ir::DType::F64: return "float64";
    case ir::DType::I8: return "int8";
    case ir::DType::U8: return "uint8";
    case ir::DType::I16: return "int16";
    case ir::DType::U16: return "uint16";
    case ir::DType::I32: return "int32";
    case ir::DType::U32: return "uint32";
    case ir::DType::I64: return "int64";
    case ir::DType::U64: return "uint64";
    case ir::DType::Bool: return "bool";
    case ir::DType::F16: return "float16";
    default: throw Error("ONNX Runtime peer: unsupported dtype " + std::string(ir::dtypeName(t)));
    }
}

ir::DType fromOrtDtype(const std::string& s) {
    if (s == "float32") return ir::DType::F32;
    if (s == "float16") return ir::DType::F16;
    if (s == "int64") return ir::DType::I64;
    if (s == "bool") return ir::DType::Bool;
    return ir::dtypeFromName(s);
}

std::string tempDir() {
    std::random_device rd;
    const fs::path p = fs::temp_directory_path() / ("opstudio-ort-" + std::to_string(rd()));
    fs::create_directories(p);
    return p.string();
}

} // namespace

bool ortAvailable() {
    return std::system("node --version >/dev/null 2>&1") == 0 &&
           fs::exists(kInteropDir + "/node_modules/onnxruntime-node/package.json");
}

bool ortRequired() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

void writeRawFeeds(const std::map<std::string, ir::Tensor>& feeds, const std::string& dir) {
    fs::create_directories(dir);
    nlohmann::json manifest = nlohmann::json::array();
    int i = 0;
    for (const auto& [name, t] : feeds) {
        const std::string file = "input_" + std::to_string(i++) + ".bin";
        std::ofstream out(fs::path(dir) / file, std::ios::binary);
        out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.byteSize()));
        manifest.push_back({{"name", name}, {"dtype", ortDtype(t.dtype())}, {"shape", t.shape()}, {"file", file}});
    }
    std::ofstream(fs::path(dir) / "manifest.json") << manifest.dump();
}

Result<std::vector<std::pair<std::string, ir::Tensor>>> runWithOrt(const std::string& modelPath,
                                                                  const std::map<std::string, ir::Tensor>& feeds,
                                                                  int threads, const std::string& optLevel) {
    try {
        const std::string dir = tempDir();
        writeRawFeeds(feeds, dir + "/in");
        const std::string cmd = "node '" + kInteropDir + "/ort_run.js' run '" + modelPath + "' '" + dir + "/in' '" + dir +
                                "/out' --threads " + std::to_string(threads) + " --opt " + optLevel + " 2>" + dir + "/err";
        if (std::system(cmd.c_str()) != 0) {
            std::ifstream err(dir + "/err");
            std::string msg((std::istreambuf_iterator<char>(err)), {});
            fs::remove_all(dir);
            return Error("ONNX Runtime failed: " + msg);
        }
        std::ifstream mf(dir + "/out/manifest.json");
        const auto manifest = nlohmann::json::parse(mf);
        std::vector<std::pair<std::string, ir::Tensor>> outs;
        for (const auto& m : manifest) {
            ir::Tensor t(fromOrtDtype(m["dtype"]), m["shape"].get<std::vector<int64_t>>());
            std::ifstream in(fs::path(dir) / "out" / m["file"].get<std::string>(), std::ios::binary);
            in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.byteSize()));
            outs.emplace_back(m["name"].get<std::string>(), std::move(t));
        }
        fs::remove_all(dir);
        return outs;
    } catch (const std::exception& e) {
        return Error(std::string("ONNX Runtime peer: ") + e.what());
    }
}

} // namespace opstudio::testing
