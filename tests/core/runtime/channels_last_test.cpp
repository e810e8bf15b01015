// Channels-last activations between oneDNN convolutions (GraphPlan::planChannelsLast): a
// MobileNet/EfficientNet-like block must give the same outputs with the layout kept NHWC, with it
// turned off (OPSTUDIO_CHANNELS_LAST=0) and on the reference path, including values that leave
// the chain (graph outputs, MaxPool, broadcasting Mul with [N, C, 1, 1], residual Add).
#include "support/test_util.h"

#include "opstudio/runtime/session.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

ir::Node makeNode(std::string op, std::vector<std::string> ins, std::vector<std::string> outs,
                  std::vector<ir::Attribute> attrs = {}) {
    ir::Node n;
    n.opType = std::move(op);
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.name = n.opType + "_" + n.outputs[0];
    n.attributes = std::move(attrs);
    return n;
}

/// x[1, C, H, W] -> pw Conv -> Relu -> depthwise Conv -> swish (Sigmoid, Mul) -> squeeze-excitation
/// (GlobalAveragePool, 1x1 Conv, Sigmoid, Mul) -> pw Conv -> Add(x) -> y; plus a MaxPool reading the
/// projection output, a MaxPool reading the depthwise output (channels-last input) and the Relu
/// output as graph outputs.
std::shared_ptr<ir::Model> blockModel(int64_t c, int64_t hw) {
    auto m = std::make_shared<ir::Model>();
    m->setOpset("", 17);
    ir::Graph& g = *m->graph;
    g.inputs.push_back("x");
    ir::Value& v = g.value("x");
    v.dtype = ir::DType::F32;
    v.shape = ir::toValueShape({1, c, hw, hw});
    v.hasType = true;
    const int64_t e = 2 * c;
    uint64_t seed = 11;
    auto init = [&](const std::string& name, std::vector<int64_t> shape) {
        g.initializers[name] = randomTensor(ir::DType::F32, std::move(shape), seed++, -0.5, 0.5);
    };
    init("w_expand", {e, c, 1, 1});
    init("b_expand", {e});
    init("w_dw", {e, 1, 3, 3});
    init("b_dw", {e});
    init("w_se", {e, e, 1, 1});
    init("w_project", {c, e, 1, 1});
    g.addNode(makeNode("Conv", {"x", "w_expand", "b_expand"}, {"expand"}));
    g.addNode(makeNode("Relu", {"expand"}, {"expand_relu"}));
    g.addNode(
        makeNode("Conv", {"expand_relu", "w_dw", "b_dw"}, {"dw"},
                 {attrInt("group", e), attrInts("pads", {1, 1, 1, 1}), attrInts("kernel_shape", {3, 3})}));
    g.addNode(makeNode("Sigmoid", {"dw"}, {"dw_sig"}));
    g.addNode(makeNode("Mul", {"dw", "dw_sig"}, {"swish"}));
    g.addNode(makeNode("GlobalAveragePool", {"swish"}, {"pooled"}));
    g.addNode(makeNode("Conv", {"pooled", "w_se"}, {"se"}));
    g.addNode(makeNode("Sigmoid", {"se"}, {"se_sig"}));
    g.addNode(makeNode("Mul", {"swish", "se_sig"}, {"scaled"}));
    g.addNode(makeNode("Conv", {"scaled", "w_project"}, {"project"}));
    g.addNode(makeNode("Add", {"project", "x"}, {"y"}));
    g.addNode(makeNode(
        "MaxPool", {"project"}, {"dw_pool"},
        {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}), attrInts("pads", {1, 1, 1, 1})}));
    g.addNode(makeNode("MaxPool", {"dw"}, {"dw_max"},
                       {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}),
                        attrInts("pads", {0, 1, 1, 0}), attrInt("ceil_mode", 1)}));
    g.outputs = {"y", "expand_relu", "dw_pool", "dw_max"};
    g.rebuildIndex();
    return m;
}

std::vector<rt::NamedTensor> runModel(const std::shared_ptr<ir::Model>& model, bool reference,
                                      bool channelsLast) {
    if (channelsLast)
        unsetenv("OPSTUDIO_CHANNELS_LAST");
    else
        setenv("OPSTUDIO_CHANNELS_LAST", "0", 1);
    rt::SessionOptions o;
    o.reference = reference;
    auto s = rt::Session::create(model, o);
    unsetenv("OPSTUDIO_CHANNELS_LAST");
    if (!s) {
        ADD_FAILURE() << s.error().describe();
        return {};
    }
    auto out = s.value()->run(rt::randomFeeds(*s.value(), 5));
    if (!out) {
        ADD_FAILURE() << out.error().describe();
        return {};
    }
    return out.value();
}

} // namespace

TEST(ChannelsLast, BlockMatchesPlainAndReference) {
    for (int64_t c : {3, 8, 13})
        for (int64_t hw : {1, 7, 13}) {
            auto model = blockModel(c, hw);
            const auto ref = runModel(model, /*reference=*/true, /*channelsLast=*/false);
            const auto plain = runModel(model, false, false);
            const auto nhwc = runModel(model, false, true);
            ASSERT_EQ(ref.size(), 4u);
            ASSERT_EQ(plain.size(), 4u);
            ASSERT_EQ(nhwc.size(), 4u);
            for (size_t i = 0; i < ref.size(); ++i) {
                EXPECT_EQ(nhwc[i].tensor.shape(), ref[i].tensor.shape());
                EXPECT_TRUE(allClose(plain[i].tensor, ref[i].tensor, 1e-4, 1e-4)) << "plain, output " << i;
                EXPECT_TRUE(allClose(nhwc[i].tensor, ref[i].tensor, 1e-4, 1e-4))
                    << "channels-last, output " << ref[i].name << " c " << c << " hw " << hw;
            }
        }
}
