#pragma once
#include "opstudio/ir/dtype.h"
#include "opstudio/ir/tensor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace opstudio::ir {

class Graph;
using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xffffffffu;

/// One dimension: a known size, a symbolic name ("batch"), or unknown (value < 0, empty symbol).
struct Dim {
    int64_t value = -1;
    std::string symbol;
    bool known() const { return value >= 0; }
    static Dim of(int64_t v) { return {v, {}}; }
    static Dim named(std::string s) { return {-1, std::move(s)}; }
    bool operator==(const Dim&) const = default;
};
/// Shape of a value: std::nullopt when even the rank is unknown.
using ValueShape = std::optional<std::vector<Dim>>;
std::string valueShapeToString(const ValueShape& s);
/// Concrete shape when every dim is known.
std::optional<std::vector<int64_t>> concreteShape(const ValueShape& s);
ValueShape toValueShape(const std::vector<int64_t>& shape);

enum class AttrType : int32_t {
    Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, SparseTensor = 11, TypeProto = 13,
    Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10, SparseTensors = 12, TypeProtos = 14,
};

/// A node attribute. Unsupported kinds (sparse tensors, type protos) keep their serialized proto in `raw`.
struct Attribute {
    std::string name;
    AttrType type = AttrType::Undefined;
    float f = 0.f;
    int64_t i = 0;
    std::string s;
    Tensor t;
    std::shared_ptr<Graph> g;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    std::vector<std::string> strings;
    std::vector<Tensor> tensors;
    std::vector<std::shared_ptr<Graph>> graphs;
    std::string refAttrName; // attribute reference inside functions
    std::string doc;
    std::string raw;
};

/// A value (edge): its type, shape and who produces / consumes it.
struct Value {
    std::string name;
    DType dtype = DType::Undefined;
    ValueShape shape;
    std::string doc;
    NodeId producer = kNoNode;        // kNoNode for graph inputs, initializers and outer-scope values
    std::vector<NodeId> consumers;    // one entry per use (a node using a value twice appears twice)
    bool hasType = false;             // dtype/shape came from the model or inference
    /// Serialized onnx.TypeProto for non-tensor types (sequence, optional, map), kept for export.
    std::string typeRaw;
};

/// One operator instance. `inputs`/`outputs` are value names; "" marks an omitted optional input.
struct Node {
    NodeId id = kNoNode;
    std::string name;
    std::string opType;
    std::string domain; // "" is the default ONNX domain
    std::string doc;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::vector<Attribute> attributes;
    /// Original node ids this node replaces (set by passes); empty for original nodes.
    std::vector<NodeId> provenance;

    const Attribute* attr(std::string_view name) const;
    Attribute* attr(std::string_view name);
    bool hasAttr(std::string_view name) const { return attr(name) != nullptr; }
    int64_t attrInt(std::string_view name, int64_t fallback) const;
    float attrFloat(std::string_view name, float fallback) const;
    std::string attrString(std::string_view name, std::string fallback) const;
    std::vector<int64_t> attrInts(std::string_view name, std::vector<int64_t> fallback = {}) const;
    std::vector<float> attrFloats(std::string_view name, std::vector<float> fallback = {}) const;
    /// Graph-valued attributes (If branches, Loop/Scan bodies).
    std::vector<Graph*> subgraphs() const;
    /// Number of inputs actually present (non-empty names).
    int presentInput(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

/// A computation graph. Nodes have stable ids (never reused); `order()` is the node order.
class Graph {
public:
    Graph() = default;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    /// Deep copy (subgraphs included); node ids are preserved.
    std::unique_ptr<Graph> clone() const;

    std::string name;
    std::string doc;
    std::vector<std::string> inputs;  // graph inputs in order (may include initializer names in old IR)
    std::vector<std::string> outputs; // graph outputs in order
    std::map<std::string, Tensor> initializers;
    std::vector<std::string> sparseInitializersRaw; // kept verbatim for export

    /// Adds a node and returns it; the id is fresh.
    Node& addNode(Node node);
    void removeNode(NodeId id);
    Node* node(NodeId id);
    const Node* node(NodeId id) const;
    const std::vector<NodeId>& order() const { return m_order; }
    void setOrder(std::vector<NodeId> order) { m_order = std::move(order); }
    size_t nodeCount() const { return m_order.size(); }
    /// Upper bound on ids ever handed out (for id-indexed arrays).
    NodeId idBound() const { return static_cast<NodeId>(m_nodes.size()); }
    template <typename F> void forEachNode(F&& f) {
        for (NodeId id : m_order) f(*m_nodes[id]);
    }
    template <typename F> void forEachNode(F&& f) const {
        for (NodeId id : m_order) f(static_cast<const Node&>(*m_nodes[id]));
    }

    /// Value records by name (inputs, outputs, value_info, initializers, node outputs).
    Value& value(const std::string& name); // creates when missing
    const Value* findValue(const std::string& name) const;
    Value* findValue(const std::string& name);
    const std::unordered_map<std::string, Value>& values() const { return m_values; }
    /// Recomputes producers and consumers from the nodes.
    void rebuildIndex();
    bool isInitializer(const std::string& name) const { return initializers.count(name) != 0; }
    /// Constant tensor behind a value: an initializer or a `Constant` node's value; nullptr otherwise.
    const Tensor* constantValue(const std::string& name) const;
    /// True when the value is a graph input that is not also an initializer.
    bool isGraphInput(const std::string& name) const;
    /// Names of graph inputs that are real inputs (not initializers).
    std::vector<std::string> realInputs() const;
    /// Sorts m_order topologically (stable: keeps the stored order where it is valid).
    /// Throws opstudio::Error naming a node on the cycle when there is one.
    void topologicalSort(const std::vector<std::string>& outerScope = {});
    /// Number of nodes in this graph and all nested subgraphs.
    size_t totalNodeCount() const;
    /// Number of nested subgraphs (recursive).
    size_t subgraphCount() const;

private:
    std::vector<std::unique_ptr<Node>> m_nodes; // indexed by id; null once removed
    std::vector<NodeId> m_order;
    std::unordered_map<std::string, Value> m_values;
};

struct OpsetImport {
    std::string domain;
    int64_t version = 0;
};

/// A whole model: metadata, opsets and the main graph.
struct Model {
    int64_t irVersion = 8;
    std::string producerName;
    std::string producerVersion;
    std::string domain;
    int64_t modelVersion = 0;
    std::string doc;
    std::vector<OpsetImport> opsets;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::vector<std::string> functionsRaw; // model-local FunctionProtos, kept verbatim
    std::vector<std::string> trainingInfoRaw;
    std::unique_ptr<Graph> graph = std::make_unique<Graph>();
    /// Folder of the file the model came from (external data is resolved inside it).
    std::string sourceDir;
    std::string sourcePath;

    /// Opset version of a domain ("" and "ai.onnx" are the same); 0 when not imported.
    int64_t opsetFor(const std::string& domain) const;
    void setOpset(const std::string& domain, int64_t version);
    Model clone() const;
    /// Parameters (elements) and bytes of all initializers and Constant tensors, subgraphs included.
    int64_t parameterCount() const;
    int64_t weightBytes() const;
};

} // namespace opstudio::ir
