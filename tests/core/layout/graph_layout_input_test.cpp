// Model graphs as layout input (folding, sizes, edges), the committed models laid out, and the CLI.
#include "opstudio/layout/layout.h"
#include "opstudio/onnx/model_io.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace fs = std::filesystem;
using namespace opstudio;
using namespace opstudio::layout;

namespace {

ir::Node makeNode(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs) {
    ir::Node n;
    n.opType = std::move(op);
    n.name = n.opType + "_0";
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    return n;
}

ir::Attribute intsAttr(const std::string& name, std::vector<int64_t> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Ints;
    a.ints = std::move(v);
    return a;
}

/// x -> Conv(W) -> Add(Constant) -> Relu -> y, with W an initializer.
std::unique_ptr<ir::Graph> smallConvGraph() {
    auto g = std::make_unique<ir::Graph>();
    g->inputs = {"x"};
    g->outputs = {"y"};
    g->initializers.emplace("W", ir::Tensor::zeros(ir::DType::F32, {8, 3, 3, 3}));
    auto conv = makeNode("Conv", {"x", "W"}, {"c"});
    conv.attributes = {intsAttr("kernel_shape", {3, 3}), intsAttr("strides", {2, 2})};
    g->addNode(conv);
    auto constant = makeNode("Constant", {}, {"bias"});
    ir::Attribute value;
    value.name = "value";
    value.type = ir::AttrType::Tensor;
    value.t = ir::Tensor::zeros(ir::DType::F32, {8, 1, 1});
    constant.attributes = {value};
    g->addNode(constant);
    g->addNode(makeNode("Add", {"c", "bias"}, {"a"}));
    g->addNode(makeNode("Mul", {"a", "a"}, {"m"}));
    g->addNode(makeNode("Relu", {"m"}, {"y"}));
    auto& x = g->value("x");
    x.dtype = ir::DType::F32;
    x.shape = ir::toValueShape({1, 3, 32, 32});
    g->rebuildIndex();
    return g;
}

std::vector<fs::path> committedModels() {
    std::vector<fs::path> models;
    const fs::path root = fs::path(OPSTUDIO_TEST_DATA_DIR) / "models";
    if (!fs::exists(root)) return models;
    for (const auto& entry : fs::directory_iterator(root))
        if (fs::exists(entry.path() / "model.onnx")) models.push_back(entry.path() / "model.onnx");
    std::sort(models.begin(), models.end());
    return models;
}

/// Boxes in one layer share a row, so overlaps can only happen between neighbours in a row.
::testing::AssertionResult noOverlapByLayer(const LayoutInput& in, const LayoutResult& r) {
    std::vector<int> order(in.nodes.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = static_cast<int>(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        return r.layers[a] != r.layers[b] ? r.layers[a] < r.layers[b] : r.centers[a].x < r.centers[b].x;
    });
    for (size_t i = 1; i < order.size(); ++i) {
        const int a = order[i - 1], b = order[i];
        if (r.layers[a] != r.layers[b]) continue; // rows are checked below
        if (r.centers[a].x + in.nodes[a].width / 2 > r.centers[b].x - in.nodes[b].width / 2)
            return ::testing::AssertionFailure()
                   << "boxes " << a << " and " << b << " overlap in layer " << r.layers[a];
    }
    // Rows: every box of layer L ends above every box of layer L + 1 starts.
    int maxLayer = 0;
    for (int l : r.layers)
        maxLayer = std::max(maxLayer, l);
    std::vector<float> bottom(maxLayer + 1, -1e30f), top(maxLayer + 1, 1e30f);
    for (size_t v = 0; v < in.nodes.size(); ++v) {
        bottom[r.layers[v]] = std::max(bottom[r.layers[v]], r.centers[v].y + in.nodes[v].height / 2);
        top[r.layers[v]] = std::min(top[r.layers[v]], r.centers[v].y - in.nodes[v].height / 2);
    }
    for (int l = 0; l < maxLayer; ++l)
        if (bottom[l] > top[l + 1])
            return ::testing::AssertionFailure() << "layers " << l << " and " << l + 1 << " overlap";
    return ::testing::AssertionSuccess();
}

/// No polyline passes through a box other than its own source and target (segments sampled).
::testing::AssertionResult edgesAvoidBoxes(const LayoutInput& in, const LayoutResult& r) {
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto& pts = r.edges[e];
        for (size_t i = 1; i < pts.size(); ++i)
            for (size_t v = 0; v < in.nodes.size(); ++v) {
                if (static_cast<int>(v) == in.edges[e].from || static_cast<int>(v) == in.edges[e].to)
                    continue;
                for (int k = 0; k <= 16; ++k) {
                    const float t = k / 16.f;
                    const float x = pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t;
                    const float y = pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t;
                    if (std::abs(x - r.centers[v].x) < in.nodes[v].width / 2 - 0.5f &&
                        std::abs(y - r.centers[v].y) < in.nodes[v].height / 2 - 0.5f)
                        return ::testing::AssertionFailure() << "edge " << e << " crosses box " << v;
                }
            }
    }
    return ::testing::AssertionSuccess();
}

} // namespace

