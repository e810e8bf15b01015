// Profiler on small graphs with a synthetic clock: statistics, attribution of loop bodies,
// costs from shapes seen at run time.
#include "support/test_util.h"

#include "opstudio/profile/profiler.h"

#include <map>
#include <memory>

using namespace opstudio;
using namespace opstudio::profile;

namespace {

constexpr int64_t kMs = 1'000'000;

ir::Node makeNode(std::string op, std::vector<std::string> ins, std::vector<std::string> outs, std::string name) {
    ir::Node n;
    n.opType = std::move(op);
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.name = std::move(name);
    return n;
}

void declareInput(ir::Graph& g, const std::string& name, ir::DType dtype, std::vector<int64_t> shape) {
    g.inputs.push_back(name);
    ir::Value& v = g.value(name);
    v.dtype = dtype;
    v.shape = ir::toValueShape(shape);
    v.hasType = true;
}

// x -> Relu -> Neg -> Relu
std::shared_ptr<ir::Model> chainModel() {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "x", ir::DType::F32, {2, 8});
    g.addNode(makeNode("Relu", {"x"}, {"a"}, "relu_a"));
    g.addNode(makeNode("Neg", {"a"}, {"b"}, "neg_b"));
    g.addNode(makeNode("Relu", {"b"}, {"y"}, "relu_y"));
    g.outputs = {"y"};
    g.rebuildIndex();
    return m;
}

// for i in range(3): acc = acc + x   (body: Add, Identity cond, Identity scan)
std::shared_ptr<ir::Model> loopModel() {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "M", ir::DType::I64, {});
    declareInput(g, "acc0", ir::DType::F32, {2});
    declareInput(g, "x", ir::DType::F32, {2});
    auto body = std::make_shared<ir::Graph>();
    body->inputs = {"i", "cond_in", "acc"};
    body->addNode(makeNode("Add", {"acc", "x"}, {"acc_out"}, "body_add"));
    body->addNode(makeNode("Identity", {"cond_in"}, {"cond_out"}, "body_cond"));
    body->addNode(makeNode("Identity", {"acc_out"}, {"scan"}, "body_scan"));
    body->outputs = {"cond_out", "acc_out", "scan"};
    body->rebuildIndex();
    ir::Node loop = makeNode("Loop", {"M", "", "acc0"}, {"final", "stacked"}, "the_loop");
    ir::Attribute a;
    a.name = "body";
    a.type = ir::AttrType::Graph;
    a.g = body;
    loop.attributes = {a};
    g.addNode(loop);
    g.outputs = {"final", "stacked"};
    g.rebuildIndex();
    return m;
}

std::map<std::string, ir::Tensor> loopFeeds() {
    return {{"M", ir::Tensor::scalar<int64_t>(3)},
            {"acc0", ir::Tensor::fromVector<float>({2}, {0, 10})},
            {"x", ir::Tensor::fromVector<float>({2}, {1, 2})}};
}

std::unique_ptr<rt::Session> makeSession(std::shared_ptr<ir::Model> m) {
    auto s = rt::Session::create(std::move(m));
    if (!s) throw s.error();
    return std::move(s.value());
}

const NodeProfile* findNode(const Profile& p, const std::string& name) {
    for (const auto& n : p.nodes)
        if (n.name == name) return &n;
    return nullptr;
}

} // namespace

TEST(Profiler, ConstantTickClockGivesExactTimes) {
    auto session = makeSession(chainModel());
    int64_t now = 0;
    ProfileOptions o;
    o.runs = 5;
    o.warmup = 2;
    o.clock = [&] { return now += kMs; }; // every reading is 1 ms later
    auto r = Profiler(*session, o).run(rt::randomFeeds(*session, 1));
    ASSERT_TRUE(r) << r.error().describe();
    const Profile& p = r.value();
    ASSERT_EQ(p.nodes.size(), 3u);
    // Per observed run: total start, 3 × (begin, end), total end -> 7 ticks around Session::run;
    // the unobserved run interleaved with it reads the clock twice -> 1 tick: the reported total.
    EXPECT_DOUBLE_EQ(p.observedTotal.median, 7);
    EXPECT_DOUBLE_EQ(p.observedTotal.p10, 7);
    EXPECT_EQ(p.observedTotal.count, 5);
    EXPECT_DOUBLE_EQ(p.total.median, 1);
    EXPECT_EQ(p.total.count, 5);
    for (const auto& n : p.nodes) {
        EXPECT_DOUBLE_EQ(n.time.median, 1) << n.name;
        EXPECT_DOUBLE_EQ(n.time.p90, 1);
        EXPECT_DOUBLE_EQ(n.callsPerRun, 1);
        EXPECT_DOUBLE_EQ(n.share, 1.0 / 7);
        EXPECT_EQ(n.depth, 0);
        EXPECT_EQ(n.time.count, 5);
    }
    EXPECT_EQ(p.nodes[0].name, "relu_a"); // execution order
    ASSERT_FALSE(p.opTypes.empty());
    EXPECT_EQ(p.opTypes[0].opType, "Relu");
    EXPECT_DOUBLE_EQ(p.opTypes[0].totalMs, 2);
    EXPECT_EQ(p.opTypes[0].count, 2);
}

