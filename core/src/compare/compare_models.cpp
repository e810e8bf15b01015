// compareModels: outputs, latency and sizes of two models on the same inputs, and the first
// original node where model B's intermediate values leave model A's.
#include "opstudio/compare/compare.h"

#include "opstudio/profile/latency.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace opstudio::compare {

namespace {

bool shapesAgree(const ir::ValueShape& x, const ir::ValueShape& y) {
    const auto cx = ir::concreteShape(x), cy = ir::concreteShape(y);
    return !cx || !cy || *cx == *cy; // unknown shapes are checked on the real tensors later
}

/// Original (model A) nodes a node of model B stands for.
std::vector<ir::NodeId> originalsOf(const ir::Graph& a, const ir::Node& nb,
                                    const std::unordered_map<std::string, ir::NodeId>& aByName) {
    std::vector<ir::NodeId> out;
    if (!nb.provenance.empty()) {
        for (ir::NodeId id : nb.provenance)
            if (a.node(id)) out.push_back(id);
        return out;
    }
    if (!nb.name.empty()) {
        const auto it = aByName.find(nb.name);
        if (it != aByName.end()) {
            const ir::Node* na = a.node(it->second);
            // A same-named node of another op type (a pass replaced it without provenance) is
            // still the node's original as far as names go; its outputs are matched below.
            if (na) out.push_back(it->second);
            return out;
        }
    }
    // Unnamed nodes of a clone keep their ids.
    const ir::Node* na = a.node(nb.id);
    if (na && na->opType == nb.opType && na->name == nb.name) out.push_back(nb.id);
    return out;
}

/// Median latency of both sessions: profile/latency.h's mechanism (observers off, A, B, A, B ...),
/// the same that gives a profile's total.
std::pair<double, double> timeModels(rt::Session& a, const std::map<std::string, ir::Tensor>& feedsA,
                                     rt::Session& b, const std::map<std::string, ir::Tensor>& feedsB,
                                     const CompareOptions& o) {
    auto s = profile::measureLatency({{&a, &feedsA, "model A"}, {&b, &feedsB, "model B"}}, o.runs, o.warmup);
    if (!s.ok()) throw s.error();
    return {(*s)[0].median, (*s)[1].median};
}

/// Keeps copies of model A's values that model B also produces (and nothing else), and the
/// order in which A's main-graph nodes ran.
class CaptureObserver final : public rt::ExecutionObserver {
public:
    explicit CaptureObserver(const std::unordered_set<std::string>& wanted) : m_wanted(wanted) {}
    void onNodeEnd(const ir::Node& node, int depth, const std::vector<ir::Tensor>& outputs) override {
        if (depth != 0) return;
        order.push_back(node.id);
        for (size_t i = 0; i < outputs.size() && i < node.outputs.size(); ++i)
            if (outputs[i].defined() && m_wanted.count(node.outputs[i]))
                values[node.outputs[i]] = outputs[i].clone(); // the runtime reuses its buffers
    }
    std::vector<ir::NodeId> order;
    std::unordered_map<std::string, ir::Tensor> values;

private:
    const std::unordered_set<std::string>& m_wanted;
};

/// Compares model B's values with the captured A values as B produces them (B's are not kept).
class StreamingCompareObserver final : public rt::ExecutionObserver {
public:
    StreamingCompareObserver(const std::map<std::string, std::string>& bToA,
                             const std::unordered_map<std::string, ir::Tensor>& aValues)
        : m_bToA(bToA), m_aValues(aValues) {}
    void onNodeEnd(const ir::Node& node, int depth, const std::vector<ir::Tensor>& outputs) override {
        if (depth != 0) return;
        for (size_t i = 0; i < outputs.size() && i < node.outputs.size(); ++i) {
            const auto m = m_bToA.find(node.outputs[i]);
            if (m == m_bToA.end() || !outputs[i].defined() || errors.count(m->second)) continue;
            const auto a = m_aValues.find(m->second);
            if (a == m_aValues.end() || a->second.shape() != outputs[i].shape()) continue;
            try {
                errors[m->second] = absErrors(a->second, outputs[i]);
            } catch (const Error&) {
                // Not numeric: nothing to compare.
            }
        }
    }
    std::unordered_map<std::string, AbsErrors> errors; // by A value name

private:
    const std::map<std::string, std::string>& m_bToA;
    const std::unordered_map<std::string, ir::Tensor>& m_aValues;
};

std::unique_ptr<rt::Session> makeSession(std::shared_ptr<const ir::Model> m, const CompareOptions& o,
                                         const char* which) {
    rt::SessionOptions so;
    so.threads = o.threads;
    so.dims = o.dims;
    auto s = rt::Session::create(std::move(m), so);
    if (!s.ok()) {
        Error e = s.error();
        throw Error(std::string("model ") + which + ": " + e.describe());
    }
    return std::move(s).value();
}

std::vector<rt::NamedTensor> runOnce(rt::Session& s, const std::map<std::string, ir::Tensor>& feeds,
                                     const char* which) {
    auto r = s.run(feeds);
    if (!r.ok()) throw Error(std::string("model ") + which + ": " + r.error().describe());
    return std::move(r).value();
}

} // namespace

