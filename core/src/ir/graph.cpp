#include "opstudio/ir/graph.h"

#include "opstudio/util/error.h"

#include <algorithm>
#include <queue>
#include <unordered_set>

namespace opstudio::ir {

std::string valueShapeToString(const ValueShape& s) {
    if (!s) return "?";
    std::string out = "[";
    for (size_t i = 0; i < s->size(); ++i) {
        if (i) out += ",";
        const Dim& d = (*s)[i];
        out += d.known() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
    }
    return out + "]";
}

std::optional<std::vector<int64_t>> concreteShape(const ValueShape& s) {
    if (!s) return std::nullopt;
    std::vector<int64_t> out;
    out.reserve(s->size());
    for (const Dim& d : *s) {
        if (!d.known()) return std::nullopt;
        out.push_back(d.value);
    }
    return out;
}

ValueShape toValueShape(const std::vector<int64_t>& shape) {
    std::vector<Dim> dims;
    dims.reserve(shape.size());
    for (int64_t d : shape) dims.push_back(Dim::of(d));
    return dims;
}

// ---- Node ----

const Attribute* Node::attr(std::string_view n) const {
    for (const auto& a : attributes)
        if (a.name == n) return &a;
    return nullptr;
}
Attribute* Node::attr(std::string_view n) {
    for (auto& a : attributes)
        if (a.name == n) return &a;
    return nullptr;
}
int64_t Node::attrInt(std::string_view n, int64_t fallback) const {
    const Attribute* a = attr(n);
    return a && a->type == AttrType::Int ? a->i : fallback;
}
float Node::attrFloat(std::string_view n, float fallback) const {
    const Attribute* a = attr(n);
    if (!a) return fallback;
    if (a->type == AttrType::Float) return a->f;
    if (a->type == AttrType::Int) return static_cast<float>(a->i);
    return fallback;
}
std::string Node::attrString(std::string_view n, std::string fallback) const {
    const Attribute* a = attr(n);
    return a && a->type == AttrType::String ? a->s : fallback;
}
std::vector<int64_t> Node::attrInts(std::string_view n, std::vector<int64_t> fallback) const {
    const Attribute* a = attr(n);
    if (!a) return fallback;
    if (a->type == AttrType::Ints) return a->ints;
    if (a->type == AttrType::Int) return {a->i};
    return fallback;
}
std::vector<float> Node::attrFloats(std::string_view n, std::vector<float> fallback) const {
    const Attribute* a = attr(n);
    if (!a) return fallback;
    if (a->type == AttrType::Floats) return a->floats;
    if (a->type == AttrType::Float) return {a->f};
    return fallback;
}
std::vector<Graph*> Node::subgraphs() const {
    std::vector<Graph*> out;
    for (const auto& a : attributes) {
        if (a.type == AttrType::Graph && a.g) out.push_back(a.g.get());
        if (a.type == AttrType::Graphs)
            for (const auto& g : a.graphs)
                if (g) out.push_back(g.get());
    }
    return out;
}

// ---- Graph ----

static Attribute cloneAttribute(const Attribute& a) {
    Attribute c = a;
    if (a.g) c.g = a.g->clone();
    for (auto& g : c.graphs)
        if (g) g = g->clone();
    return c;
}

std::unique_ptr<Graph> Graph::clone() const {
    auto g = std::make_unique<Graph>();
    g->name = name;
    g->doc = doc;
    g->inputs = inputs;
    g->outputs = outputs;
    g->initializers = initializers; // tensors share immutable bytes
    g->sparseInitializersRaw = sparseInitializersRaw;
    g->m_nodes.resize(m_nodes.size());
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        if (!m_nodes[i]) continue;
        auto n = std::make_unique<Node>(*m_nodes[i]);
        for (auto& a : n->attributes) a = cloneAttribute(a);
        g->m_nodes[i] = std::move(n);
    }
    g->m_order = m_order;
    g->m_values = m_values;
    return g;
}

Node& Graph::addNode(Node node) {
    node.id = static_cast<NodeId>(m_nodes.size());
    m_nodes.push_back(std::make_unique<Node>(std::move(node)));
    m_order.push_back(m_nodes.back()->id);
    return *m_nodes.back();
}