TEST(Profiler, StatisticsMatchTheSyntheticTimerSamples) {
    auto session = makeSession(chainModel());
    // Irregular increments, so every run and node sees different durations.
    int64_t now = 0, k = 0;
    ProfileOptions o;
    o.runs = 9;
    o.warmup = 1;
    o.clock = [&] { return now += ((k++ * 7) % 11 + 1) * kMs; };
    auto r = Profiler(*session, o).run(rt::randomFeeds(*session, 1));
    ASSERT_TRUE(r) << r.error().describe();
    const Profile& p = r.value();
    std::map<int, std::vector<double>> perNode;
    std::vector<double> runs;
    for (const TraceEvent& e : p.trace) {
        if (e.node < 0) runs.push_back(static_cast<double>(e.durNs) / kMs);
        else perNode[e.node].push_back(static_cast<double>(e.durNs) / kMs);
    }
    ASSERT_EQ(runs.size(), 9u);
    const Summary total = summarize(runs);
    EXPECT_DOUBLE_EQ(p.observedTotal.median, total.median);
    EXPECT_DOUBLE_EQ(p.observedTotal.p10, total.p10);
    EXPECT_DOUBLE_EQ(p.observedTotal.p90, total.p90);
    for (size_t i = 0; i < p.nodes.size(); ++i) {
        const Summary s = summarize(perNode[static_cast<int>(i)]);
        EXPECT_DOUBLE_EQ(p.nodes[i].time.median, s.median);
        EXPECT_DOUBLE_EQ(p.nodes[i].time.p10, s.p10);
        EXPECT_DOUBLE_EQ(p.nodes[i].time.p90, s.p90);
        EXPECT_DOUBLE_EQ(p.nodes[i].time.min, s.min);
        EXPECT_GT(p.nodes[i].time.p90, p.nodes[i].time.p10); // the increments really vary
    }
}

TEST(Profiler, LoopBodyNodesAreAttributedToTheLoop) {
    auto session = makeSession(loopModel());
    int64_t now = 0;
    ProfileOptions o;
    o.runs = 3;
    o.warmup = 1;
    o.clock = [&] { return now += kMs; };
    auto r = Profiler(*session, o).run(loopFeeds());
    ASSERT_TRUE(r) << r.error().describe();
    const Profile& p = r.value();
    ASSERT_EQ(p.nodes.size(), 4u);
    const NodeProfile& loop = p.nodes[0];
    EXPECT_EQ(loop.name, "the_loop");
    EXPECT_EQ(loop.parent, -1);
    ASSERT_EQ(loop.children.size(), 3u);
    for (int c : loop.children) {
        const NodeProfile& child = p.nodes[static_cast<size_t>(c)];
        EXPECT_EQ(child.parent, 0);
        EXPECT_EQ(child.depth, 1);
        EXPECT_DOUBLE_EQ(child.callsPerRun, 3); // three iterations
        EXPECT_DOUBLE_EQ(child.time.median, 3); // 1 ms per call, summed over the run
    }
    // Loop: begin, 3 iterations × 3 nodes × 2 readings, end -> 19 ms inclusive, 10 ms of its own.
    EXPECT_DOUBLE_EQ(loop.time.median, 19);
    EXPECT_DOUBLE_EQ(loop.selfMedianMs, 10);
    EXPECT_DOUBLE_EQ(loop.callsPerRun, 1);
    // The body Add saw acc [2] + x [2] three times: 2 flops each.
    const NodeProfile* add = findNode(p, "body_add");
    ASSERT_NE(add, nullptr);
    EXPECT_DOUBLE_EQ(add->cost.flops, 6);
    ASSERT_EQ(add->outputShapes.size(), 1u);
    EXPECT_EQ(add->outputShapes[0], (std::vector<int64_t>{2}));
    ASSERT_EQ(p.subgraphs.size(), 1u);
    EXPECT_EQ(p.subgraphs[0].name, "the_loop");
    EXPECT_EQ(p.subgraphs[0].nodeCount, 3);
    EXPECT_DOUBLE_EQ(p.subgraphs[0].flops, 6);
    // Op types use self times, so they add up to the loop once.
    double sum = 0;
    for (const auto& t : p.opTypes) sum += t.totalMs;
    EXPECT_DOUBLE_EQ(sum, 19);
}