std::map<std::string, std::string> correspondingValues(const ir::Graph& a, const ir::Graph& b) {
    std::unordered_map<std::string, ir::NodeId> aByName;
    a.forEachNode([&](const ir::Node& n) {
        if (!n.name.empty()) aByName.emplace(n.name, n.id);
    });
    std::unordered_map<std::string, ir::NodeId> aProducer;
    a.forEachNode([&](const ir::Node& n) {
        for (const auto& o : n.outputs)
            if (!o.empty()) aProducer[o] = n.id;
    });
    const std::set<std::string> aOutputs(a.outputs.begin(), a.outputs.end());

    std::map<std::string, std::string> out;
    b.forEachNode([&](const ir::Node& nb) {
        // A value keeping its name is the same value (passes keep the name of the last output they
        // replace), whoever produces it now.
        std::vector<std::string> unmatched;
        for (const auto& o : nb.outputs) {
            if (o.empty()) continue;
            if (aProducer.count(o)) {
                const ir::Value* va = a.findValue(o);
                const ir::Value* vb = b.findValue(o);
                if (!va || !vb || shapesAgree(va->shape, vb->shape)) out[o] = o;
            } else {
                unmatched.push_back(o);
            }
        }
        // A rewritten node with a fresh output name stands for the one value that leaves its
        // group of original nodes (consumed outside the group, or a graph output).
        if (unmatched.size() != 1 || nb.outputs.size() != 1) return;
        const auto group = originalsOf(a, nb, aByName);
        if (group.empty()) return;
        const std::set<ir::NodeId> members(group.begin(), group.end());
        std::vector<std::string> leaving;
        a.forEachNode([&](const ir::Node& na) {
            if (!members.count(na.id)) return;
            for (const auto& o : na.outputs) {
                if (o.empty()) continue;
                bool escapes = aOutputs.count(o) != 0;
                if (const ir::Value* v = a.findValue(o))
                    for (ir::NodeId c : v->consumers)
                        if (!members.count(c)) escapes = true;
                if (escapes) leaving.push_back(o);
            }
        });
        if (leaving.size() != 1) return;
        const ir::Value* va = a.findValue(leaving[0]);
        const ir::Value* vb = b.findValue(unmatched[0]);
        if (!va || !vb || shapesAgree(va->shape, vb->shape)) out[unmatched[0]] = leaving[0];
    });
    return out;
}

Result<CompareResult> compareModels(std::shared_ptr<const ir::Model> a, std::shared_ptr<const ir::Model> b,
                                    const std::map<std::string, ir::Tensor>& givenFeeds,
                                    const CompareOptions& options) {
    try {
        if (!a || !b) throw Error("compare needs two models");
        auto sa = makeSession(a, options, "A");
        auto sb = makeSession(b, options, "B");

        // Same inputs for both: given, or seeded random ones shaped after model A's inputs.
        const auto feeds = givenFeeds.empty() ? rt::randomFeeds(*sa, options.seed) : givenFeeds;
        std::map<std::string, ir::Tensor> feedsB;
        for (const auto& in : sb->inputs()) {
            const auto it = feeds.find(in.name);
            if (it == feeds.end())
                throw Error("model B has an input '" + in.name + "' that model A does not have");
            feedsB.emplace(in.name, it->second);
        }

        const auto& outA = sa->outputs();
        const auto& outB = sb->outputs();
        if (outA.size() != outB.size())
            throw Error("model A has " + std::to_string(outA.size()) + " outputs but model B has " +
                        std::to_string(outB.size()));

        CompareResult result;
        result.aWeightBytes = a->weightBytes();
        result.bWeightBytes = b->weightBytes();
        result.aNodes = static_cast<int>(a->graph->nodeCount());
        result.bNodes = static_cast<int>(b->graph->nodeCount());

        const auto ra = runOnce(*sa, feeds, "A");
        const auto rb = runOnce(*sb, feedsB, "B");
        // Outputs pair by name when B keeps A's names, by position otherwise.
        bool byName = true;
        for (const auto& o : ra)
            if (std::none_of(rb.begin(), rb.end(),
                             [&](const rt::NamedTensor& t) { return t.name == o.name; }))
                byName = false;
        for (size_t i = 0; i < ra.size(); ++i) {
            const rt::NamedTensor* other = &rb[i];
            if (byName)
                for (const auto& t : rb)
                    if (t.name == ra[i].name) other = &t;
            const std::string label =
                ra[i].name == other->name ? ra[i].name : ra[i].name + " / " + other->name;
            result.outputs.push_back(compareTensors(label, ra[i].tensor, other->tensor));
        }

        std::tie(result.aMs, result.bMs) = timeModels(*sa, feeds, *sb, feedsB, options);
        result.speedup = result.bMs > 0 ? result.aMs / result.bMs : 0;

        if (options.findDivergence) {
            const auto bToA = correspondingValues(*a->graph, *b->graph);
            std::unordered_set<std::string> wanted;
            for (const auto& [bv, av] : bToA)
                wanted.insert(av);
            CaptureObserver capture(wanted);
            sa->setObserver(&capture);
            auto r1 = sa->run(feeds);
            sa->setObserver(nullptr);
            if (!r1.ok()) throw Error("model A: " + r1.error().describe());

            StreamingCompareObserver streaming(bToA, capture.values);
            sb->setObserver(&streaming);
            auto r2 = sb->run(feedsB);
            sb->setObserver(nullptr);
            if (!r2.ok()) throw Error("model B: " + r2.error().describe());
            capture.values.clear();

            // Earliest in A's execution (topological) order.
            for (ir::NodeId id : capture.order) {
                const ir::Node* na = a->graph->node(id);
                if (!na) continue;
                for (const auto& o : na->outputs) {
                    const auto e = streaming.errors.find(o);
                    if (e == streaming.errors.end() || !(e->second.relative() > options.divergenceThreshold))
                        continue;
                    result.firstDivergence =
                        Divergence{na->name, na->opType, o, e->second.relative(), e->second.maxAbs};
                    break;
                }
                if (result.firstDivergence) break;
            }
        }
        return result;
    } catch (const Error& e) {
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory while comparing the models");
    } catch (const std::exception& e) {
        return Error(e.what());
    }
}

} // namespace opstudio::compare
