#include "opstudio/runtime/session.h"

#include "opstudio/runtime/graph_plan.h"

#include "opstudio/ir/half.h"

#include <cstring>
#include <omp.h>
#include <random>
#include <xmmintrin.h>

namespace opstudio::rt {

namespace {

/// Flush-to-zero and denormals-are-zero in every OpenMP worker: subnormals made GEMM 200x slower here.
constexpr unsigned kFtzDaz = 0x8040; // MXCSR flush-to-zero | denormals-are-zero

void configureThreads(int threads) {
    omp_set_num_threads(threads);
#pragma omp parallel num_threads(threads)
    { _mm_setcsr(_mm_getcsr() | kFtzDaz); }
}

/// For the length of a build or run: our thread count and FTZ/DAZ (denormals cost 100x on x86). The caller's
/// thread gets its MXCSR and OpenMP thread count back afterwards; the OpenMP workers keep FTZ/DAZ.
class RunEnvironment {
public:
    explicit RunEnvironment(int threads) : m_csr(_mm_getcsr()), m_maxThreads(omp_get_max_threads()) {
        configureThreads(threads);
    }
    ~RunEnvironment() {
        _mm_setcsr(m_csr);
        omp_set_num_threads(m_maxThreads);
    }
    RunEnvironment(const RunEnvironment&) = delete;
    RunEnvironment& operator=(const RunEnvironment&) = delete;

private:
    unsigned m_csr;
    int m_maxThreads;
};

int resolveThreads(int requested) {
    if (requested > 0) return requested;
    return std::max(1, omp_get_num_procs());
}

} // namespace

Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const ir::Model> model,
                                                 const SessionOptions& options) {
    const std::string sourcePath = model ? model->sourcePath : std::string();
    try {
        if (!model || !model->graph) throw Error("no model");
        std::unique_ptr<Session> s(new Session());
        s->m_model = std::move(model);
        s->m_options = options;
        s->m_options.threads = resolveThreads(options.threads);
        const RunEnvironment env(s->m_options.threads);
        const ir::Graph& g = *s->m_model->graph;
        s->m_plan = std::make_unique<GraphPlan>(g, *s->m_model, s->m_options);
        s->m_pool = std::make_unique<TensorPool>();
        for (const auto& name : g.realInputs()) {
            const ir::Value* v = g.findValue(name);
            s->m_inputs.push_back(
                {name, v ? v->dtype : ir::DType::Undefined, v ? v->shape : ir::ValueShape{}});
        }
        for (const auto& name : g.outputs) {
            const ir::Value* v = g.findValue(name);
            s->m_outputs.push_back(
                {name, v ? v->dtype : ir::DType::Undefined, v ? v->shape : ir::ValueShape{}});
        }
        return s;
    } catch (Error& e) {
        if (e.context().file.empty()) e.context().file = sourcePath;
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory while building the session");
    } catch (const std::exception& e) {
        return Error(std::string("cannot build session: ") + e.what());
    }
}

std::vector<int64_t> Session::resolvedInputShape(const IoInfo& info) const {
    std::vector<int64_t> shape;
    if (!info.shape) return shape;
    for (const auto& d : *info.shape) {
        if (d.known()) {
            shape.push_back(d.value);
        } else {
            auto it = m_options.dims.find(d.symbol);
            shape.push_back(it != m_options.dims.end() ? it->second : 1);
        }
    }
    return shape;
}

