#include "op_metadata.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

static void initOpStudioResources() { Q_INIT_RESOURCE(resources); }

namespace opstudio::ui {

void initResources() {
    static bool done = false;
    if (!done) {
        initOpStudioResources();
        done = true;
    }
}

const OpMetadata& OpMetadata::instance() {
    static const OpMetadata metadata = [] {
        initResources();
        QFile f(":/op_metadata.json");
        if (!f.open(QIODevice::ReadOnly)) return OpMetadata();
        return fromJson(f.readAll());
    }();
    return metadata;
}

OpMetadata OpMetadata::fromJson(const QByteArray& json) {
    OpMetadata m;
    const QJsonObject root = QJsonDocument::fromJson(json).object();
    const QJsonObject cats = root.value("categories").toObject();
    for (auto it = cats.begin(); it != cats.end(); ++it) {
        const QJsonObject c = it.value().toObject();
        m.m_categoryIndex.insert(it.key(), m.m_categories.size());
        m.m_categories.push_back({it.key(), c.value("name").toString(it.key()), QColor(c.value("color").toString("#65717a"))});
    }
    const QJsonObject ops = root.value("ops").toObject();
    for (auto it = ops.begin(); it != ops.end(); ++it) {
        const QJsonObject o = it.value().toObject();
        m.m_ops.insert(it.key(), {o.value("category").toString("misc"), o.value("doc").toString(), o.value("domain").toString()});
    }
    return m;
}

const OpCategory& OpMetadata::category(const QString& opType) const {
    auto op = m_ops.constFind(opType);
    if (op == m_ops.constEnd()) {
        auto misc = m_categoryIndex.constFind("misc");
        return misc == m_categoryIndex.constEnd() ? m_fallback : m_categories[*misc];
    }
    auto c = m_categoryIndex.constFind(op->category);
    return c == m_categoryIndex.constEnd() ? m_fallback : m_categories[*c];
}

QString OpMetadata::doc(const QString& opType) const {
    auto op = m_ops.constFind(opType);
    return op == m_ops.constEnd() ? QString() : op->doc;
}

} // namespace opstudio::ui
