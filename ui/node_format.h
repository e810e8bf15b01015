#pragma once
// Text shown for nodes, tensors and numbers across the studio (graph boxes, table, properties).
#include "opstudio/ir/graph.h"

#include <QString>
#include <QStringList>

namespace opstudio::ui {

/// Short attribute summary for a node box: "3x3 /2", "perm 0,2,3,1", "axis 1" …; empty when none.
QString nodeAttributeSummary(const ir::Node& node);
/// "⟨64×3×7×7⟩"
QString bracketShape(const std::vector<int64_t>& shape);
/// "1×3×224×224", "batch×128", "?" when unknown.
QString valueShapeText(const ir::ValueShape& shape);
/// Full attribute value for the properties panel.
QString attributeValueText(const ir::Attribute& a);
/// 1.2 G, 350 M, 12 k.
QString humanCount(double v);
/// 1.5 MB, 12 kB.
QString humanBytes(double bytes);
/// Display name of a node: its name, or "<op>_<id>" when unnamed.
QString nodeDisplayName(const ir::Node& node);

} // namespace opstudio::ui
