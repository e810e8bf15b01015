#include "support/test_util.h"

#include "opstudio/runtime/graph_plan.h"
#include "opstudio/runtime/session.h"

using namespace opstudio;
using namespace opstudio::testing;

namespace {

ir::Node makeNode(std::string op, std::vector<std::string> ins, std::vector<std::string> outs, std::string name = {}) {
    ir::Node n;
    n.opType = std::move(op);
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.name = name.empty() ? n.opType + "_" + n.outputs[0] : name;
    return n;
}

void declareInput(ir::Graph& g, const std::string& name, ir::DType dt, std::vector<int64_t> shape) {
    g.inputs.push_back(name);
    ir::Value& v = g.value(name);
    v.dtype = dt;
    v.shape = ir::toValueShape(shape);
    v.hasType = true;
}

std::shared_ptr<ir::Model> chainModel(int length) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "x", ir::DType::F32, {256, 256});
    std::string prev = "x";
    for (int i = 0; i < length; ++i) {
        const std::string out = "v" + std::to_string(i);
        g.addNode(makeNode("Relu", {prev}, {out}));
        prev = out;
    }
    g.outputs.push_back(prev);
    g.rebuildIndex();
    return m;
}

} // namespace

TEST(Session, ReusesActivationBuffersAlongAChain) {
    auto model = chainModel(20);
    auto s = rt::Session::create(model);
    ASSERT_TRUE(s) << s.error().describe();
    auto feeds = rt::randomFeeds(*s.value(), 1);
    auto out = s.value()->run(feeds);
    ASSERT_TRUE(out) << out.error().describe();
    // 20 activations of 256 KiB each, but at most two are live at once (input of a node and its output).
    const size_t one = 256 * 256 * sizeof(float);
    EXPECT_LE(s.value()->peakActivationBytes(), 2 * one);
    EXPECT_GE(s.value()->peakActivationBytes(), one);
}

TEST(Session, UnsupportedOperatorIsNamedBeforeRun) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 13);
    ir::Graph& g = *m->graph;
    declareInput(g, "x", ir::DType::F32, {2});
    g.addNode(makeNode("FancyOp", {"x"}, {"y"}, "my_node"));
    g.outputs.push_back("y");
    g.rebuildIndex();
    auto s = rt::Session::create(m);
    ASSERT_FALSE(s);
    const std::string msg = s.error().describe();
    EXPECT_NE(msg.find("FancyOp"), std::string::npos) << msg;
    EXPECT_NE(msg.find("my_node"), std::string::npos) << msg;
    EXPECT_NE(msg.find("opset 13"), std::string::npos) << msg;
}

TEST(Session, RejectsWrongInputNameDtypeAndShape) {
    auto s = rt::Session::create(chainModel(1));
    ASSERT_TRUE(s);
    std::map<std::string, ir::Tensor> wrongName{{"nope", ir::Tensor(ir::DType::F32, {256, 256})}};
    auto r1 = s.value()->run(wrongName);
    ASSERT_FALSE(r1);
    EXPECT_NE(r1.error().describe().find("nope"), std::string::npos);
    std::map<std::string, ir::Tensor> wrongType{{"x", ir::Tensor(ir::DType::I64, {256, 256})}};
    ASSERT_FALSE(s.value()->run(wrongType));
    std::map<std::string, ir::Tensor> wrongShape{{"x", ir::Tensor(ir::DType::F32, {3, 256})}};
    auto r3 = s.value()->run(wrongShape);
    ASSERT_FALSE(r3);
    EXPECT_NE(r3.error().describe().find("3x256"), std::string::npos);
    ASSERT_FALSE(s.value()->run({}));
}

TEST(Session, IfRunsTheChosenBranchWithOuterScopeValues) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "c", ir::DType::Bool, {});
    declareInput(g, "x", ir::DType::F32, {3});
    auto thenG = std::make_shared<ir::Graph>();
    thenG->addNode(makeNode("Add", {"x", "x"}, {"t"}));
    thenG->outputs = {"t"};
    thenG->rebuildIndex();
    auto elseG = std::make_shared<ir::Graph>();
    elseG->addNode(makeNode("Neg", {"x"}, {"e"}));
    elseG->outputs = {"e"};
    elseG->rebuildIndex();
    ir::Node ifNode = makeNode("If", {"c"}, {"y"});
    ir::Attribute a1;
    a1.name = "then_branch";
    a1.type = ir::AttrType::Graph;
    a1.g = thenG;
    ir::Attribute a2 = a1;
    a2.name = "else_branch";
    a2.g = elseG;
    ifNode.attributes = {a1, a2};
    g.addNode(ifNode);
    g.outputs = {"y"};
    g.rebuildIndex();
    auto s = rt::Session::create(m);
    ASSERT_TRUE(s) << s.error().describe();
    auto x = ir::Tensor::fromVector<float>({3}, {1, 2, 3});
    auto yes = s.value()->run({{"c", ir::Tensor::scalar<bool>(true)}, {"x", x}});
    ASSERT_TRUE(yes) << yes.error().describe();
    EXPECT_TRUE(allClose(yes.value()[0].tensor, ir::Tensor::fromVector<float>({3}, {2, 4, 6})));
    auto no = s.value()->run({{"c", ir::Tensor::scalar<bool>(false)}, {"x", x}});
    ASSERT_TRUE(no);
    EXPECT_TRUE(allClose(no.value()[0].tensor, ir::Tensor::fromVector<float>({3}, {-1, -2, -3})));
}

