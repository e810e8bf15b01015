#pragma once
// Values for the symbolic dims of a model's inputs (an OCR recognizer's x: [N, 3, 48, W]) before it is
// profiled: where each prefilled value comes from, what the user chose last time for this model
// (QSettings), and `--dim NAME=V` from the command line. No widgets: the dialog shows what this computes.
#include "opstudio/ir/graph.h"

#include <QMap>
#include <QString>
#include <QStringList>
#include <QVector>

#include <map>

class QSettings;

namespace opstudio::ui {

/// One symbol of the real inputs and the value proposed for it.
struct InputDim {
    enum class Source { Default, ValueInfo, Metadata, Remembered, CommandLine };
    QString symbol;
    QString usedBy;   // "x[0], y[0]": input and axis of every use
    qint64 value = 1;
    Source source = Source::Default;
    QString reason;   // why this default ("image width beside a height of 48")
};

/// Where a prefilled value came from, in words ("model metadata", "remembered for this model").
QString inputDimSourceName(InputDim::Source source);

/// Gives every unnamed dynamic dim of a real input a name ("x_dim3") so that it can be set like a
/// named one (the runtime resolves dims by name). Returns the names given, empty when there were none.
QStringList nameAnonymousInputDims(ir::Graph& graph);

/// The symbols of the real inputs, each prefilled from, in order of precedence: `commandLine`,
/// `remembered`, model metadata (a metadata_props key equal to the symbol or "dim:" + symbol with a positive
/// integer value), value_info (a shape-preserving consumer of the input whose recorded shape has the axis
/// concrete), then a default from the symbol's name and place (batch 1, sequence 128, image side 224, a
/// text-line image's width 320 beside a height <= 64, else 1). Sorted by symbol.
QVector<InputDim> proposeInputDims(const ir::Model& model, const std::map<std::string, int64_t>& commandLine,
                                   const QMap<QString, qint64>& remembered);

/// True when nothing needs asking: every symbol was given on the command line or remembered.
bool inputDimsSettled(const QVector<InputDim>& dims);
std::map<std::string, int64_t> toDimMap(const QVector<InputDim>& dims);
/// "W=320, N=1".
QString describeInputDims(const QVector<InputDim>& dims);

/// Values chosen for the model at `modelPath`, kept in `settings` under inputDims/<key of the path>/.
QMap<QString, qint64> rememberedInputDims(QSettings& settings, const QString& modelPath);
void rememberInputDims(QSettings& settings, const QString& modelPath, const std::map<std::string, int64_t>& dims);

/// Parses "NAME=V" specs (--dim, repeatable). On a malformed spec returns false and sets `error`.
bool parseDimSpecs(const QStringList& specs, std::map<std::string, int64_t>& out, QString* error);

} // namespace opstudio::ui
