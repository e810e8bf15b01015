// Exports parse back and agree with each other.
#include "support/test_util.h"

#include "opstudio/profile/profile_export.h"

#include <sstream>

using namespace opstudio;
using namespace opstudio::profile;

namespace {

ir::Node makeNode(std::string op, std::vector<std::string> ins, std::vector<std::string> outs, std::string name) {
    ir::Node n;
    n.opType = std::move(op);
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.name = std::move(name);
    return n;
}

// x[4,8] -> MatMul(W) -> Add(bias) -> Relu, then a Loop adding x2 three times; one name has a
// comma and a quote to exercise CSV quoting.
std::shared_ptr<ir::Model> mixedModel() {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    auto declare = [&](const std::string& name, ir::DType t, std::vector<int64_t> shape) {
        g.inputs.push_back(name);
        ir::Value& v = g.value(name);
        v.dtype = t;
        v.shape = ir::toValueShape(shape);
        v.hasType = true;
    };
    declare("x", ir::DType::F32, {4, 8});
    declare("M", ir::DType::I64, {});
    g.initializers["W"] = opstudio::testing::randomTensor(ir::DType::F32, {8, 16}, 3);
    g.initializers["bias"] = opstudio::testing::randomTensor(ir::DType::F32, {16}, 4);
    g.addNode(makeNode("MatMul", {"x", "W"}, {"xw"}, "proj, \"main\""));
    g.addNode(makeNode("Add", {"xw", "bias"}, {"xb"}, "bias_add"));
    g.addNode(makeNode("Relu", {"xb"}, {"h"}, "act"));
    auto body = std::make_shared<ir::Graph>();
    body->inputs = {"i", "cond_in", "acc"};
    body->addNode(makeNode("Add", {"acc", "h"}, {"acc_out"}, "body_add"));
    body->addNode(makeNode("Identity", {"cond_in"}, {"cond_out"}, "body_cond"));
    body->outputs = {"cond_out", "acc_out"};
    body->rebuildIndex();
    ir::Node loop = makeNode("Loop", {"M", "", "h"}, {"y"}, "loop");
    ir::Attribute a;
    a.name = "body";
    a.type = ir::AttrType::Graph;
    a.g = body;
    loop.attributes = {a};
    g.addNode(loop);
    g.outputs = {"y"};
    g.rebuildIndex();
    return m;
}

Profile profileMixed() {
    auto s = rt::Session::create(mixedModel());
    if (!s) throw s.error();
    ProfileOptions o;
    o.runs = 4;
    o.warmup = 1;
    MachineInfo machine;
    machine.cpu = "test";
    machine.ceilings = {{1, 100, 400, 10}};
    o.machine = machine;
    std::map<std::string, ir::Tensor> feeds{{"x", opstudio::testing::randomTensor(ir::DType::F32, {4, 8}, 5)},
                                            {"M", ir::Tensor::scalar<int64_t>(3)}};
    auto r = Profiler(*s.value(), o).run(feeds);
    if (!r) throw r.error();
    return r.value();
}

// Minimal RFC 4180 reader: quoted fields, doubled quotes.
std::vector<std::vector<std::string>> parseCsv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
            else if (c == '"') quoted = false;
            else field += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
        } else if (c == '\n') {
            row.push_back(field);
            field.clear();
            rows.push_back(row);
            row.clear();
        } else {
            field += c;
        }
    }
    return rows;
}

void flatten(const nlohmann::json& nodes, std::vector<nlohmann::json>& out) {
    for (const auto& n : nodes) {
        out.push_back(n);
        flatten(n.at("children"), out);
    }
}

} // namespace