Result<std::vector<NamedTensor>> Session::run(const std::map<std::string, ir::Tensor>& feeds) {
    const std::lock_guard<std::mutex> lock(m_runMutex);
    try {
        const ir::Graph& g = *m_model->graph;
        for (const auto& [name, t] : feeds) {
            bool known = false;
            for (const auto& in : g.inputs)
                known = known || in == name;
            if (!known) {
                std::string names;
                for (const auto& i : m_inputs)
                    names += (names.empty() ? "" : ", ") + i.name;
                throw Error("unknown input '" + name + "' (the model's inputs are: " + names + ")");
            }
        }
        std::vector<ir::Tensor> ordered(g.inputs.size());
        for (size_t i = 0; i < g.inputs.size(); ++i) {
            const std::string& name = g.inputs[i];
            auto it = feeds.find(name);
            if (it == feeds.end()) {
                if (!g.isInitializer(name)) throw Error("missing input '" + name + "'");
                continue; // an initializer provides the default
            }
            const ir::Tensor& t = it->second;
            const ir::Value* v = g.findValue(name);
            if (v && v->hasType && v->dtype != ir::DType::Undefined && t.dtype() != v->dtype)
                throw Error("input '" + name + "' has dtype " + std::string(ir::dtypeName(t.dtype())) +
                            " but the model expects " + std::string(ir::dtypeName(v->dtype)));
            if (v && v->shape) {
                const auto& dims = *v->shape;
                bool ok = dims.size() == t.shape().size();
                for (size_t d = 0; ok && d < dims.size(); ++d) {
                    if (dims[d].known())
                        ok = dims[d].value == t.shape()[d];
                    else if (!dims[d].symbol.empty()) {
                        auto dim = m_options.dims.find(dims[d].symbol);
                        if (dim != m_options.dims.end()) ok = dim->second == t.shape()[d];
                    }
                }
                if (!ok)
                    throw Error("input '" + name + "' has shape " + ir::shapeToString(t.shape()) +
                                " but the model expects " + ir::valueShapeToString(v->shape));
            }
            ordered[i] = t;
        }
        const RunEnvironment env(m_options.threads);
        m_pool->resetPeak();
        if (m_observer) m_observer->onRunBegin();
        std::vector<ir::Tensor> outs = m_plan->run(ordered, nullptr, m_pool.get(), m_observer, 0);
        if (m_observer) m_observer->onRunEnd();
        std::vector<NamedTensor> result;
        for (size_t i = 0; i < outs.size(); ++i)
            result.push_back({g.outputs[i], std::move(outs[i])});
        return result;
    } catch (Error& e) {
        if (e.context().file.empty()) e.context().file = m_model->sourcePath;
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory during the run");
    } catch (const std::exception& e) {
        return Error(std::string("run failed: ") + e.what());
    }
}

size_t Session::peakActivationBytes() const {
    return m_pool ? m_pool->peakBytes() : 0;
}

std::string_view Session::kernelPath(ir::NodeId id) const {
    return m_plan->kernelPath(id);
}

const std::vector<ExecutedStep>& Session::lastExecution() const {
    return m_plan->lastExecution();
}

std::map<std::string, ir::Tensor> randomFeeds(const Session& session, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::map<std::string, ir::Tensor> feeds;
    for (const auto& in : session.inputs()) {
        const auto shape = session.resolvedInputShape(in);
        ir::Tensor t(in.dtype == ir::DType::Undefined ? ir::DType::F32 : in.dtype, shape);
        const int64_t n = t.numel();
        std::uniform_real_distribution<double> real(-1.0, 1.0);
        std::uniform_int_distribution<int> small(0, 7);
        switch (t.dtype()) {
        case ir::DType::F32:
            for (auto& x : t.span<float>())
                x = static_cast<float>(real(rng));
            break;
        case ir::DType::F64:
            for (auto& x : t.span<double>())
                x = real(rng);
            break;
        case ir::DType::F16: {
            auto* p = t.data<uint16_t>();
            for (int64_t i = 0; i < n; ++i)
                p[i] = ir::floatToHalf(static_cast<float>(real(rng)));
            break;
        }
        case ir::DType::Bool:
            for (auto& x : t.span<bool>())
                x = small(rng) & 1;
            break;
        case ir::DType::I64:
            for (auto& x : t.span<int64_t>())
                x = small(rng);
            break;
        case ir::DType::I32:
            for (auto& x : t.span<int32_t>())
                x = small(rng);
            break;
        case ir::DType::I8:
            for (auto& x : t.span<int8_t>())
                x = static_cast<int8_t>(small(rng));
            break;
        case ir::DType::U8:
            for (auto& x : t.span<uint8_t>())
                x = static_cast<uint8_t>(small(rng));
            break;
        case ir::DType::String:
            for (auto& s : t.strings())
                s = std::to_string(small(rng));
            break;
        default:
            if (t.byteSize()) std::memset(t.raw(), 0, t.byteSize());
        }
        feeds.emplace(in.name, std::move(t));
    }
    return feeds;
}

} // namespace opstudio::rt