TEST(Profiler, RecordsCostsFromRuntimeShapes) {
    opstudio::testing::NodeSpec spec;
    spec.opType = "MatMul";
    spec.constantInputs = {false, true};
    auto a = opstudio::testing::randomTensor(ir::DType::F32, {2, 3, 4, 5}, 1);
    auto b = opstudio::testing::randomTensor(ir::DType::F32, {5, 6}, 2);
    auto model = std::make_shared<ir::Model>(opstudio::testing::makeNodeModel(spec, {a, b}));
    auto session = makeSession(model);
    ProfileOptions o;
    o.runs = 2;
    o.warmup = 0; // still one untimed recording run
    auto r = Profiler(*session, o).run({{"in0", a}});
    ASSERT_TRUE(r) << r.error().describe();
    const Profile& p = r.value();
    ASSERT_EQ(p.nodes.size(), 1u);
    const NodeProfile& n = p.nodes[0];
    EXPECT_DOUBLE_EQ(n.cost.flops, 2 * 144 * 5);
    EXPECT_EQ(n.cost.params, 30);
    EXPECT_EQ(n.inputShapes[0], (std::vector<int64_t>{2, 3, 4, 5}));
    EXPECT_EQ(n.inputShapes[1], (std::vector<int64_t>{5, 6}));
    EXPECT_EQ(n.outputShapes[0], (std::vector<int64_t>{2, 3, 4, 6}));
    EXPECT_EQ(p.weightBytes, model->weightBytes());
    EXPECT_GT(p.peakRssBytes, 0);
    EXPECT_FALSE(n.kernelPath.empty());
    EXPECT_DOUBLE_EQ(p.totalFlops, n.cost.flops);
}

// x[1,64] -> MatMul(W1[64,64]) -> MatMul(W2[64,64]): 32 KiB of weights, 16 KiB per node.
std::shared_ptr<ir::Model> twoMatMulModel() {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "x", ir::DType::F32, {1, 64});
    g.initializers["W1"] = opstudio::testing::randomTensor(ir::DType::F32, {64, 64}, 3);
    g.initializers["W2"] = opstudio::testing::randomTensor(ir::DType::F32, {64, 64}, 4);
    g.addNode(makeNode("MatMul", {"x", "W1"}, {"h"}, "mm1"));
    g.addNode(makeNode("MatMul", {"h", "W2"}, {"y"}, "mm2"));
    g.outputs = {"y"};
    g.rebuildIndex();
    return m;
}

// A machine whose L3 holds one node's traffic (~17 KiB) but not the whole run (> 32 KiB), or both.
MachineInfo machineWithL3(int64_t l3Bytes) {
    MachineInfo m;
    m.cpu = "test";
    Ceilings c;
    c.fp32Gflops = 100;
    c.memGBps = 10;
    c.tiers = {{"L2", 4 << 10, 1, 200}, {"L3", l3Bytes, 1, 50}};
    m.ceilings = {c};
    return m;
}

TEST(Profiler, NodeRoofUsesTheTierTheRunsWorkingSetFits) {
    for (const auto& [l3, tier] : {std::pair<int64_t, std::string>{24 << 10, "L3+DRAM"}, {64 << 20, "L3"}}) {
        auto session = makeSession(twoMatMulModel());
        ProfileOptions o;
        o.runs = 2;
        o.warmup = 1;
        // 1 ms per node: far below every roof, so the roof's tier is the one placed first (a real
        // clock could make the node beat the L3+DRAM roof and be raised to the L3).
        int64_t now = 0;
        o.clock = [&now] { return now += kMs; };
        o.machine = machineWithL3(l3);
        auto r = Profiler(*session, o).run(rt::randomFeeds(*session, 1));
        ASSERT_TRUE(r) << r.error().describe();
        const Profile& p = r.value();
        for (const char* name : {"mm1", "mm2"}) {
            const NodeProfile* n = findNode(p, name);
            ASSERT_NE(n, nullptr) << name;
            EXPECT_EQ(n->memoryTier, tier) << name << " with an L3 of " << l3;
            EXPECT_EQ(n->bound, "memory") << name;
        }
    }
}

