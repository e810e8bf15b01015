#include "input_dims.h"

#include <QCryptographicHash>
#include <QFileInfo>
#include <QSet>
#include <QObject>
#include <QSettings>

#include <algorithm>
#include <optional>
#include <set>

namespace opstudio::ui {

namespace {

struct Use {
    std::string input;
    size_t axis = 0;
    const ir::Value* value = nullptr;
};

// Ops whose output 0 has the shape of input 0 (unary elementwise, casts, normalizations).
bool preservesShape(const std::string& op) {
    static const std::set<std::string> ops = {
        "Identity", "Cast", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "Tanh", "Neg", "Abs", "Sqrt", "Exp", "Log",
        "Clip", "Not", "Floor", "Ceil", "Round", "Erf", "Softplus", "Softsign", "Elu", "Selu", "Gelu", "Dropout",
        "Softmax", "LogSoftmax", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "Reciprocal",
        "Sign", "IsNaN", "IsInf", "QuantizeLinear", "DequantizeLinear"};
    return ops.count(op) != 0;
}
bool isBinaryElementwise(const std::string& op) {
    return op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow";
}

// The consumer output that has the input's shape along `axis` (see proposeInputDims), or nullptr.
std::optional<int64_t> valueInfoDim(const ir::Graph& graph, const Use& use) {
    const size_t rank = use.value->shape->size();
    for (ir::NodeId id : use.value->consumers) {
        const ir::Node* n = graph.node(id);
        if (!n || n->outputs.empty() || n->inputs.empty()) continue;
        bool ok = preservesShape(n->opType) && n->inputs[0] == use.input;
        if (!ok && isBinaryElementwise(n->opType) && n->inputs.size() == 2) {
            // x op C with a constant C that cannot widen `axis` (aligned from the right: absent or 1).
            const std::string& other = n->inputs[0] == use.input ? n->inputs[1] : n->inputs[0];
            auto c = graph.initializers.find(other);
            if (c != graph.initializers.end()) {
                const auto& cs = c->second.shape();
                const size_t fromRight = rank - 1 - use.axis;
                ok = cs.size() <= rank && (fromRight >= cs.size() || cs[cs.size() - 1 - fromRight] == 1);
            }
        }
        if (!ok) continue;
        const ir::Value* out = graph.findValue(n->outputs[0]);
        if (out && out->shape && out->shape->size() == rank && (*out->shape)[use.axis].known() &&
            (*out->shape)[use.axis].value > 0)
            return (*out->shape)[use.axis].value;
    }
    return std::nullopt;
}

std::optional<int64_t> metadataDim(const ir::Model& model, const std::string& symbol) {
    for (const auto& [key, value] : model.metadata) {
        if (key != symbol && key != "dim:" + symbol) continue;
        bool ok = false;
        const qint64 v = QString::fromStdString(value).trimmed().toLongLong(&ok);
        if (ok && v > 0) return v;
    }
    return std::nullopt;
}

QString lower(const std::string& s) { return QString::fromStdString(s).toLower(); }

// A default from the symbol's name and where it sits.
InputDim defaultDim(const std::string& symbol, const std::vector<Use>& uses) {
    InputDim d;
    d.source = InputDim::Source::Default;
    const QString name = lower(symbol);
    const Use& first = uses.front();
    const auto& shape = *first.value->shape;
    const auto has = [&](std::initializer_list<const char*> words) {
        return std::any_of(words.begin(), words.end(), [&](const char* w) { return name.contains(QLatin1String(w)); });
    };
    if (has({"batch"}) || name == "n" || name == "b" || (first.axis == 0 && shape.size() >= 2 && !has({"seq", "len", "token"}))) {
        d.value = 1;
        d.reason = QObject::tr("batch");
        return d;
    }
    if (has({"past"})) {
        // A KV-cache decoder (Optimum / ORT GenAI layout): an empty cache is a prefill, and then
        // total_sequence = sequence, which the sequence default below also gives.
        d.value = 0;
        d.reason = QObject::tr("empty KV cache (prefill)");
        return d;
    }
    if (has({"seq", "len", "token", "time", "frames"})) {
        d.value = 128;
        d.reason = QObject::tr("sequence length");
        return d;
    }
    // An image [N, C, H, W] with C in {1, 3, 4}: a side of 224, or 320 across a text line's height <= 64.
    if (shape.size() == 4 && (first.axis == 2 || first.axis == 3) && shape[1].known() &&
        (shape[1].value == 1 || shape[1].value == 3 || shape[1].value == 4)) {
        const ir::Dim& other = shape[first.axis == 2 ? 3 : 2];
        if (first.axis == 3 && other.known() && other.value <= 64) {
            d.value = 320;
            d.reason = QObject::tr("text-line image width beside a height of %1").arg(other.value);
        } else if (other.known()) {
            d.value = other.value;
            d.reason = QObject::tr("square image");
        } else {
            d.value = 224;
            d.reason = QObject::tr("image side");
        }
        return d;
    }
    d.value = 1;
    d.reason = QObject::tr("no better guess");
    return d;
}

QString settingsGroup(const QString& modelPath) {
    const QByteArray key = QFileInfo(modelPath).absoluteFilePath().toUtf8();
    return "inputDims/" + QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha1).toHex().left(16));
}

} // namespace

