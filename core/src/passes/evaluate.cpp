#include "passes/evaluate.h"

#include "opstudio/runtime/session.h"

namespace opstudio::passes {

std::vector<ir::Tensor> evaluateNode(const ir::Model& model, const ir::Node& node, const std::vector<ir::Tensor>& inputs) {
    auto m = std::make_shared<ir::Model>();
    m->opsets = model.opsets;
    ir::Graph& g = *m->graph;
    ir::Node copy = node;
    copy.inputs.clear();
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (node.inputs[i].empty() || i >= inputs.size() || !inputs[i].defined()) {
            copy.inputs.push_back("");
            continue;
        }
        const std::string name = "c" + std::to_string(i);
        g.initializers[name] = inputs[i];
        copy.inputs.push_back(name);
    }
    copy.outputs.clear();
    for (size_t o = 0; o < node.outputs.size(); ++o) {
        copy.outputs.push_back(node.outputs[o].empty() ? "" : "r" + std::to_string(o));
        if (!node.outputs[o].empty()) g.outputs.push_back("r" + std::to_string(o));
    }
    g.addNode(std::move(copy));
    g.rebuildIndex();
    auto session = rt::Session::create(m);
    if (!session) throw session.error();
    auto result = session.value()->run({});
    if (!result) throw result.error();
    std::vector<ir::Tensor> outs(node.outputs.size());
    size_t k = 0;
    for (size_t o = 0; o < node.outputs.size(); ++o)
        if (!node.outputs[o].empty()) outs[o] = result.value()[k++].tensor.clone();
    return outs;
}

} // namespace opstudio::passes