// Profiles twoMatMulModel with a synthetic clock: every node takes exactly `tickNs`.
Profile profileWithTick(const MachineInfo& machine, int64_t tickNs) {
    auto session = makeSession(twoMatMulModel());
    int64_t now = 0;
    ProfileOptions o;
    o.runs = 3;
    o.warmup = 1;
    o.clock = [&now, tickNs] { return now += tickNs; };
    o.machine = machine;
    auto r = Profiler(*session, o).run(rt::randomFeeds(*session, 1));
    if (!r) throw r.error();
    return r.value();
}

TEST(Profiler, NodeAboveItsRoofIsRaisedToTheLevelItsTrafficFits) {
    // 1 µs per MatMul: 16.9 KB at 16.9 GB/s, above the L3+DRAM roof (about 10 GB/s) but below the
    // L3's 50 GB/s, which the node's own traffic fits.
    const Profile p = profileWithTick(machineWithL3(24 << 10), 1000);
    for (const char* name : {"mm1", "mm2"}) {
        const NodeProfile* n = findNode(p, name);
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->memoryTier, "L3") << name;
        EXPECT_LE(n->rooflinePercent, 100) << name;
        EXPECT_GT(n->measuredRooflinePercent, 100) << name;
        EXPECT_NE(n->rooflineNote.find("reads partly from L3"), std::string::npos) << n->rooflineNote;
        EXPECT_NE(n->rooflineNote.find("placed against L3"), std::string::npos) << n->rooflineNote;
    }
}

TEST(Profiler, NodeAboveEveryRoofIsCappedAndFlagged) {
    // 1 ns per MatMul: 16.9 TB/s, above every level.
    const Profile p = profileWithTick(machineWithL3(24 << 10), 1);
    for (const NodeProfile& n : p.nodes) {
        EXPECT_DOUBLE_EQ(n.rooflinePercent, 100) << n.name;
        EXPECT_GT(n.measuredRooflinePercent, 100) << n.name;
        EXPECT_NE(n.rooflineNote.find("shown as 100 %"), std::string::npos) << n.rooflineNote;
        EXPECT_NE(n.rooflineNote.find("byte count"), std::string::npos) << n.rooflineNote;
    }
    for (const OpTypeProfile& t : p.opTypes) EXPECT_LE(t.rooflinePercent, 100.0 + 1e-9) << t.opType;
    // A compute peak below what the node reached: the FLOP count or the peak is suspect.
    MachineInfo slow = machineWithL3(64 << 20);
    slow.ceilings[0].fp32Gflops = 0.001;
    const Profile q = profileWithTick(slow, 1000);
    for (const NodeProfile& n : q.nodes) {
        EXPECT_EQ(n.bound, "compute") << n.name;
        EXPECT_DOUBLE_EQ(n.rooflinePercent, 100) << n.name;
        EXPECT_NE(n.rooflineNote.find("FLOP count"), std::string::npos) << n.rooflineNote;
    }
}

TEST(Profiler, NodeBelowItsRoofHasNoNote) {
    // 1 ms per MatMul: 17 MB/s, far below every roof.
    const Profile p = profileWithTick(machineWithL3(24 << 10), 1'000'000);
    for (const NodeProfile& n : p.nodes) {
        EXPECT_TRUE(n.rooflineNote.empty()) << n.rooflineNote;
        EXPECT_LT(n.rooflinePercent, 100) << n.name;
        EXPECT_EQ(n.memoryTier, "L3+DRAM") << n.name;
    }
}

TEST(Profiler, DetachesTheObserverAndReportsRunErrors) {
    auto session = makeSession(chainModel());
    auto r = Profiler(*session, {}).run({}); // missing input
    EXPECT_FALSE(r);
    // A plain run afterwards must not call into the destroyed observer.
    auto plain = session->run(rt::randomFeeds(*session, 1));
    EXPECT_TRUE(plain);
}