void Graph::removeNode(NodeId id) {
    if (id >= m_nodes.size() || !m_nodes[id]) return;
    m_nodes[id].reset();
    m_order.erase(std::remove(m_order.begin(), m_order.end(), id), m_order.end());
}

Node* Graph::node(NodeId id) { return id < m_nodes.size() ? m_nodes[id].get() : nullptr; }
const Node* Graph::node(NodeId id) const { return id < m_nodes.size() ? m_nodes[id].get() : nullptr; }

Value& Graph::value(const std::string& n) {
    auto [it, inserted] = m_values.try_emplace(n);
    if (inserted) it->second.name = n;
    return it->second;
}
const Value* Graph::findValue(const std::string& n) const {
    auto it = m_values.find(n);
    return it == m_values.end() ? nullptr : &it->second;
}
Value* Graph::findValue(const std::string& n) {
    auto it = m_values.find(n);
    return it == m_values.end() ? nullptr : &it->second;
}

void Graph::rebuildIndex() {
    for (auto& [n, v] : m_values) {
        v.producer = kNoNode;
        v.consumers.clear();
    }
    for (const auto& [n, t] : initializers) {
        Value& v = value(n);
        if (!v.hasType) {
            v.dtype = t.dtype();
            v.shape = toValueShape(t.shape());
            v.hasType = true;
        }
    }
    for (const auto& n : inputs) value(n);
    for (const auto& n : outputs) value(n);
    for (NodeId id : m_order) {
        const Node& nd = *m_nodes[id];
        for (const auto& in : nd.inputs)
            if (!in.empty()) value(in).consumers.push_back(id);
        for (const auto& out : nd.outputs)
            if (!out.empty()) value(out).producer = id;
        if (nd.opType == "Constant" && nd.domain.empty() && nd.outputs.size() == 1) {
            if (const Tensor* t = constantValue(nd.outputs[0])) {
                Value& v = value(nd.outputs[0]);
                if (!v.hasType) {
                    v.dtype = t->dtype();
                    v.shape = toValueShape(t->shape());
                    v.hasType = true;
                }
            }
        }
    }
}

const Tensor* Graph::constantValue(const std::string& n) const {
    auto it = initializers.find(n);
    if (it != initializers.end()) return &it->second;
    const Value* v = findValue(n);
    if (!v || v->producer == kNoNode) return nullptr;
    const Node* p = node(v->producer);
    if (!p || p->opType != "Constant" || !p->domain.empty()) return nullptr;
    const Attribute* a = p->attr("value");
    if (a && a->type == AttrType::Tensor) return &a->t;
    return nullptr;
}

bool Graph::isGraphInput(const std::string& n) const {
    return std::find(inputs.begin(), inputs.end(), n) != inputs.end() && !isInitializer(n);
}

std::vector<std::string> Graph::realInputs() const {
    std::vector<std::string> out;
    for (const auto& n : inputs)
        if (!isInitializer(n)) out.push_back(n);
    return out;
}

