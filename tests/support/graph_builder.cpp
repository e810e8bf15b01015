#include "support/graph_builder.h"

#include "opstudio/onnx/model_io.h"

namespace opstudio::testing {

GraphBuilder::GraphBuilder(int64_t opset) : m_model(std::make_shared<ir::Model>()) {
    m_model->setOpset("", opset);
    m_model->producerName = "opstudio-tests";
    m_model->graph->name = "test_graph";
}

GraphBuilder& GraphBuilder::input(const std::string& name, ir::DType dtype, std::vector<int64_t> shape) {
    ir::Graph& g = *m_model->graph;
    g.inputs.push_back(name);
    ir::Value& v = g.value(name);
    v.dtype = dtype;
    v.shape = ir::toValueShape(shape);
    v.hasType = true;
    return *this;
}

GraphBuilder& GraphBuilder::initializer(const std::string& name, ir::Tensor t) {
    m_model->graph->initializers[name] = std::move(t);
    return *this;
}

GraphBuilder& GraphBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                 std::vector<std::string> outputs, std::vector<ir::Attribute> attributes,
                                 const std::string& domain, const std::string& name) {
    ir::Node n;
    n.opType = op;
    n.domain = domain;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.attributes = std::move(attributes);
    n.name = name.empty() ? op + "_" + n.outputs.at(0) : name;
    m_model->graph->addNode(std::move(n));
    return *this;
}

GraphBuilder& GraphBuilder::output(const std::string& name) {
    m_model->graph->outputs.push_back(name);
    return *this;
}

GraphBuilder& GraphBuilder::opset(const std::string& domain, int64_t version) {
    m_model->setOpset(domain, version);
    return *this;
}

std::shared_ptr<ir::Model> GraphBuilder::build() {
    m_model->graph->rebuildIndex();
    onnxio::inferShapes(*m_model);
    m_model->graph->rebuildIndex();
    return m_model;
}

std::vector<ir::Tensor> runModel(const ir::Model& model, const std::map<std::string, ir::Tensor>& feeds, int threads) {
    auto copy = std::make_shared<ir::Model>(model.clone());
    rt::SessionOptions o;
    o.threads = threads;
    auto s = rt::Session::create(copy, o);
    if (!s) throw s.error();
    auto r = s.value()->run(feeds);
    if (!r) throw r.error();
    std::vector<ir::Tensor> out;
    for (auto& nt : r.value()) out.push_back(nt.tensor.clone());
    return out;
}

std::map<std::string, ir::Tensor> randomModelFeeds(const ir::Model& model, uint64_t seed) {
    auto copy = std::make_shared<ir::Model>(model.clone());
    auto s = rt::Session::create(copy);
    if (!s) throw s.error();
    return rt::randomFeeds(*s.value(), seed);
}

int countOps(const ir::Model& model, const std::string& opType) {
    int n = 0;
    model.graph->forEachNode([&](const ir::Node& node) { n += node.opType == opType ? 1 : 0; });
    return n;
}

} // namespace opstudio::testing
