#include "support/test_util.h"

#include "opstudio/ir/half.h"

#include <cmath>
#include <random>
#include <sstream>

namespace opstudio::testing {

ir::Model makeNodeModel(const NodeSpec& spec, const std::vector<ir::Tensor>& inputs) {
    ir::Model model;
    model.producerName = "opstudio-tests";
    model.setOpset("", spec.domain.empty() ? spec.opset : 17);
    if (!spec.domain.empty()) model.setOpset(spec.domain, spec.opset);
    ir::Graph& g = *model.graph;
    g.name = "single_" + spec.opType;
    ir::Node node;
    node.name = spec.opType + "_0";
    node.opType = spec.opType;
    node.domain = spec.domain;
    node.attributes = spec.attributes;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].defined()) {
            node.inputs.push_back("");
            continue;
        }
        const std::string name = "in" + std::to_string(i);
        node.inputs.push_back(name);
        const bool constant = i < spec.constantInputs.size() && spec.constantInputs[i];
        if (constant) {
            g.initializers[name] = inputs[i];
        } else {
            g.inputs.push_back(name);
            ir::Value& v = g.value(name);
            v.dtype = inputs[i].dtype();
            v.shape = ir::toValueShape(inputs[i].shape());
            v.hasType = true;
        }
    }
    for (int o = 0; o < spec.outputs; ++o) {
        const std::string name = "out" + std::to_string(o);
        node.outputs.push_back(name);
        g.outputs.push_back(name);
    }
    g.addNode(std::move(node));
    g.rebuildIndex();
    return model;
}

std::vector<ir::Tensor> runNode(const NodeSpec& spec, const std::vector<ir::Tensor>& inputs, bool reference,
                                int threads) {
    auto model = std::make_shared<ir::Model>(makeNodeModel(spec, inputs));
    rt::SessionOptions options;
    options.threads = threads;
    options.reference = reference;
    auto session = rt::Session::create(model, options);
    if (!session) throw session.error();
    std::map<std::string, ir::Tensor> feeds;
    const ir::Graph& g = *model->graph;
    for (const auto& name : g.inputs) feeds[name] = inputs[std::stoul(name.substr(2))];
    auto result = session.value()->run(feeds);
    if (!result) throw result.error();
    std::vector<ir::Tensor> outs;
    for (auto& nt : result.value()) outs.push_back(std::move(nt.tensor));
    return outs;
}

ir::Attribute attrInt(const std::string& name, int64_t v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Int;
    a.i = v;
    return a;
}
ir::Attribute attrFloat(const std::string& name, float v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Float;
    a.f = v;
    return a;
}
ir::Attribute attrString(const std::string& name, const std::string& v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::String;
    a.s = v;
    return a;
}
ir::Attribute attrInts(const std::string& name, std::vector<int64_t> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Ints;
    a.ints = std::move(v);
    return a;
}
ir::Attribute attrFloats(const std::string& name, std::vector<float> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Floats;
    a.floats = std::move(v);
    return a;
}
ir::Attribute attrTensor(const std::string& name, ir::Tensor t) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Tensor;
    a.t = std::move(t);
    return a;
}

ir::Tensor randomTensor(ir::DType dtype, std::vector<int64_t> shape, uint64_t seed, double lo, double hi) {
    ir::Tensor t(dtype, std::move(shape));
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    const int64_t n = t.numel();
    switch (dtype) {
    case ir::DType::F32: for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(dist(rng)); break;
    case ir::DType::F64: for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = dist(rng); break;
    case ir::DType::F16:
        for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = ir::floatToHalf(static_cast<float>(dist(rng)));
        break;
    case ir::DType::I8: for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = static_cast<int8_t>(std::floor(dist(rng))); break;
    case ir::DType::U8: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(std::floor(dist(rng))); break;
    case ir::DType::I32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(std::floor(dist(rng))); break;
    case ir::DType::I64: for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = static_cast<int64_t>(std::floor(dist(rng))); break;
    case ir::DType::Bool: for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = dist(rng) > (lo + hi) / 2; break;
    default: throw Error("randomTensor: unsupported dtype");
    }
    return t;
}

::testing::AssertionResult allClose(const ir::Tensor& actual, const ir::Tensor& expected, double atol, double rtol) {
    if (actual.dtype() != expected.dtype())
        return ::testing::AssertionFailure() << "dtype " << ir::dtypeName(actual.dtype()) << " != expected "
                                             << ir::dtypeName(expected.dtype());
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << "shape " << ir::shapeToString(actual.shape()) << " != expected "
                                             << ir::shapeToString(expected.shape());
    if (actual.dtype() == ir::DType::String) {
        if (actual.strings() != expected.strings()) return ::testing::AssertionFailure() << "strings differ";
        return ::testing::AssertionSuccess();
    }
    const auto a = actual.toDoubles();
    const auto b = expected.toDoubles();
    int bad = 0;
    std::ostringstream msg;
    for (size_t i = 0; i < a.size(); ++i) {
        const bool nanA = std::isnan(a[i]), nanB = std::isnan(b[i]);
        bool ok;
        if (nanA || nanB) ok = nanA && nanB;
        else if (std::isinf(a[i]) || std::isinf(b[i])) ok = a[i] == b[i];
        else ok = std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]);
        if (!ok && bad++ < 5) msg << " [" << i << "] " << a[i] << " vs " << b[i] << ";";
    }
    if (bad) return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ:" << msg.str();
    return ::testing::AssertionSuccess();
}

double maxAbsDiff(const ir::Tensor& a, const ir::Tensor& b) {
    const auto x = a.toDoubles();
    const auto y = b.toDoubles();
    double m = 0;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
    return m;
}

} // namespace opstudio::testing