void Graph::topologicalSort(const std::vector<std::string>& outerScope) {
    // Kahn's algorithm; ties broken by stored position so a valid order is kept as is.
    std::unordered_map<std::string, NodeId> producer;
    for (NodeId id : m_order)
        for (const auto& o : m_nodes[id]->outputs)
            if (!o.empty()) producer[o] = id;
    std::unordered_map<NodeId, size_t> position;
    for (size_t i = 0; i < m_order.size(); ++i) position[m_order[i]] = i;
    std::unordered_map<NodeId, int> pending;
    std::unordered_map<NodeId, std::vector<NodeId>> users;
    // Names used inside subgraphs also create dependencies (implicit inputs).
    std::function<void(const Graph&, std::vector<std::string>&)> collectImplicit = [&](const Graph& g,
                                                                                       std::vector<std::string>& out) {
        for (NodeId id : g.m_order) {
            const Node& n = *g.m_nodes[id];
            for (const auto& in : n.inputs)
                if (!in.empty()) out.push_back(in);
            for (Graph* sg : n.subgraphs()) collectImplicit(*sg, out);
        }
    };
    for (NodeId id : m_order) {
        const Node& n = *m_nodes[id];
        std::vector<std::string> used(n.inputs.begin(), n.inputs.end());
        for (Graph* sg : n.subgraphs()) collectImplicit(*sg, used);
        std::unordered_set<NodeId> deps;
        for (const auto& in : used) {
            auto it = producer.find(in);
            if (!in.empty() && it != producer.end() && it->second != id) deps.insert(it->second);
        }
        pending[id] = static_cast<int>(deps.size());
        for (NodeId d : deps) users[d].push_back(id);
    }
    auto cmp = [&](NodeId a, NodeId b) { return position[a] > position[b]; };
    std::priority_queue<NodeId, std::vector<NodeId>, decltype(cmp)> ready(cmp);
    for (NodeId id : m_order)
        if (pending[id] == 0) ready.push(id);
    std::vector<NodeId> sorted;
    sorted.reserve(m_order.size());
    while (!ready.empty()) {
        NodeId id = ready.top();
        ready.pop();
        sorted.push_back(id);
        for (NodeId u : users[id])
            if (--pending[u] == 0) ready.push(u);
    }
    if (sorted.size() != m_order.size()) {
        for (NodeId id : m_order)
            if (pending[id] > 0) {
                const Node& n = *m_nodes[id];
                ErrorContext ctx;
                ctx.node = n.name;
                ctx.opType = n.opType;
                throw Error("graph '" + name + "' has a cycle through node '" + n.name + "'", ctx);
            }
    }
    (void)outerScope;
    m_order = std::move(sorted);
}

size_t Graph::totalNodeCount() const {
    size_t n = m_order.size();
    for (NodeId id : m_order)
        for (Graph* g : m_nodes[id]->subgraphs()) n += g->totalNodeCount();
    return n;
}

size_t Graph::subgraphCount() const {
    size_t n = 0;
    for (NodeId id : m_order)
        for (Graph* g : m_nodes[id]->subgraphs()) n += 1 + g->subgraphCount();
    return n;
}

// ---- Model ----

int64_t Model::opsetFor(const std::string& d) const {
    const std::string want = (d == "ai.onnx") ? "" : d;
    for (const auto& o : opsets) {
        const std::string have = (o.domain == "ai.onnx") ? "" : o.domain;
        if (have == want) return o.version;
    }
    return 0;
}

void Model::setOpset(const std::string& d, int64_t version) {
    const std::string want = (d == "ai.onnx") ? "" : d;
    for (auto& o : opsets) {
        const std::string have = (o.domain == "ai.onnx") ? "" : o.domain;
        if (have == want) {
            o.version = version;
            return;
        }
    }
    opsets.push_back({want, version});
}

Model Model::clone() const {
    Model m;
    m.irVersion = irVersion;
    m.producerName = producerName;
    m.producerVersion = producerVersion;
    m.domain = domain;
    m.modelVersion = modelVersion;
    m.doc = doc;
    m.opsets = opsets;
    m.metadata = metadata;
    m.functionsRaw = functionsRaw;
    m.trainingInfoRaw = trainingInfoRaw;
    m.graph = graph->clone();
    m.sourceDir = sourceDir;
    m.sourcePath = sourcePath;
    return m;
}

static void countWeights(const Graph& g, int64_t& params, int64_t& bytes) {
    for (const auto& [n, t] : g.initializers) {
        params += t.numel();
        bytes += static_cast<int64_t>(t.byteSize());
    }
    g.forEachNode([&](const Node& n) {
        if (n.opType == "Constant" && n.domain.empty())
            if (const Attribute* a = n.attr("value"); a && a->type == AttrType::Tensor) {
                params += a->t.numel();
                bytes += static_cast<int64_t>(a->t.byteSize());
            }
        for (Graph* sg : n.subgraphs()) countWeights(*sg, params, bytes);
    });
}

int64_t Model::parameterCount() const {
    int64_t p = 0, b = 0;
    countWeights(*graph, p, b);
    return p;
}

int64_t Model::weightBytes() const {
    int64_t p = 0, b = 0;
    countWeights(*graph, p, b);
    return b;
}

} // namespace opstudio::ir
