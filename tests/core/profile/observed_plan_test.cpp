// The profiled plan is the plan that runs: attaching an observer (the profiler, or one that reads
// values like calibration and compare) must not change any node's kernel or layout, and the layout
// reorders the plan inserts show up as their own profile rows.
#include "support/test_util.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/profile/profiler.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace opstudio;

namespace {

std::shared_ptr<ir::Model> loadMobileNet() {
    auto m = onnxio::loadModel(OPSTUDIO_TEST_DATA_DIR "/models/mobilenet_v2/model.onnx");
    if (!m) throw m.error();
    return std::make_shared<ir::Model>(std::move(m).value());
}

std::unique_ptr<rt::Session> makeSession(std::shared_ptr<ir::Model> m) {
    auto s = rt::Session::create(std::move(m));
    if (!s) throw s.error();
    return std::move(s).value();
}

/// Reads every node's output values (as calibration and compare do).
class ValueReader final : public rt::ExecutionObserver {
public:
    std::map<std::string, ir::Tensor> values;
    void onNodeEnd(const ir::Node& node, int, const std::vector<ir::Tensor>& outputs) override {
        for (size_t i = 0; i < outputs.size() && i < node.outputs.size(); ++i)
            if (outputs[i].defined()) values[node.outputs[i]] = outputs[i].clone();
    }
};

ir::Node makeNode(std::string op, std::vector<std::string> ins, std::string out,
                  std::vector<ir::Attribute> attrs = {}) {
    ir::Node n;
    n.opType = std::move(op);
    n.inputs = std::move(ins);
    n.outputs = {out};
    n.name = n.opType + "_" + out;
    n.attributes = std::move(attrs);
    return n;
}

/// x -> Conv a -> {Conv c, Add(a, x) -> Conv b}; y = b + c. `a` is kept channels-last for the convs
/// and must be reordered to plain for Add(a, x), whose other operand x is plain [1, C, H, W].
std::shared_ptr<ir::Model> residualModel() {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    g.inputs.push_back("x");
    ir::Value& v = g.value("x");
    v.dtype = ir::DType::F32;
    v.shape = ir::toValueShape({1, 8, 12, 12});
    v.hasType = true;
    uint64_t seed = 21;
    for (const char* w : {"wa", "wb", "wc"})
        g.initializers[w] = opstudio::testing::randomTensor(ir::DType::F32, {8, 8, 3, 3}, seed++, -0.3, 0.3);
    const auto conv3 = [](std::vector<std::string> ins, std::string out) {
        return makeNode("Conv", std::move(ins), std::move(out),
                        {opstudio::testing::attrInts("pads", {1, 1, 1, 1}),
                         opstudio::testing::attrInts("kernel_shape", {3, 3})});
    };
    g.addNode(conv3({"x", "wa"}, "a"));
    g.addNode(makeNode("Add", {"a", "x"}, "s"));
    g.addNode(conv3({"s", "wb"}, "b"));
    g.addNode(conv3({"a", "wc"}, "c"));
    g.addNode(makeNode("Add", {"b", "c"}, "y"));
    g.outputs = {"y"};
    g.rebuildIndex();
    return m;
}

} // namespace

TEST(ObservedPlan, ProfilerAndValueReadersRunTheUnobservedPlan) {
    auto model = loadMobileNet();
    auto session = makeSession(model);
    const auto feeds = rt::randomFeeds(*session, 3);
    ASSERT_TRUE(session->run(feeds));
    const std::vector<rt::ExecutedStep> plain = session->lastExecution();
    ASSERT_FALSE(plain.empty());
    int channelsLast = 0;
    for (const auto& s : plain)
        channelsLast += s.outputChannelsLast;
    // Otherwise this test could not tell the plans apart.
    ASSERT_GT(channelsLast, 10) << "the plan keeps no activation channels-last";

    profile::ProfileOptions o;
    o.runs = 2;
    o.warmup = 1;
    auto p = profile::Profiler(*session, o).run(feeds);
    ASSERT_TRUE(p) << p.error().describe();
    EXPECT_EQ(session->lastExecution(), plain);

    ValueReader reader;
    session->setObserver(&reader);
    ASSERT_TRUE(session->run(feeds));
    session->setObserver(nullptr);
    EXPECT_EQ(session->lastExecution(), plain);

    // Readers get logical NCHW values: equal to a session that keeps everything plain.
    setenv("OPSTUDIO_CHANNELS_LAST", "0", 1);
    auto nchw = makeSession(model);
    unsetenv("OPSTUDIO_CHANNELS_LAST");
    ValueReader plainReader;
    nchw->setObserver(&plainReader);
    ASSERT_TRUE(nchw->run(feeds));
    ASSERT_EQ(reader.values.size(), plainReader.values.size());
    for (const auto& [name, t] : plainReader.values) {
        ASSERT_TRUE(reader.values.count(name)) << name;
        EXPECT_LT(opstudio::testing::maxAbsDiff(reader.values[name], t), 1e-4) << name;
    }
}

TEST(ObservedPlan, ReordersAreRowsOfTheirOwn) {
    auto session = makeSession(residualModel());
    const auto feeds = rt::randomFeeds(*session, 5);
    profile::ProfileOptions o;
    o.runs = 2;
    o.warmup = 1;
    auto p = profile::Profiler(*session, o).run(feeds);
    ASSERT_TRUE(p) << p.error().describe();
    int executed = 0;
    for (const auto& s : session->lastExecution())
        executed += s.reorders;
    double rows = 0;
    for (const auto& n : p->nodes) {
        if (n.opType != "Reorder") continue;
        rows += n.callsPerRun;
        EXPECT_EQ(n.id, ir::kNoNode);
        EXPECT_FALSE(n.reorderFor.empty());
        EXPECT_EQ(n.name.rfind("reorder\u2192", 0), 0u) << n.name;
        EXPECT_GT(n.cost.bytes(), 0);
    }
    ASSERT_GT(executed, 0) << "the model was built to need a reorder";
    EXPECT_EQ(rows, executed);
    // Every main-graph node that ran has its own row besides the reorder rows.
    size_t nodeRows = 0;
    for (const auto& n : p->nodes)
        nodeRows += n.opType != "Reorder" && n.depth == 0;
    EXPECT_EQ(nodeRows, session->lastExecution().size());
}