QString inputDimSourceName(InputDim::Source source) {
    switch (source) {
    case InputDim::Source::CommandLine: return QObject::tr("command line");
    case InputDim::Source::Remembered: return QObject::tr("remembered for this model");
    case InputDim::Source::Metadata: return QObject::tr("model metadata");
    case InputDim::Source::ValueInfo: return QObject::tr("value_info");
    case InputDim::Source::Default: break;
    }
    return QObject::tr("default");
}

QStringList nameAnonymousInputDims(ir::Graph& graph) {
    QStringList named;
    for (const auto& input : graph.realInputs()) {
        ir::Value* v = graph.findValue(input);
        if (!v || !v->shape) continue;
        for (size_t a = 0; a < v->shape->size(); ++a) {
            ir::Dim& d = (*v->shape)[a];
            if (d.known() || !d.symbol.empty()) continue;
            d.symbol = input + "_dim" + std::to_string(a);
            named << QString::fromStdString(d.symbol);
        }
    }
    return named;
}

QVector<InputDim> proposeInputDims(const ir::Model& model, const std::map<std::string, int64_t>& commandLine,
                                   const QMap<QString, qint64>& remembered) {
    const ir::Graph& graph = *model.graph;
    std::map<std::string, std::vector<Use>> uses;
    for (const auto& input : graph.realInputs()) {
        const ir::Value* v = graph.findValue(input);
        if (!v || !v->shape) continue;
        for (size_t a = 0; a < v->shape->size(); ++a) {
            const ir::Dim& d = (*v->shape)[a];
            if (!d.known() && !d.symbol.empty()) uses[d.symbol].push_back({input, a, v});
        }
    }
    QVector<InputDim> out;
    for (const auto& [symbol, list] : uses) {
        InputDim d;
        const QString sym = QString::fromStdString(symbol);
        QStringList where;
        for (const Use& u : list) where << QStringLiteral("%1[%2]").arg(QString::fromStdString(u.input)).arg(u.axis);
        if (auto c = commandLine.find(symbol); c != commandLine.end()) {
            d.value = c->second;
            d.source = InputDim::Source::CommandLine;
        } else if (remembered.contains(sym)) {
            d.value = remembered.value(sym);
            d.source = InputDim::Source::Remembered;
        } else if (auto m = metadataDim(model, symbol)) {
            d.value = *m;
            d.source = InputDim::Source::Metadata;
        } else {
            std::optional<int64_t> vi;
            for (const Use& u : list)
                if (!vi) vi = valueInfoDim(graph, u);
            if (vi) {
                d.value = *vi;
                d.source = InputDim::Source::ValueInfo;
            } else {
                d = defaultDim(symbol, list);
            }
        }
        d.symbol = sym;
        d.usedBy = where.join(", ");
        out.push_back(d);
    }
    return out; // std::map order: sorted by symbol
}

bool inputDimsSettled(const QVector<InputDim>& dims) {
    return std::all_of(dims.begin(), dims.end(), [](const InputDim& d) {
        return d.source == InputDim::Source::CommandLine || d.source == InputDim::Source::Remembered;
    });
}

std::map<std::string, int64_t> toDimMap(const QVector<InputDim>& dims) {
    std::map<std::string, int64_t> m;
    for (const InputDim& d : dims) m[d.symbol.toStdString()] = d.value;
    return m;
}

QString describeInputDims(const QVector<InputDim>& dims) {
    QStringList parts;
    for (const InputDim& d : dims) parts << QStringLiteral("%1=%2").arg(d.symbol).arg(d.value);
    return parts.join(", ");
}

QMap<QString, qint64> rememberedInputDims(QSettings& settings, const QString& modelPath) {
    QMap<QString, qint64> out;
    settings.beginGroup(settingsGroup(modelPath));
    // Symbols may hold '/' or other key syntax: stored as a list of [symbol, value] pairs, not as keys.
    const QVariantList pairs = settings.value("dims").toList();
    for (const QVariant& p : pairs) {
        const QStringList kv = p.toStringList();
        bool ok = false;
        const qint64 v = kv.size() == 2 ? kv[1].toLongLong(&ok) : 0;
        if (ok && v > 0) out.insert(kv[0], v);
    }
    settings.endGroup();
    return out;
}

void rememberInputDims(QSettings& settings, const QString& modelPath, const std::map<std::string, int64_t>& dims) {
    settings.beginGroup(settingsGroup(modelPath));
    QVariantList pairs;
    for (const auto& [symbol, value] : dims)
        pairs << QVariant(QStringList{QString::fromStdString(symbol), QString::number(value)});
    settings.setValue("path", QFileInfo(modelPath).absoluteFilePath());
    settings.setValue("dims", pairs);
    settings.endGroup();
}

bool parseDimSpecs(const QStringList& specs, std::map<std::string, int64_t>& out, QString* error) {
    for (const QString& spec : specs) {
        const int eq = spec.lastIndexOf('=');
        bool ok = false;
        const qint64 v = eq > 0 ? spec.mid(eq + 1).trimmed().toLongLong(&ok) : 0;
        if (eq <= 0 || !ok || v <= 0) {
            if (error) *error = QObject::tr("--dim %1: expected NAME=V with a positive integer V (e.g. --dim W=320)").arg(spec);
            return false;
        }
        out[spec.left(eq).trimmed().toStdString()] = v;
    }
    return true;
}

} // namespace opstudio::ui
