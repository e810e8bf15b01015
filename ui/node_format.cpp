#include "node_format.h"

#include <cmath>

namespace opstudio::ui {

namespace {
QString joinInts(const std::vector<int64_t>& v, const QString& sep) {
    QStringList parts;
    for (int64_t x : v) parts << QString::number(x);
    return parts.join(sep);
}
bool allEqual(const std::vector<int64_t>& v, int64_t x) {
    for (int64_t e : v)
        if (e != x) return false;
    return true;
}
} // namespace

QString bracketShape(const std::vector<int64_t>& shape) {
    return QStringLiteral("⟨") + (shape.empty() ? QStringLiteral("scalar") : joinInts(shape, QStringLiteral("×"))) +
           QStringLiteral("⟩");
}

QString valueShapeText(const ir::ValueShape& shape) {
    if (!shape) return QStringLiteral("?");
    if (shape->empty()) return QStringLiteral("scalar");
    QStringList parts;
    for (const auto& d : *shape)
        parts << (d.known() ? QString::number(d.value) : d.symbol.empty() ? QStringLiteral("?") : QString::fromStdString(d.symbol));
    return parts.join(QStringLiteral("×"));
}

QString nodeAttributeSummary(const ir::Node& n) {
    const std::string& op = n.opType;
    QStringList parts;
    auto ks = n.attrInts("kernel_shape");
    if (!ks.empty()) parts << joinInts(ks, "x");
    auto strides = n.attrInts("strides");
    if (!strides.empty() && !allEqual(strides, 1))
        parts << "/" + (allEqual(strides, strides[0]) ? QString::number(strides[0]) : joinInts(strides, "x"));
    auto dil = n.attrInts("dilations");
    if (!dil.empty() && !allEqual(dil, 1)) parts << "d" + joinInts(dil, "x");
    const int64_t group = n.attrInt("group", 1);
    if (group > 1) parts << "g" + QString::number(group);
    if (op == "Transpose" && n.hasAttr("perm")) parts << "perm " + joinInts(n.attrInts("perm"), ",");
    if ((op == "Concat" || op == "Softmax" || op == "LogSoftmax" || op == "Gather" || op == "Flatten" || op == "Split" ||
         op == "LayerNormalization" || op == "ArgMax" || op == "ArgMin" || op == "CumSum") &&
        n.hasAttr("axis"))
        parts << "axis " + QString::number(n.attrInt("axis", 0));
    if (op.rfind("Reduce", 0) == 0 && n.hasAttr("axes")) parts << "axes " + joinInts(n.attrInts("axes"), ",");
    if ((op == "Squeeze" || op == "Unsqueeze") && n.hasAttr("axes")) parts << "axes " + joinInts(n.attrInts("axes"), ",");
    if (op == "Gemm") {
        if (n.attrInt("transA", 0)) parts << "Aᵀ";
        if (n.attrInt("transB", 0)) parts << "Bᵀ";
    }
    if (op == "Cast" && n.hasAttr("to"))
        parts << "→ " + QString::fromLatin1(ir::dtypeName(static_cast<ir::DType>(n.attrInt("to", 0))).data());
    if (op == "Resize" || op == "Upsample") parts << QString::fromStdString(n.attrString("mode", "nearest"));
    if (op == "LeakyRelu" && n.hasAttr("alpha")) parts << "α " + QString::number(n.attrFloat("alpha", 0.01f));
    if (op == "Clip" && (n.hasAttr("min") || n.hasAttr("max")))
        parts << QString("[%1, %2]").arg(n.attrFloat("min", 0)).arg(n.attrFloat("max", 0));
    return parts.join(' ');
}

QString attributeValueText(const ir::Attribute& a) {
    using T = ir::AttrType;
    switch (a.type) {
    case T::Float: return QString::number(a.f);
    case T::Int: return QString::number(a.i);
    case T::String: return QString::fromStdString(a.s);
    case T::Tensor:
        return QString::fromLatin1(ir::dtypeName(a.t.dtype()).data()) + " " + bracketShape(a.t.shape());
    case T::Graph: return QStringLiteral("graph '%1' (%2 nodes)").arg(a.g ? QString::fromStdString(a.g->name) : "").arg(a.g ? a.g->nodeCount() : 0);
    case T::Floats: {
        QStringList p;
        for (size_t i = 0; i < a.floats.size() && i < 16; ++i) p << QString::number(a.floats[i]);
        if (a.floats.size() > 16) p << "…";
        return "[" + p.join(", ") + "]";
    }
    case T::Ints: {
        QStringList p;
        for (size_t i = 0; i < a.ints.size() && i < 16; ++i) p << QString::number(a.ints[i]);
        if (a.ints.size() > 16) p << "…";
        return "[" + p.join(", ") + "]";
    }
    case T::Strings: {
        QStringList p;
        for (size_t i = 0; i < a.strings.size() && i < 8; ++i) p << QString::fromStdString(a.strings[i]);
        return "[" + p.join(", ") + "]";
    }
    case T::Graphs: return QStringLiteral("%1 graphs").arg(a.graphs.size());
    case T::Tensors: return QStringLiteral("%1 tensors").arg(a.tensors.size());
    default: return QStringLiteral("(unsupported)");
    }
}

QString humanCount(double v) {
    const double a = std::fabs(v);
    if (a >= 1e12) return QString::number(v / 1e12, 'f', 2) + " T";
    if (a >= 1e9) return QString::number(v / 1e9, 'f', 2) + " G";
    if (a >= 1e6) return QString::number(v / 1e6, 'f', 2) + " M";
    if (a >= 1e3) return QString::number(v / 1e3, 'f', 1) + " k";
    return QString::number(v, 'f', 0);
}

QString humanBytes(double b) {
    if (b >= 1024.0 * 1024 * 1024) return QString::number(b / (1024.0 * 1024 * 1024), 'f', 2) + " GB";
    if (b >= 1024.0 * 1024) return QString::number(b / (1024.0 * 1024), 'f', 2) + " MB";
    if (b >= 1024.0) return QString::number(b / 1024.0, 'f', 1) + " kB";
    return QString::number(b, 'f', 0) + " B";
}

QString nodeDisplayName(const ir::Node& node) {
    if (!node.name.empty()) return QString::fromStdString(node.name);
    return QString::fromStdString(node.opType) + "_" + QString::number(node.id);
}

} // namespace opstudio::ui
