// opstudio-cli as scripts see it: exit codes, one `error:` line on failure, JSON shape, files on disk.
#include "support/temp_dir.h"
#include "opstudio/onnx/model_io.h"
#include "support/graph_builder.h"
#include "support/test_util.h"

#include <nlohmann/json.hpp>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace opstudio;

namespace {

const std::string kTestData = OPSTUDIO_ONNX_TESTDATA_DIR;

class TempDir : public opstudio::testing::TempDir {
public:
    TempDir() : opstudio::testing::TempDir("opstudio_cli") {}
};

std::string readFile(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void writeBytes(const fs::path& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct CliResult {
    int code = -1;
    std::string out;
    std::string err;
    int errorLines() const {
        int n = 0;
        std::istringstream in(err);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) ++n;
        return n;
    }
    bool oneErrorLine() const { return errorLines() == 1 && err.rfind("error: ", 0) == 0; }
};

CliResult runCli(const std::vector<std::string>& args) {
    TempDir io;
    std::string cmd = quote(OPSTUDIO_CLI_PATH);
    for (const auto& a : args)
        cmd += " " + quote(a);
    cmd += " > " + quote((io / "out").string()) + " 2> " + quote((io / "err").string());
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    r.out = readFile(io / "out");
    r.err = readFile(io / "err");
    return r;
}

// --- small models built with the protobuf API (tests must not need python) ---

void addTensorIo(onnx::GraphProto& g, const std::string& name, std::vector<int64_t> dims, bool output) {
    auto* vi = output ? g.add_output() : g.add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void addNode(onnx::GraphProto& g, const std::string& op, std::vector<std::string> in,
             std::vector<std::string> out, const std::string& name) {
    auto* n = g.add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : in)
        n->add_input(i);
    for (auto& o : out)
        n->add_output(o);
}

/// y = (x + w) * x with n elements.
onnx::ModelProto validModel(int64_t n = 4) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto& g = *m.mutable_graph();
    g.set_name("g");
    addTensorIo(g, "x", {n}, false);
    auto* w = g.add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(n);
    w->set_raw_data(std::string(static_cast<size_t>(n) * 4, '\0'));
    addNode(g, "Add", {"x", "w"}, {"a"}, "add");
    addNode(g, "Mul", {"a", "x"}, {"y"}, "mul");
    addTensorIo(g, "y", {n}, true);
    return m;
}

onnx::ModelProto externalModel(const std::string& location) {
    auto m = validModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = w->add_external_data();
    e->set_key("location");
    e->set_value(location);
    return m;
}

} // namespace