TEST(BuildGraphLayoutInput, FoldsWeightsAndConstantsAndAddsInputOutputBoxes) {
    const auto g = smallConvGraph();
    const GraphLayoutInput in = buildGraphLayoutInput(*g);
    ASSERT_EQ(in.items.size(), 6u); // x, Conv, Add, Mul, Relu, y
    ASSERT_EQ(in.items.size(), in.input.nodes.size());
    EXPECT_EQ(in.items[0].kind, GraphLayoutInput::Kind::GraphInput);
    EXPECT_EQ(in.items[0].label, "x");
    EXPECT_EQ(in.items[0].detail, "float[1,3,32,32]");
    EXPECT_EQ(in.items[1].label, "Conv");
    EXPECT_EQ(in.items[1].detail, "3x3 s2");
    EXPECT_EQ(in.items[2].label, "Add");
    EXPECT_EQ(in.items[2].detail, "W 8x1x1"); // the folded Constant, summarised
    EXPECT_EQ(in.items[3].label, "Mul");
    EXPECT_EQ(in.items[4].label, "Relu");
    EXPECT_EQ(in.items[5].kind, GraphLayoutInput::Kind::GraphOutput);
    EXPECT_EQ(in.items[5].value, "y");
    for (const auto& item : in.items)
        EXPECT_NE(item.label, "Constant");

    // Edges: x->Conv, Conv->Add, Add->Mul (once, though Mul reads it twice), Mul->Relu, Relu->y.
    ASSERT_EQ(in.input.edges.size(), 5u);
    ASSERT_EQ(in.edgeValues.size(), 5u);
    const std::vector<std::array<int, 2>> expected = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}};
    const std::vector<std::string> values = {"x", "c", "a", "m", "y"};
    for (size_t e = 0; e < expected.size(); ++e) {
        EXPECT_EQ(in.input.edges[e].from, expected[e][0]) << e;
        EXPECT_EQ(in.input.edges[e].to, expected[e][1]) << e;
        EXPECT_EQ(in.edgeValues[e], values[e]) << e;
    }

    // Sizes: max(90, 7 px * longest line + 2 * 12 px); 36 px for one line, 52 for two.
    EXPECT_FLOAT_EQ(in.input.nodes[1].width, kMinBoxWidth); // "3x3 s2": 6 chars
    EXPECT_FLOAT_EQ(in.input.nodes[1].height, kBoxHeightTwoLines);
    EXPECT_FLOAT_EQ(in.input.nodes[4].height, kBoxHeight);   // Relu: one line
    EXPECT_FLOAT_EQ(in.input.nodes[0].width, 7.f * 16 + 24); // "float[1,3,32,32]": 16 chars
}

TEST(BuildGraphLayoutInput, Deterministic) {
    const auto g = smallConvGraph();
    const GraphLayoutInput a = buildGraphLayoutInput(*g);
    const GraphLayoutInput b = buildGraphLayoutInput(*g);
    ASSERT_EQ(a.items.size(), b.items.size());
    for (size_t i = 0; i < a.items.size(); ++i) {
        EXPECT_EQ(a.items[i].label, b.items[i].label);
        EXPECT_EQ(a.input.nodes[i].width, b.input.nodes[i].width);
    }
    EXPECT_EQ(a.edgeValues, b.edgeValues);
}

