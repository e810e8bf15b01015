#include "opstudio/runtime/kernel.h"

#include "opstudio/runtime/graph_plan.h"
#include "runtime/kernels/all_kernels.h"
#include "opstudio/util/shape_math.h"

namespace opstudio::rt {

static bool sameDomain(const std::string& a, const std::string& b) {
    auto norm = [](const std::string& d) { return d == "ai.onnx" ? std::string() : d; };
    return norm(a) == norm(b);
}

void KernelRegistry::add(KernelKey key, KernelFactory fast, KernelFactory reference) {
    m_entries.push_back({std::move(key), std::move(fast), std::move(reference)});
}

const KernelRegistry::Entry* KernelRegistry::find(const std::string& domain, const std::string& opType,
                                                  int64_t opset) const {
    // Later registrations win, so a family can refine an earlier broad range.
    for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it)
        if (it->key.opType == opType && sameDomain(it->key.domain, domain) && opset >= it->key.sinceVersion &&
            opset <= it->key.untilVersion)
            return &*it;
    return nullptr;
}

bool KernelRegistry::knowsOp(const std::string& domain, const std::string& opType) const {
    for (const auto& e : m_entries)
        if (e.key.opType == opType && sameDomain(e.key.domain, domain)) return true;
    return false;
}

const KernelRegistry& KernelRegistry::global() {
    static const KernelRegistry registry = [] {
        KernelRegistry r;
        registerAllKernels(r);
        return r;
    }();
    return registry;
}

KernelFactory fn(std::function<void(KernelContext&)> f, std::string_view path) {
    return [f = std::move(f), path](const KernelInit&) -> std::unique_ptr<Kernel> {
        return std::make_unique<FunctionKernel>(f, path);
    };
}

const ir::Tensor& KernelContext::input(size_t i) const {
    if (i >= m_inputs.size() || !m_inputs[i])
        throw Error("node '" + m_node.name + "' (" + m_node.opType + ") needs input " + std::to_string(i) +
                    " but it is missing");
    return *m_inputs[i];
}

ir::Tensor& KernelContext::allocate(size_t i, ir::DType dtype, std::vector<int64_t> shape) {
    if (i >= m_outputs.size())
        throw Error("node '" + m_node.name + "' (" + m_node.opType + ") has no output " + std::to_string(i));
    size_t bytes = 0;
    try {
        bytes = util::checkedBytes(shape, dtype == ir::DType::String ? sizeof(std::string) : ir::dtypeSize(dtype),
                                   "output " + std::to_string(i));
    } catch (const Error& e) {
        throw Error(e.what(), ErrorContext{{}, m_node.name, m_node.opType, m_node.domain, 0});
    }
    if (dtype == ir::DType::String || !m_pool) {
        m_outputs[i] = ir::Tensor(dtype, std::move(shape));
    } else {
        m_outputs[i] = ir::Tensor::view(dtype, std::move(shape), m_pool->acquire(bytes));
    }
    return m_outputs[i];
}

} // namespace opstudio::rt
