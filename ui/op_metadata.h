#pragma once
// Operator metadata (category, colour, one-paragraph doc) read from resources/op_metadata.json,
// compiled into the binary through resources.qrc. Data, not code: add an op by editing the JSON.
#include <QColor>
#include <QHash>
#include <QString>
#include <QVector>

namespace opstudio::ui {

struct OpCategory {
    QString id;
    QString name;
    QColor color;
};

struct OpInfo {
    QString category; // category id
    QString doc;
    QString domain;
};

/// Registry of op categories and docs. `instance()` loads ":/op_metadata.json" once.
class OpMetadata {
public:
    static const OpMetadata& instance();
    /// Parses JSON text; an invalid document gives an empty registry (everything is "misc").
    static OpMetadata fromJson(const QByteArray& json);

    /// Category of an op type; "misc" for unknown ops.
    const OpCategory& category(const QString& opType) const;
    QColor color(const QString& opType) const { return category(opType).color; }
    /// One-paragraph doc; empty when unknown.
    QString doc(const QString& opType) const;
    bool contains(const QString& opType) const { return m_ops.contains(opType); }
    int opCount() const { return m_ops.size(); }
    const QVector<OpCategory>& categories() const { return m_categories; }

private:
    QHash<QString, OpInfo> m_ops;
    QVector<OpCategory> m_categories;
    QHash<QString, int> m_categoryIndex;
    OpCategory m_fallback{"misc", "Other", QColor("#65717a")};
};

/// Makes the Qt resources of the static library available (safe to call many times).
void initResources();

} // namespace opstudio::ui
