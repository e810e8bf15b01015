// opstudio-bench: times Session::run (no observer) on the same raw inputs ONNX Runtime gets.
//   opstudio-bench MODEL --inputs DIR [--threads N] [--runs N] [--warmup N]
//   opstudio-bench MODEL --write-inputs DIR [--seed S]      (seeded random feeds, raw + manifest.json)
// Prints {"median_ms", "p10_ms", "p90_ms", "runs", "peak_activation_bytes"} as JSON.
#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"
#include "support/ort_peer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

using namespace opstudio;
namespace fs = std::filesystem;

static std::map<std::string, ir::Tensor> readRawFeeds(const std::string& dir) {
    std::ifstream mf(fs::path(dir) / "manifest.json");
    if (!mf) throw Error("no manifest.json in " + dir);
    const auto manifest = nlohmann::json::parse(mf);
    std::map<std::string, ir::Tensor> feeds;
    for (const auto& m : manifest) {
        std::string dt = m["dtype"];
        const ir::DType dtype = dt == "float32" ? ir::DType::F32 : ir::dtypeFromName(dt);
        ir::Tensor t(dtype, m["shape"].get<std::vector<int64_t>>());
        std::ifstream in(fs::path(dir) / m["file"].get<std::string>(), std::ios::binary);
        in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.byteSize()));
        feeds[m["name"]] = std::move(t);
    }
    return feeds;
}

int main(int argc, char** argv) {
    try {
        if (argc < 2) throw Error("usage: opstudio-bench MODEL (--inputs DIR | --write-inputs DIR) [--threads N] [--runs N] [--warmup N]");
        std::string model = argv[1], inputs, writeInputs;
        int threads = 1, runs = 20, warmup = 3;
        uint64_t seed = 1;
        for (int i = 2; i + 1 < argc; i += 2) {
            const std::string k = argv[i], v = argv[i + 1];
            if (k == "--inputs") inputs = v;
            else if (k == "--write-inputs") writeInputs = v;
            else if (k == "--threads") threads = std::stoi(v);
            else if (k == "--runs") runs = std::stoi(v);
            else if (k == "--warmup") warmup = std::stoi(v);
            else if (k == "--seed") seed = std::stoull(v);
            else throw Error("unknown option " + k);
        }
        auto loaded = onnxio::loadModel(model);
        if (!loaded) throw loaded.error();
        auto m = std::make_shared<ir::Model>(std::move(loaded.value()));
        rt::SessionOptions o;
        o.threads = threads;
        auto session = rt::Session::create(m, o);
        if (!session) throw session.error();
        if (!writeInputs.empty()) {
            opstudio::testing::writeRawFeeds(rt::randomFeeds(*session.value(), seed), writeInputs);
            return 0;
        }
        const auto feeds = readRawFeeds(inputs);
        for (int i = 0; i < warmup; ++i)
            if (auto r = session.value()->run(feeds); !r) throw r.error();
        std::vector<double> times;
        for (int i = 0; i < runs; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto r = session.value()->run(feeds);
            const auto t1 = std::chrono::steady_clock::now();
            if (!r) throw r.error();
            times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        std::sort(times.begin(), times.end());
        auto pct = [&](double p) { return times[static_cast<size_t>(std::lround((times.size() - 1) * p))]; };
        nlohmann::json out{{"median_ms", pct(0.5)}, {"p10_ms", pct(0.1)}, {"p90_ms", pct(0.9)}, {"runs", runs},
                           {"peak_activation_bytes", session.value()->peakActivationBytes()}};
        std::cout << out.dump() << "\n";
        return 0;
    } catch (const Error& e) {
        std::cerr << "error: " << e.describe() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}