TEST(Session, LoopCarriesStateAndStacksScanOutputs) {
    // for i in range(M): acc = acc + x ; scan_out[i] = acc
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "M", ir::DType::I64, {});
    declareInput(g, "acc0", ir::DType::F32, {2});
    declareInput(g, "x", ir::DType::F32, {2});
    auto body = std::make_shared<ir::Graph>();
    body->inputs = {"i", "cond_in", "acc"};
    body->addNode(makeNode("Add", {"acc", "x"}, {"acc_out"}));
    body->addNode(makeNode("Identity", {"cond_in"}, {"cond_out"}));
    body->addNode(makeNode("Identity", {"acc_out"}, {"scan"}));
    body->outputs = {"cond_out", "acc_out", "scan"};
    body->rebuildIndex();
    ir::Node loop = makeNode("Loop", {"M", "", "acc0"}, {"final", "stacked"});
    ir::Attribute a;
    a.name = "body";
    a.type = ir::AttrType::Graph;
    a.g = body;
    loop.attributes = {a};
    g.addNode(loop);
    g.outputs = {"final", "stacked"};
    g.rebuildIndex();
    auto s = rt::Session::create(m);
    ASSERT_TRUE(s) << s.error().describe();
    auto r = s.value()->run({{"M", ir::Tensor::scalar<int64_t>(3)},
                             {"acc0", ir::Tensor::fromVector<float>({2}, {0, 10})},
                             {"x", ir::Tensor::fromVector<float>({2}, {1, 2})}});
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_TRUE(allClose(r.value()[0].tensor, ir::Tensor::fromVector<float>({2}, {3, 16})));
    EXPECT_TRUE(allClose(r.value()[1].tensor, ir::Tensor::fromVector<float>({3, 2}, {1, 12, 2, 14, 3, 16})));
}

TEST(Session, KernelErrorsCarryNodeContext) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    declareInput(g, "a", ir::DType::F32, {2, 3});
    declareInput(g, "b", ir::DType::F32, {4, 5});
    g.addNode(makeNode("Add", {"a", "b"}, {"c"}, "bad_add"));
    g.outputs = {"c"};
    g.rebuildIndex();
    auto s = rt::Session::create(m);
    ASSERT_TRUE(s);
    auto r = s.value()->run(rt::randomFeeds(*s.value(), 3));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().describe().find("bad_add"), std::string::npos) << r.error().describe();
}

TEST(Session, RandomFeedsAreDeterministic) {
    auto s = rt::Session::create(chainModel(1));
    ASSERT_TRUE(s);
    auto a = rt::randomFeeds(*s.value(), 42);
    auto b = rt::randomFeeds(*s.value(), 42);
    EXPECT_TRUE(allClose(a["x"], b["x"], 0, 0));
}

TEST(TensorPool, ATensorThatGrowsALittleReusesTheBufferFreedBeforeIt) {
    // A decoder's KV cache and its attention scores gain one token per step: the buffer freed by the
    // previous step must serve the slightly larger request (one size class per 1/8 of a power of two).
    rt::TensorPool pool;
    const size_t kvBytes = 4 * 93 * 64 * sizeof(float); // [1, 4 heads, 93 tokens, 64]: 93 KiB
    const size_t tokenBytes = 4 * 64 * sizeof(float);
    const uint8_t* first = nullptr;
    {
        auto b = pool.acquire(kvBytes);
        EXPECT_EQ(b->size(), kvBytes); // tensors see the size they asked for
        first = b->data();
    }
    {
        auto b = pool.acquire(kvBytes + tokenBytes);
        EXPECT_EQ(b->data(), first);
        EXPECT_EQ(b->size(), kvBytes + tokenBytes);
    }
    // Two live at once (past and present) get different buffers.
    auto a = pool.acquire(kvBytes);
    auto b = pool.acquire(kvBytes);
    EXPECT_NE(a->data(), b->data());
    EXPECT_EQ(pool.liveBytes(), 2 * kvBytes);
}
