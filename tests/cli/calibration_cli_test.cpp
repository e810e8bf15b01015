// `opstudio-cli optimize --calibration DIR | --calibration-random N | --calibration-text FILE`.
#include "support/temp_dir.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

const std::string kModels = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models";

struct CliRun {
    int code = -1;
    std::string out;
};

CliRun cli(const std::string& args) {
    CliRun r;
    FILE* p = popen((std::string(OPSTUDIO_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
        r.out.append(buf, n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

TEST(CliCalibration, FolderRandomAndTextSourcesAreLoadedAndReported) {
    opstudio::testing::TempDir tmp("cli_calibration");
    const std::string out = (tmp / "out.onnx").string();
    const std::string mobilenet = kModels + "/mobilenet_v2";
    CliRun r = cli("optimize " + mobilenet + "/model.onnx -o " + out + " --calibration " + mobilenet + " --json");
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["calibration"], nlohmann::json::array({"calibration: 1 sets"}));

    r = cli("optimize " + mobilenet + "/model.onnx -o " + out + " --calibration-random 3 --json");
    ASSERT_EQ(r.code, 0) << r.out;
    j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["calibration"].size(), 2u);
    EXPECT_EQ(j["calibration"][0].get<std::string>().rfind("warning: calibration uses random inputs", 0), 0u);
    EXPECT_EQ(j["calibration"][1], "calibration: 3 sets");

    const std::string llama = kModels + "/llama_bytes";
    r = cli("optimize " + llama + "/model.onnx -o " + out + " --calibration-text " + llama +
            "/calibration.txt --calibration-max 5 --json");
    ASSERT_EQ(r.code, 0) << r.out;
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["calibration"], nlohmann::json::array({"calibration: 5 sets"}));
}

TEST(CliCalibration, OneSourceAtATimeAndBadFoldersNamed) {
    opstudio::testing::TempDir tmp("cli_calibration");
    const std::string out = (tmp / "out.onnx").string();
    const std::string model = kModels + "/mobilenet_v2/model.onnx";
    CliRun r = cli("optimize " + model + " -o " + out + " --calibration-random 2 --calibration " + kModels);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("give one of --calibration"), std::string::npos) << r.out;
    r = cli("optimize " + model + " -o " + out + " --calibration " + tmp.path().string());
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("no input_N.pb"), std::string::npos) << r.out;
}

} // namespace