TEST(CliInfo, JsonHasTheKeysScriptsRelyOn) {
    const auto r =
        runCli({"info", kTestData + "/pytorch-converted/test_ConvTranspose2d/model.onnx", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["nodes"], 1);
    EXPECT_EQ(doc["op_types"], nlohmann::json({{"ConvTranspose", 1}}));
    ASSERT_EQ(doc["inputs"].size(), 1u); // the weights listed as inputs (IR 3) are not real inputs
    EXPECT_EQ(doc["inputs"][0]["name"], "0");
    EXPECT_EQ(doc["inputs"][0]["dtype"], "float");
    EXPECT_EQ(doc["inputs"][0]["shape"], nlohmann::json({1, 3, 7, 6}));
    ASSERT_EQ(doc["outputs"].size(), 1u);
    EXPECT_EQ(doc["outputs"][0]["dtype"], "float");
    EXPECT_EQ(doc["parameters"], 3 * 4 * 3 * 3 + 4);
    EXPECT_EQ(doc["weight_bytes"], (3 * 4 * 3 * 3 + 4) * 4);
    EXPECT_EQ(doc["opsets"], nlohmann::json({{"ai.onnx", 6}}));
    EXPECT_EQ(doc["producer"], "pytorch");
    EXPECT_EQ(doc["ir_version"], 3);
    EXPECT_EQ(doc["subgraphs"], 0);
}

TEST(CliInfo, JsonCountsSubgraphsAndSymbolicDims) {
    TempDir dir;
    auto m = validModel();
    auto* dim = m.mutable_graph()
                    ->mutable_input(0)
                    ->mutable_type()
                    ->mutable_tensor_type()
                    ->mutable_shape()
                    ->mutable_dim(0);
    dim->set_dim_param("batch");
    writeBytes(dir / "m.onnx", m.SerializeAsString());
    auto r = runCli({"info", (dir / "m.onnx").string(), "--json", (dir / "info.json").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    auto doc = nlohmann::json::parse(readFile(dir / "info.json"));
    EXPECT_EQ(doc["inputs"][0]["shape"], nlohmann::json({"batch"}));

    r = runCli({"info", kTestData + "/node/test_if/model.onnx", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["subgraphs"], 2);
    EXPECT_EQ(doc["nodes"], 1);
}

TEST(CliInfo, TextOutputSucceeds) {
    const auto r = runCli({"info", kTestData + "/node/test_add/model.onnx"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Add"), std::string::npos);
}

TEST(CliOptimize, RoundTripPassesTheChecker) {
    TempDir dir;
    const fs::path out = dir / "out.onnx";
    const auto r = runCli({"optimize", kTestData + "/node/test_if/model.onnx", "-o", out.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NO_THROW(onnx::checker::check_model(out.string()));
    auto loaded = onnxio::loadModel(out.string());
    ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
    EXPECT_EQ(loaded->graph->subgraphCount(), 2u);
}

TEST(CliOptimize, RefusesToOverwriteItsInput) {
    TempDir dir;
    const fs::path model = dir / "model.onnx";
    fs::copy_file(kTestData + "/node/test_add/model.onnx", model);
    const std::string before = readFile(model);
    const auto r = runCli({"optimize", model.string(), "-o", model.string()});
    EXPECT_NE(r.code, 0);
    EXPECT_TRUE(r.oneErrorLine()) << r.err;
    EXPECT_NE(r.err.find("overwrite"), std::string::npos) << r.err;
    EXPECT_EQ(readFile(model), before);
}

TEST(CliOptimize, QuantizeWeightsSaysWhatItDidAndTheFileLoads) {
    TempDir dir;
    const fs::path out = dir / "q.onnx";
    const std::string model = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/gpt_decoder/model.onnx";
    const auto r = runCli({"optimize", model, "-o", out.string(), "--pass", "quantize-weights:bits=4,block_size=32"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("quantize-weights: applied "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("bits/weight"), std::string::npos) << r.out;
    auto loaded = onnxio::loadModel(out.string());
    ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
    int nbits = 0;
    loaded->graph->forEachNode([&](const ir::Node& n) { nbits += n.opType == "MatMulNBits"; });
    EXPECT_GT(nbits, 0);
    // Calibration-based methods without calibration data: one clear error line.
    const auto g = runCli({"optimize", model, "-o", (dir / "g.onnx").string(), "--pass", "quantize-weights:method=gptq"});
    EXPECT_NE(g.code, 0);
    EXPECT_TRUE(g.oneErrorLine()) << g.err;
    EXPECT_NE(g.err.find("needs calibration data"), std::string::npos) << g.err;
    EXPECT_FALSE(fs::exists(dir / "g.onnx"));
}

TEST(CliOptimize, UnknownPassIsAnError) {
    TempDir dir;
    const auto r = runCli({"optimize", kTestData + "/node/test_add/model.onnx", "-o",
                           (dir / "o.onnx").string(), "--pass", "no-such-pass"});
    EXPECT_NE(r.code, 0);
    EXPECT_TRUE(r.oneErrorLine()) << r.err;
}

TEST(CliRun, ReproducesNodeTestOutputs) {
    TempDir dir;
    const std::string caseDir = kTestData + "/node/test_conv_with_strides_padding";
    const auto r = runCli({"run", caseDir + "/model.onnx", "--inputs", caseDir + "/test_data_set_0",
                           "--outputs", (dir / "out").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    auto expected = onnxio::readTensorFile(caseDir + "/test_data_set_0/output_0.pb");
    std::string name;
    auto actual = onnxio::readTensorFile((dir / "out" / "output_0.pb").string(), &name);
    ASSERT_TRUE(expected.ok() && actual.ok());
    EXPECT_EQ(name, "y");
    EXPECT_TRUE(opstudio::testing::allClose(actual.value(), expected.value(), 1e-4, 1e-4));
}

TEST(CliRun, RandomInputsAreWrittenForReplay) {
    TempDir dir;
    const std::string model = kTestData + "/node/test_add/model.onnx";
    auto r = runCli({"run", model, "--outputs", (dir / "a").string(), "--seed", "3"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir / "a" / "input_0.pb"));
    EXPECT_TRUE(fs::exists(dir / "a" / "input_1.pb"));
    EXPECT_TRUE(fs::exists(dir / "a" / "output_0.pb"));
    // Replaying the saved inputs gives the same outputs.
    r = runCli({"run", model, "--inputs", (dir / "a").string(), "--outputs", (dir / "b").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(readFile(dir / "a" / "output_0.pb"), readFile(dir / "b" / "output_0.pb"));
}

TEST(CliRun, WrongInputsGiveOneErrorLine) {
    TempDir dir;
    const std::string model = kTestData + "/node/test_add/model.onnx"; // x, y: float [3,4,5]
    auto writeInputs = [&](const std::string& sub, const ir::Tensor& x, const std::string& xName) {
        fs::create_directories(dir / sub);
        ASSERT_TRUE(onnxio::writeTensorFile(x, xName, (dir / sub / "input_0.pb").string()).ok());
        auto y = ir::Tensor::zeros(ir::DType::F32, {3, 4, 5});
        ASSERT_TRUE(onnxio::writeTensorFile(y, "y", (dir / sub / "input_1.pb").string()).ok());
    };
    writeInputs("name", ir::Tensor::zeros(ir::DType::F32, {3, 4, 5}), "nope");
    writeInputs("dtype", ir::Tensor::zeros(ir::DType::I32, {3, 4, 5}), "x");
    writeInputs("shape", ir::Tensor::zeros(ir::DType::F32, {3, 4, 6}), "x");
    for (const char* sub : {"name", "dtype", "shape"}) {
        const auto r =
            runCli({"run", model, "--inputs", (dir / sub).string(), "--outputs", (dir / "out").string()});
        EXPECT_NE(r.code, 0) << sub;
        EXPECT_TRUE(r.oneErrorLine()) << sub << ": " << r.err;
        EXPECT_NE(r.err.find("x"), std::string::npos) << r.err;
    }
}

TEST(CliErrors, BadModelsGiveNonZeroExitAndOneErrorLine) {
    TempDir dir;
    std::vector<std::pair<std::string, fs::path>> cases;
    auto add = [&](const std::string& label, const std::string& bytes,
                   const std::string& file = "model.onnx") {
        const fs::path sub = dir / label;
        fs::create_directories(sub);
        writeBytes(sub / file, bytes);
        cases.emplace_back(label, sub / file);
    };
    add("empty", "");
    std::mt19937 rng(99);
    std::string random(4096, '\0');
    for (char& c : random)
        c = static_cast<char>(rng() & 0xff);
    add("random", random);
    const std::string valid = validModel(1000).SerializeAsString();
    add("truncated", valid.substr(0, valid.size() / 2));
    cases.emplace_back("directory", dir.path());
    cases.emplace_back("missing", dir / "missing.onnx");
    add("missing_external", externalModel("weights.bin").SerializeAsString());
    add("escape_dotdot", externalModel("../outside.bin").SerializeAsString());
    writeBytes(dir / "outside.bin", std::string(16, '\0'));
    add("escape_absolute", externalModel((dir / "outside.bin").string()).SerializeAsString());
    {
        auto m = validModel();
        auto& g = *m.mutable_graph();
        g.clear_node();
        addNode(g, "Add", {"x", "b"}, {"a"}, "add");
        addNode(g, "Relu", {"a"}, {"b"}, "relu");
        addNode(g, "Mul", {"a", "x"}, {"y"}, "mul");
        add("cycle", m.SerializeAsString());
    }
    {
        auto m = validModel();
        m.mutable_graph()->mutable_node(1)->set_input(1, "ghost");
        add("undefined_input", m.SerializeAsString());
    }
    {
        auto m = validModel();
        addNode(*m.mutable_graph(), "Relu", {"x"}, {"a"}, "relu");
        add("defined_twice", m.SerializeAsString());
    }
    {
        auto m = validModel();
        m.mutable_graph()->mutable_initializer(0)->set_dims(0, -4);
        add("negative_dim", m.SerializeAsString());
    }
    {
        auto m = validModel();
        auto* w = m.mutable_graph()->mutable_initializer(0);
        w->set_dims(0, int64_t{1} << 30);
        w->add_dims(int64_t{1} << 30);
        w->add_dims(4);
        add("absurd_dims", m.SerializeAsString());
    }
    {
        auto m = validModel();
        m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(15, '\0'));
        add("raw_data_size", m.SerializeAsString());
    }
    for (const auto& [label, path] : cases) {
        for (const std::string command : {"info", "optimize", "run"}) {
            std::vector<std::string> args{command, path.string()};
            if (command == "optimize") args.insert(args.end(), {"-o", (dir / "out.onnx").string()});
            if (command == "run") args.insert(args.end(), {"--outputs", (dir / "run_out").string()});
            const auto r = runCli(args);
            EXPECT_NE(r.code, 0) << label << " " << command;
            EXPECT_TRUE(r.oneErrorLine()) << label << " " << command << ": " << r.err;
        }
    }
}

TEST(CliErrors, BadArgumentsGiveOneErrorLine) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {},
             {"info"},
             {"no-such-command"},
             {"run", kTestData + "/node/test_add/model.onnx"},
             {"run", kTestData + "/node/test_add/model.onnx", "--outputs", "/tmp", "--dim", "oops"}}) {
        const auto r = runCli(args);
        EXPECT_NE(r.code, 0);
        EXPECT_TRUE(r.oneErrorLine()) << r.err;
    }
}

TEST(CliOptimize, PresetKeepsOutputsAndWritesRecipeAndReport) {
    TempDir dir;
    const std::string caseDir = std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/resnet_bn_stack";
    if (!fs::exists(caseDir + "/model.onnx")) GTEST_SKIP() << "committed test model missing";
    const fs::path out = dir / "opt.onnx";
    auto r =
        runCli({"optimize", caseDir + "/model.onnx", "-o", out.string(), "--preset", "safe-fusions",
                "--save-recipe", (dir / "recipe.json").string(), "--report", (dir / "report.json").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NO_THROW(onnx::checker::check_model(out.string()));
    const auto recipe = nlohmann::json::parse(readFile(dir / "recipe.json"));
    EXPECT_EQ(recipe["opstudio_recipe"], 1);
    EXPECT_FALSE(recipe["passes"].empty());
    const auto report = nlohmann::json::parse(readFile(dir / "report.json"));
    EXPECT_EQ(report["passes"].size(), recipe["passes"].size());
    // The optimized model reproduces the committed reference outputs.
    r = runCli(
        {"run", out.string(), "--inputs", caseDir + "/test_data_set_0", "--outputs", (dir / "o").string()});
    ASSERT_EQ(r.code, 0) << r.err;
    auto expected = onnxio::readTensorFile(caseDir + "/test_data_set_0/output_0.pb");
    auto actual = onnxio::readTensorFile((dir / "o" / "output_0.pb").string());
    ASSERT_TRUE(expected.ok() && actual.ok());
    EXPECT_TRUE(opstudio::testing::allClose(actual.value(), expected.value(), 1e-3, 1e-3));
    // Replaying the saved recipe works too.
    r = runCli({"optimize", caseDir + "/model.onnx", "-o", (dir / "again.onnx").string(), "--recipe",
                (dir / "recipe.json").string()});
    EXPECT_EQ(r.code, 0) << r.err;
}

TEST(PassesCli, ListsEveryPassWithItsSchema) {
    const auto r = runCli({"passes", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    ASSERT_TRUE(doc.is_array());
    bool sawFold = false;
    for (const auto& p : doc) {
        for (const char* key : {"name", "category", "description", "params"}) EXPECT_TRUE(p.contains(key)) << key;
        if (p["name"] == "fold-constants") {
            sawFold = true;
            EXPECT_EQ(p["category"], "cleanup");
            ASSERT_FALSE(p["params"].empty());
            EXPECT_EQ(p["params"][0]["name"], "max_size_kb");
            EXPECT_EQ(p["params"][0]["type"], "int");
        }
    }
    EXPECT_TRUE(sawFold);
}

TEST(PassesCli, UnknownPassIsOneErrorLine) {
    TempDir dir;
    const auto r = runCli({"optimize", kTestData + "/node/test_add/model.onnx", "-o", (dir / "o.onnx").string(),
                           "--pass", "no-such-pass"});
    EXPECT_NE(r.code, 0);
    EXPECT_TRUE(r.oneErrorLine()) << r.err;
    EXPECT_NE(r.err.find("no-such-pass"), std::string::npos);
}

// A symbolic width left unset is 1 for random inputs; when that makes the run fail, the error names
// the symbol and the option that sets it. With --dim the same model profiles.
TEST(CliDims, UnsetSymbolicDimIsNamedWithTheOptionThatSetsIt) {
    TempDir dir;
    opstudio::testing::GraphBuilder b(13);
    b.input("x", ir::DType::F32, {1, 1, 4, 8});
    b.initializer("w", ir::Tensor(ir::DType::F32, {2, 1, 3, 3}));
    b.node("Conv", {"x", "w"}, {"y"});
    b.output("y");
    auto m = b.build();
    m->graph->value("x").shape = ir::ValueShape(std::vector<ir::Dim>{ir::Dim::of(1), ir::Dim::of(1), ir::Dim::of(4), ir::Dim::named("W")});
    m->graph->value("y").shape = std::nullopt;
    const std::string path = (dir / "symbolic.onnx").string();
    onnxio::SaveOptions save;
    save.check = false; // the symbolic input is set after shape inference
    const auto saved = onnxio::saveModel(*m, path, save);
    ASSERT_TRUE(saved.ok()) << saved.error().describe();
    const auto failed = runCli({"profile", path, "--runs", "1", "--warmup", "0", "--no-roofline"});
    EXPECT_NE(failed.code, 0);
    EXPECT_TRUE(failed.oneErrorLine()) << failed.err;
    EXPECT_NE(failed.err.find("W of input 'x'"), std::string::npos) << failed.err;
    EXPECT_NE(failed.err.find("--dim W="), std::string::npos) << failed.err;
    const auto ok = runCli({"profile", path, "--runs", "1", "--warmup", "0", "--no-roofline", "--dim", "W=16"});
    EXPECT_EQ(ok.code, 0) << ok.err;
}