TEST(ToSvg, SelfContainedWithBoxesArrowsAndStyledInputs) {
    const auto g = smallConvGraph();
    const GraphLayoutInput in = buildGraphLayoutInput(*g);
    const std::string svg = toSvg(in, layoutGraph(in.input));
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("marker-end=\"url(#arrow)\""), std::string::npos);
    EXPECT_NE(svg.find(">Conv</text>"), std::string::npos);
    EXPECT_NE(svg.find("class=\"input\""), std::string::npos);
    EXPECT_NE(svg.find("class=\"output\""), std::string::npos);
    EXPECT_EQ(svg.find("href=\"http"), std::string::npos); // nothing external
    EXPECT_EQ(svg.find("<polyline"), svg.find("<polyline class=\"edge\""));
}

TEST(LayoutModels, CommittedModelsLayOutCleanly) {
    const auto models = committedModels();
    ASSERT_FALSE(models.empty());
    for (const auto& path : models) {
        auto loaded = onnxio::loadModel(path.string());
        ASSERT_TRUE(loaded.ok()) << path;
        const ir::Model model = std::move(loaded).value();
        const GraphLayoutInput in = buildGraphLayoutInput(*model.graph);
        const LayoutResult r = layoutGraph(in.input);
        const std::string name = path.parent_path().filename().string();
        std::printf("%-16s %5zu boxes %5zu edges %4lld crossings  %7.0f x %7.0f px  %.2f ms\n", name.c_str(),
                    in.items.size(), in.input.edges.size(), static_cast<long long>(r.crossings), r.width,
                    r.height, r.layoutMs);
        EXPECT_TRUE(noOverlapByLayer(in.input, r)) << name;
        EXPECT_TRUE(edgesAvoidBoxes(in.input, r)) << name;
        for (const auto& item : in.items)
            EXPECT_NE(item.label, "Constant") << name;
        for (size_t e = 0; e < in.input.edges.size(); ++e) {
            const auto [from, to] = in.input.edges[e];
            EXPECT_GT(r.layers[to], r.layers[from]) << name << " edge " << e;
            ASSERT_GE(r.edges[e].size(), 2u);
            EXPECT_LT(r.edges[e].front().y, r.edges[e].back().y) << name << " edge " << e;
        }
        // Same model, same drawing.
        const LayoutResult again = layoutGraph(buildGraphLayoutInput(*model.graph).input);
        for (size_t v = 0; v < r.centers.size(); ++v) {
            EXPECT_EQ(r.centers[v].x, again.centers[v].x);
            EXPECT_EQ(r.centers[v].y, again.centers[v].y);
        }
    }
}

TEST(LayoutCli, JsonHasTheKeys) {
    const auto models = committedModels();
    ASSERT_FALSE(models.empty());
    const std::string command =
        std::string(OPSTUDIO_CLI_PATH) + " layout '" + models.front().string() + "' --json";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    ASSERT_TRUE(pipe);
    std::string out;
    std::array<char, 4096> buf{};
    while (size_t got = std::fread(buf.data(), 1, buf.size(), pipe.get()))
        out.append(buf.data(), got);
    const int status = pclose(pipe.release());
    ASSERT_EQ(status, 0) << out;
    const auto doc = nlohmann::json::parse(out);
    for (const char* key : {"nodes", "edges", "crossings", "layout_ms", "width", "height"})
        EXPECT_TRUE(doc.contains(key)) << key;
    ASSERT_FALSE(doc["nodes"].empty());
    for (const char* key : {"kind", "label", "x", "y", "width", "height", "layer"})
        EXPECT_TRUE(doc["nodes"][0].contains(key)) << key;
    ASSERT_FALSE(doc["edges"].empty());
    EXPECT_TRUE(doc["edges"][0].contains("points"));
}

TEST(LayoutCli, MissingModelIsOneErrorLine) {
    const std::string command = std::string(OPSTUDIO_CLI_PATH) + " layout /nonexistent/model.onnx 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    ASSERT_TRUE(pipe);
    std::string out;
    std::array<char, 4096> buf{};
    while (size_t got = std::fread(buf.data(), 1, buf.size(), pipe.get()))
        out.append(buf.data(), got);
    const int status = pclose(pipe.release());
    EXPECT_NE(status, 0);
    EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}
