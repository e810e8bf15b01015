#include "opstudio/util/error.h"

namespace opstudio {

std::string Error::describe() const {
    std::string out = what();
    std::string ctx;
    auto add = [&](const std::string& s) {
        if (!ctx.empty()) ctx += ", ";
        ctx += s;
    };
    if (!m_context.node.empty()) add("node '" + m_context.node + "'");
    if (!m_context.opType.empty()) {
        std::string op = "op " + (m_context.domain.empty() ? m_context.opType : m_context.domain + "." + m_context.opType);
        add(op);
    }
    if (m_context.opset > 0) add("opset " + std::to_string(m_context.opset));
    if (!m_context.file.empty()) add("file '" + m_context.file + "'");
    if (!ctx.empty()) out += " (" + ctx + ")";
    return out;
}

} // namespace opstudio
