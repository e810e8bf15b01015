// Saves are atomic: a save killed halfway (SIGKILL of a forked child while it writes) leaves the old file
// byte for byte; writeFileAtomically replaces a file in one step and reports unwritable targets.
#include "support/graph_builder.h"
#include "support/test_util.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/util/atomic_file.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace opstudio;
using namespace opstudio::testing;
namespace fs = std::filesystem;

namespace {

std::string readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path freshDir(const std::string& stem) {
    const fs::path dir = fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::shared_ptr<ir::Model> modelWithWeights(int64_t n) {
    return GraphBuilder(17)
        .input("x", ir::DType::F32, {n})
        .initializer("w", randomTensor(ir::DType::F32, {n}, 5))
        .node("Add", {"x", "w"}, {"y"})
        .output("y")
        .build();
}

bool tempFileBeside(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos && e.file_size() > 0) return true;
    return false;
}

} // namespace

TEST(AtomicSave, SaveKilledMidWriteLeavesTheOldFileIntact) {
    const fs::path dir = freshDir("opstudio_kill_save");
    const fs::path target = dir / "model.onnx";
    ASSERT_TRUE(onnxio::saveModel(*modelWithWeights(16), target.string()).ok());
    const std::string old = readAll(target);
    auto big = modelWithWeights(24 << 20); // 96 MiB of weights: the write takes long enough to interrupt
    bool interrupted = false;
    for (int attempt = 0; attempt < 3 && !interrupted; ++attempt) {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            onnxio::SaveOptions options;
            options.check = false;
            (void)onnxio::saveModel(*big, target.string(), options);
            ::_exit(0);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            if (tempFileBeside(dir)) {
                ::kill(child, SIGKILL);
                interrupted = true;
                break;
            }
            if (::waitpid(child, &status, WNOHANG) == child) break; // finished before we caught it
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (interrupted) ::waitpid(child, &status, 0);
        if (!interrupted) { // the child won the race and replaced the file: restore and try again
            ASSERT_TRUE(onnxio::saveModel(*modelWithWeights(16), target.string()).ok());
        }
    }
    ASSERT_TRUE(interrupted) << "never caught the save mid-write";
    EXPECT_EQ(readAll(target), old) << "the old model changed under a killed save";
    auto reloaded = onnxio::loadModel(target.string());
    EXPECT_TRUE(reloaded) << reloaded.error().describe();
    fs::remove_all(dir);
}

TEST(AtomicSave, WriteFileAtomicallyReplacesInOneStepAndNamesUnwritableTargets) {
    const fs::path dir = freshDir("opstudio_atomic_write");
    const fs::path target = dir / "report.json";
    ASSERT_TRUE(util::writeFileAtomically(target.string(), "old").ok());
    ASSERT_TRUE(util::writeFileAtomically(target.string(), "new contents").ok());
    EXPECT_EQ(readAll(target), "new contents");
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir))
        files += e.is_regular_file();
    EXPECT_EQ(files, 1u) << "a temporary file was left behind";
    const auto bad = util::writeFileAtomically((dir / "missing" / "x.json").string(), "x");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(std::string(bad.error().what()).find("missing/x.json"), std::string::npos)
        << bad.error().what();
    fs::remove_all(dir);
}