TEST(ProfileExport, JsonAndCsvParseBackAndAgree) {
    const Profile p = profileMixed();
    const nlohmann::json j = nlohmann::json::parse(toJson(p).dump());
    for (const char* key : {"total_ms", "runs", "threads", "nodes", "op_types"}) EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["runs"], 4);
    EXPECT_DOUBLE_EQ(j["total_ms"].get<double>(), p.total.median);
    // Top level holds the main graph; the loop body is nested.
    ASSERT_EQ(j["nodes"].size(), 4u);
    EXPECT_EQ(j["nodes"][3]["op_type"], "Loop");
    EXPECT_EQ(j["nodes"][3]["children"].size(), 2u);

    std::vector<nlohmann::json> flat;
    flatten(j["nodes"], flat);
    const auto rows = parseCsv(toCsv(p));
    ASSERT_EQ(rows.size(), flat.size() + 1);
    const auto& header = rows[0];
    auto col = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        EXPECT_NE(it, header.end()) << name;
        return static_cast<size_t>(it - header.begin());
    };
    // Same order: the CSV lists nodes in pre-order, as the flattened JSON tree does.
    for (size_t i = 0; i < flat.size(); ++i) {
        const auto& row = rows[i + 1];
        ASSERT_EQ(row.size(), header.size());
        const auto& n = flat[i];
        EXPECT_EQ(row[col("name")], n["name"].get<std::string>());
        EXPECT_EQ(row[col("op_type")], n["op_type"].get<std::string>());
        EXPECT_EQ(std::stoi(row[col("depth")]), n["depth"].get<int>());
        for (const char* key : {"median_ms", "p90_ms", "share", "flops", "bytes", "calls"})
            EXPECT_NEAR(std::stod(row[col(key)]), n[key].get<double>(), 1e-9 * (1 + std::abs(n[key].get<double>())))
                << key << " of " << n["name"];
    }
    EXPECT_EQ(rows[1][col("name")], "proj, \"main\"");

    double shareSum = 0;
    for (const auto& t : j["op_types"]) {
        for (const char* key : {"op_type", "count", "total_ms", "share"}) EXPECT_TRUE(t.contains(key)) << key;
        shareSum += t["share"].get<double>();
    }
    EXPECT_GT(shareSum, 0);
    EXPECT_LE(shareSum, 1.0 + 1e-9);
}

TEST(ProfileExport, ChromeTraceIsValidTraceEventJson) {
    const Profile p = profileMixed();
    const nlohmann::json t = nlohmann::json::parse(toChromeTrace(p).dump());
    ASSERT_TRUE(t["traceEvents"].is_array());
    int slices = 0, runs = 0;
    for (const auto& e : t["traceEvents"]) {
        ASSERT_TRUE(e.contains("ph"));
        ASSERT_TRUE(e["name"].is_string());
        ASSERT_TRUE(e["pid"].is_number_integer());
        ASSERT_TRUE(e["tid"].is_number_integer());
        if (e["ph"] == "M") continue;
        ASSERT_EQ(e["ph"], "X");
        ASSERT_TRUE(e["ts"].is_number());
        ASSERT_TRUE(e["dur"].is_number());
        EXPECT_GE(e["ts"].get<double>(), 0);
        EXPECT_GE(e["dur"].get<double>(), 0);
        if (e["cat"] == "run") {
            ++runs;
            continue;
        }
        ++slices;
        EXPECT_TRUE(e["args"].contains("op_type"));
        EXPECT_TRUE(e["args"].contains("flops"));
        EXPECT_TRUE(e["args"].contains("inputs"));
    }
    EXPECT_EQ(runs, 4);
    // Per run: 3 main nodes + Loop + 3 iterations × 2 body nodes = 10 calls.
    EXPECT_EQ(slices, 4 * 10);
}

TEST(ProfileExport, TableNamesTopNodesAndOpTypes) {
    const Profile p = profileMixed();
    const std::string text = formatTable(p, 3);
    EXPECT_NE(text.find("Top 3 nodes"), std::string::npos);
    EXPECT_NE(text.find("By op type"), std::string::npos);
    EXPECT_NE(text.find("MatMul"), std::string::npos);
    EXPECT_NE(text.find("Subgraphs"), std::string::npos);
}
