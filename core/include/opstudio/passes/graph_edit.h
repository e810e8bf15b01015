#pragma once
// Small graph-editing helpers shared by passes.
#include "opstudio/ir/graph.h"

#include <string>
#include <vector>

namespace opstudio::passes {

/// Replaces every use of value `from` by `to` (node inputs, subgraph reads, graph outputs).
void replaceAllUses(ir::Graph& g, const std::string& from, const std::string& to);
/// A value/node name not used in the graph, derived from `base`.
std::string uniqueName(const ir::Graph& g, const std::string& base);
/// Number of uses of a value (node inputs + graph outputs + implicit subgraph reads).
int useCount(const ir::Graph& g, const std::string& value);
/// True when the value is a graph output.
bool isGraphOutput(const ir::Graph& g, const std::string& value);
/// The single node consuming `value`, or nullptr when there are 0 or several consumers or it is a graph output.
ir::Node* singleConsumer(ir::Graph& g, const std::string& value);
/// Producer node of a value, or nullptr.
ir::Node* producerOf(ir::Graph& g, const std::string& value);
/// Provenance for a node replacing `replaced`: the union of their provenance (or their own ids).
std::vector<ir::NodeId> mergeProvenance(const ir::Graph& g, const std::vector<ir::NodeId>& replaced);
/// Adds an initializer with a fresh name derived from `base`; returns the name.
std::string addInitializer(ir::Graph& g, const std::string& base, ir::Tensor t);
/// Removes initializers and value records nobody uses any more.
void removeUnusedInitializers(ir::Graph& g);

} // namespace opstudio::passes
