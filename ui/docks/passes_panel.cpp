#include "docks/passes_panel.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QStyledItemDelegate>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>
#include <utility>

namespace opstudio::ui {

namespace {

constexpr int kPassNameRole = Qt::UserRole;
constexpr int kDescriptionRole = Qt::UserRole + 1;
constexpr int kExactRole = Qt::UserRole + 2;

const passes::PassCategory kCategories[] = {passes::PassCategory::Cleanup, passes::PassCategory::Fusion,
                                            passes::PassCategory::Quantization,
                                            passes::PassCategory::Pruning};

QString categoryTitle(passes::PassCategory c) {
    switch (c) {
    case passes::PassCategory::Cleanup:
        return QObject::tr("Clean-up");
    case passes::PassCategory::Fusion:
        return QObject::tr("Fusion");
    case passes::PassCategory::Quantization:
        return QObject::tr("Quantization");
    case passes::PassCategory::Pruning:
        return QObject::tr("Pruning");
    }
    return {};
}

struct PresetEntry {
    const char* key;
    const char* label;
};
const PresetEntry kPresets[] = {
    {"safe-fusions", "Safe fusions"}, {"all-fusions", "All fusions"}, {"cleanup", "Clean-up"}};

/// Pass rows: the name with the one-line description under it in grey; the badge column draws a pill.
class PassItemDelegate final : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override {
        QSize s = QStyledItemDelegate::sizeHint(option, index);
        if (index.column() == 0 && !index.data(kDescriptionRole).toString().isEmpty())
            s.setHeight(option.fontMetrics.height() * 2 + 8);
        return s;
    }

    void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
        const QString description = index.data(kDescriptionRole).toString();
        if (index.column() == 1) {
            QStyleOptionViewItem o = option;
            initStyleOption(&o, index);
            o.text.clear();
            QApplication::style()->drawControl(QStyle::CE_ItemViewItem, &o, p);
            const QVariant exact = index.data(kExactRole);
            if (!exact.isValid()) return;
            const bool isExact = exact.toBool();
            const QString text = isExact ? tr("exact") : tr("lossy");
            QFont f = option.font;
            f.setPointSizeF(f.pointSizeF() * 0.85);
            const QFontMetrics fm(f);
            const int w = fm.horizontalAdvance(text) + 12, h = fm.height() + 2;
            const QRect r(option.rect.left() + 4, option.rect.center().y() - h / 2, w, h);
            p->save();
            p->setRenderHint(QPainter::Antialiasing);
            p->setPen(Qt::NoPen);
            p->setBrush(isExact ? QColor("#e6f4ea") : QColor("#fef7e0"));
            p->drawRoundedRect(r, h / 2.0, h / 2.0);
            p->setPen(isExact ? QColor("#137333") : QColor("#b06000"));
            p->setFont(f);
            p->drawText(r, Qt::AlignCenter, text);
            p->restore();
            return;
        }
        if (description.isEmpty()) {
            QStyledItemDelegate::paint(p, option, index);
            return;
        }
        QStyleOptionViewItem o = option;
        initStyleOption(&o, index);
        const QString name = o.text;
        o.text.clear();
        QStyle* style = o.widget ? o.widget->style() : QApplication::style();
        style->drawControl(QStyle::CE_ItemViewItem, &o, p, o.widget);
        const QRect textRect = style->subElementRect(QStyle::SE_ItemViewItemText, &o, o.widget);
        const int lh = option.fontMetrics.height();
        const bool selected = option.state & QStyle::State_Selected;
        p->save();
        QFont f = option.font;
        p->setFont(f);
        p->setPen(selected ? option.palette.color(QPalette::HighlightedText)
                           : option.palette.color(QPalette::Text));
        const QRect top(textRect.left(), textRect.top() + 3, textRect.width(), lh);
        p->drawText(top, Qt::AlignLeft | Qt::AlignVCenter, name);
        f.setPointSizeF(f.pointSizeF() * 0.9);
        p->setFont(f);
        p->setPen(selected ? option.palette.color(QPalette::HighlightedText) : QColor("#6b7280"));
        const QRect bottom(textRect.left(), top.bottom() + 1, textRect.width(), lh);
        p->drawText(bottom, Qt::AlignLeft | Qt::AlignVCenter,
                    QFontMetrics(f).elidedText(description, Qt::ElideRight, bottom.width()));
        p->restore();
    }
};

QStringList splitNodeList(const QString& text) {
    QStringList out;
    for (const QString& s : text.split(';')) {
        const QString t = s.trimmed();
        if (!t.isEmpty()) out << t;
    }
    return out;
}

} // namespace

PassesPanel::PassesPanel(QWidget* parent) : PassesPanel(passes::PassRegistry::global(), parent) {}

PassesPanel::PassesPanel(const passes::PassRegistry& registry, QWidget* parent)
    : QWidget(parent), m_registry(registry), m_job(new OptimizeJob(this)) {
    build();
    connect(m_job, &OptimizeJob::progress, m_progress, &QProgressBar::setValue);
    connect(m_job, &OptimizeJob::stageChanged, this, [this](const QString& s) {
        m_stage->setText(s);
        Q_EMIT stageChanged(s);
    });
    connect(m_job, &OptimizeJob::finished, this, [this](std::shared_ptr<Experiment> e) {
        setBusy(false);
        if (std::exchange(m_discard, false)) {
            m_stage->setText(tr("Cancelled (model changed)"));
            return;
        }
        m_stage->setText(
            tr("Done: %1 → %2 nodes").arg(m_model ? m_model->graph->nodeCount() : 0).arg(e->nodeCount()));
        e->name = m_runName;
        if (!m_profile && e->baselineProfile) m_profile = e->baselineProfile; // later runs reuse it
        Q_EMIT experimentFinished(std::move(e));
    });
    connect(m_job, &OptimizeJob::failed, this, [this](const QString& message) {
        setBusy(false);
        if (std::exchange(m_discard, false)) return;
        m_stage->setText(tr("Failed: %1").arg(message));
        m_stage->setToolTip(message);
        Q_EMIT runFailed(message);
    });
    connect(m_job, &OptimizeJob::cancelled, this, [this] {
        setBusy(false);
        m_discard = false;
        m_stage->setText(tr("Cancelled"));
        Q_EMIT runCancelled();
    });
    applyPreset(QStringLiteral("safe-fusions"));
    updateState();
}

PassesPanel::~PassesPanel() {
    m_job->cancel();
    m_job->wait();
}

void PassesPanel::build() {
    auto* top = new QHBoxLayout;
    top->setContentsMargins(0, 0, 0, 0);
    top->addWidget(new QLabel(tr("Preset:")));
    m_preset = new QComboBox;
    for (const auto& p : kPresets)
        m_preset->addItem(tr(p.label), QString::fromLatin1(p.key));
    m_preset->addItem(tr("Custom"), QString());
    m_preset->setToolTip(
        tr("Safe fusions: clean-up and exact fusions only (outputs unchanged up to rounding).\n"
           "All fusions: also approximate fusions.\nClean-up: graph clean-up only."));
    top->addWidget(m_preset, 1);
    m_load = new QToolButton;
    m_load->setIcon(style()->standardIcon(QStyle::SP_DialogOpenButton));
    m_load->setToolTip(tr("Load recipe (JSON)…"));
    m_save = new QToolButton;
    m_save->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
    m_save->setToolTip(tr("Save recipe (JSON)…"));
    top->addWidget(m_load);
    top->addWidget(m_save);

    m_tree = new QTreeWidget;
    m_tree->setColumnCount(2);
    m_tree->setHeaderHidden(true);
    m_tree->setRootIsDecorated(true);
    m_tree->setUniformRowHeights(false);
    m_tree->setItemDelegate(new PassItemDelegate(m_tree));
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_tree->header()->setSectionResizeMode(1, QHeaderView::Fixed);
    m_tree->header()->resizeSection(1, 56);

    m_params = new QStackedWidget;
    auto* none = new QLabel(tr("Select a pass to see its parameters."));
    none->setAlignment(Qt::AlignCenter);
    none->setStyleSheet("color: #6b7280;");
    m_params->addWidget(none);

    for (passes::PassCategory c : kCategories) {
        QList<const passes::PassInfo*> infos;
        for (const auto& info : m_registry.passes())
            if (info.category == c) infos << &info;
        auto* cat = new QTreeWidgetItem(m_tree);
        cat->setText(0, QStringLiteral("%1 (%2)").arg(categoryTitle(c)).arg(infos.size()));
        QFont bold = cat->font(0);
        bold.setBold(true);
        cat->setFont(0, bold);
        cat->setFirstColumnSpanned(true);
        if (infos.isEmpty()) {
            cat->setFlags(Qt::ItemIsEnabled);
            cat->setForeground(0, QColor("#9aa0a6"));
            cat->setToolTip(0, tr("No %1 passes in this build yet.").arg(categoryTitle(c).toLower()));
            continue;
        }
        cat->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | Qt::ItemIsAutoTristate);
        cat->setCheckState(0, Qt::Unchecked);
        for (const passes::PassInfo* info : infos) {
            const QString name = QString::fromStdString(info->name);
            auto* item = new QTreeWidgetItem(cat);
            item->setText(0, name);
            item->setData(0, kPassNameRole, name);
            item->setData(0, kDescriptionRole, QString::fromStdString(info->description));
            item->setData(1, kExactRole, info->exact);
            item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable);
            item->setCheckState(0, Qt::Unchecked);
            QString tip =
                QStringLiteral("<b>%1</b><br>%2<br><i>%3</i>")
                    .arg(name.toHtmlEscaped(), QString::fromStdString(info->description).toHtmlEscaped(),
                         info->exact ? tr("Exact: outputs unchanged up to float rounding.")
                                     : tr("Lossy: outputs may change; check the error columns."));
            item->setToolTip(0, tip);
            item->setToolTip(1, info->exact ? tr("Exact rewrite") : tr("Changes outputs (approximate)"));
            m_items.insert(name, item);
            m_pages.insert(name, m_params->addWidget(buildParamPage(*info)));
        }
        cat->setExpanded(true);
    }

    auto* paramBox = new QWidget;
    auto* paramLayout = new QVBoxLayout(paramBox);
    paramLayout->setContentsMargins(0, 4, 0, 0);
    m_paramTitle = new QLabel(tr("Parameters"));
    QFont tf = m_paramTitle->font();
    tf.setBold(true);
    m_paramTitle->setFont(tf);
    paramLayout->addWidget(m_paramTitle);
    paramLayout->addWidget(m_params, 1);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_tree);
    split->addWidget(paramBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);

    m_summary = new QLabel;
    m_summary->setWordWrap(true);
    m_summary->setStyleSheet("color: #4b5563;");
    m_stage = new QLabel;
    m_stage->setStyleSheet("color: #4b5563;");
    m_progress = new QProgressBar;
    m_progress->setRange(0, 100);
    m_progress->setTextVisible(false);
    m_progress->setMaximumHeight(6);
    m_run = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Run"));
    m_run->setDefault(true);
    m_run->setToolTip(
        tr("Run the checked passes on a copy of the model, profile it and compare with the baseline"));
    m_cancel = new QPushButton(tr("Cancel"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_stage, 1);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_run);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(top);
    layout->addWidget(split, 1);
    layout->addWidget(m_summary);
    layout->addWidget(m_progress);
    layout->addLayout(buttons);

    connect(m_preset, &QComboBox::activated, this, [this](int i) {
        const QString key = m_preset->itemData(i).toString();
        if (!key.isEmpty()) applyPreset(key);
    });
    connect(m_tree, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem*, int column) {
        if (column == 0 && !m_syncing) onChecksChanged();
    });
    connect(m_tree, &QTreeWidget::currentItemChanged, this,
            [this](QTreeWidgetItem* item) { showParamsOf(item); });
    connect(m_run, &QPushButton::clicked, this, &PassesPanel::run);
    connect(m_cancel, &QPushButton::clicked, this, &PassesPanel::cancel);
    connect(m_load, &QToolButton::clicked, this, &PassesPanel::loadRecipeDialog);
    connect(m_save, &QToolButton::clicked, this, &PassesPanel::saveRecipeDialog);
}

QWidget* PassesPanel::buildParamPage(const passes::PassInfo& info) {
    auto* page = new QWidget;
    auto* form = new QFormLayout(page);
    form->setContentsMargins(4, 2, 4, 2);
    form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
    const QString pass = QString::fromStdString(info.name);
    if (info.params.empty()) {
        auto* l = new QLabel(tr("No parameters."));
        l->setStyleSheet("color: #6b7280;");
        form->addRow(l);
    }
    for (const auto& spec : info.params) {
        const QString name = QString::fromStdString(spec.name);
        const QString tip = QString::fromStdString(spec.description);
        QWidget* w = nullptr;
        switch (spec.type) {
        case passes::ParamSpec::Type::Bool: {
            auto* c = new QCheckBox;
            connect(c, &QCheckBox::toggled, this, [this] { updateState(); });
            w = c;
            break;
        }
        case passes::ParamSpec::Type::Int: {
            auto* s = new QSpinBox;
            const double lo = spec.min,
                         hi = spec.max > spec.min ? spec.max : double(std::numeric_limits<int>::max());
            s->setRange(static_cast<int>(std::max<double>(lo, std::numeric_limits<int>::min())),
                        static_cast<int>(std::min<double>(hi, std::numeric_limits<int>::max())));
            connect(s, &QSpinBox::valueChanged, this, [this] { updateState(); });
            w = s;
            break;
        }
        case passes::ParamSpec::Type::Float: {
            auto* s = new QDoubleSpinBox;
            s->setDecimals(6);
            s->setRange(spec.min, spec.max > spec.min ? spec.max : 1e9);
            const double span = s->maximum() - s->minimum();
            s->setSingleStep(span <= 1 ? 0.01 : span <= 100 ? 0.1 : 1);
            connect(s, &QDoubleSpinBox::valueChanged, this, [this] { updateState(); });
            w = s;
            break;
        }
        case passes::ParamSpec::Type::Enum: {
            auto* c = new QComboBox;
            for (const auto& choice : spec.choices)
                c->addItem(QString::fromStdString(choice));
            connect(c, &QComboBox::currentIndexChanged, this, [this] { updateState(); });
            w = c;
            break;
        }
        case passes::ParamSpec::Type::NodeList: {
            auto* e = new QLineEdit;
            e->setPlaceholderText(tr("node names separated by ';'"));
            e->setClearButtonEnabled(true);
            connect(e, &QLineEdit::textChanged, this, [this] { updateState(); });
            w = e;
            break;
        }
        }
        w->setObjectName(pass + "/" + name);
        w->setToolTip(tip);
        setParamValue(spec, w, spec.defaultValue);
        auto* label = new QLabel(name + ":");
        label->setToolTip(tip);
        form->addRow(label, w);
        m_paramWidgets[pass].insert(name, w);
    }
    return page;
}

void PassesPanel::setParamValue(const passes::ParamSpec& spec, QWidget* w, const passes::ParamValue& v) {
    auto asDouble = [&]() -> double {
        if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
        if (auto* d = std::get_if<double>(&v)) return *d;
        if (auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
        return 0;
    };
    switch (spec.type) {
    case passes::ParamSpec::Type::Bool:
        if (auto* b = std::get_if<bool>(&v)) static_cast<QCheckBox*>(w)->setChecked(*b);
        break;
    case passes::ParamSpec::Type::Int:
        static_cast<QSpinBox*>(w)->setValue(static_cast<int>(asDouble()));
        break;
    case passes::ParamSpec::Type::Float:
        static_cast<QDoubleSpinBox*>(w)->setValue(asDouble());
        break;
    case passes::ParamSpec::Type::Enum:
        if (auto* s = std::get_if<std::string>(&v)) {
            auto* c = static_cast<QComboBox*>(w);
            const int i = c->findText(QString::fromStdString(*s));
            if (i >= 0) c->setCurrentIndex(i);
        }
        break;
    case passes::ParamSpec::Type::NodeList: {
        QStringList names;
        if (auto* l = std::get_if<std::vector<std::string>>(&v))
            for (const auto& n : *l)
                names << QString::fromStdString(n);
        else if (auto* s = std::get_if<std::string>(&v))
            names = splitNodeList(QString::fromStdString(*s));
        static_cast<QLineEdit*>(w)->setText(names.join(QStringLiteral("; ")));
        break;
    }
    }
}

passes::Params PassesPanel::paramsOf(const passes::PassInfo& info) const {
    passes::Params params(info.params);
    const auto widgets = m_paramWidgets.value(QString::fromStdString(info.name));
    for (const auto& spec : info.params) {
        QWidget* w = widgets.value(QString::fromStdString(spec.name));
        if (!w) continue;
        passes::ParamValue v;
        switch (spec.type) {
        case passes::ParamSpec::Type::Bool:
            v = static_cast<QCheckBox*>(w)->isChecked();
            break;
        case passes::ParamSpec::Type::Int:
            v = static_cast<int64_t>(static_cast<QSpinBox*>(w)->value());
            break;
        case passes::ParamSpec::Type::Float:
            v = static_cast<QDoubleSpinBox*>(w)->value();
            break;
        case passes::ParamSpec::Type::Enum:
            v = static_cast<QComboBox*>(w)->currentText().toStdString();
            break;
        case passes::ParamSpec::Type::NodeList: {
            std::vector<std::string> names;
            for (const QString& n : splitNodeList(static_cast<QLineEdit*>(w)->text()))
                names.push_back(n.toStdString());
            v = names;
            break;
        }
        }
        // Only values that differ from the default are recorded: recipes stay short and readable.
        bool same = v == spec.defaultValue;
        if (const auto* d = std::get_if<double>(&v))
            if (const auto* dd = std::get_if<double>(&spec.defaultValue)) same = std::fabs(*d - *dd) < 1e-12;
        if (!same) params.set(spec.name, v);
    }
    return params;
}

passes::Pipeline PassesPanel::pipeline() const {
    passes::Pipeline p;
    bool other = false;
    for (const auto& info : m_registry.passes())
        if (info.category == passes::PassCategory::Cleanup &&
            isPassChecked(QString::fromStdString(info.name)))
            p.steps.push_back({info.name, paramsOf(info)});
    const size_t cleanups = p.steps.size();
    for (passes::PassCategory c :
         {passes::PassCategory::Fusion, passes::PassCategory::Quantization, passes::PassCategory::Pruning})
        for (const auto& info : m_registry.passes())
            if (info.category == c && isPassChecked(QString::fromStdString(info.name))) {
                p.steps.push_back({info.name, paramsOf(info)});
                other = true;
            }
    // Fusions leave dead constants and Identity chains behind: clean up once more, as the presets do.
    if (other)
        for (size_t i = 0; i < cleanups; ++i)
            p.steps.push_back(p.steps[i]);
    return p;
}

void PassesPanel::setPipeline(const passes::Pipeline& pipeline) {
    m_syncing = true;
    for (auto* item : std::as_const(m_items))
        item->setCheckState(0, Qt::Unchecked);
    for (const auto& step : pipeline.steps) {
        const QString name = QString::fromStdString(step.pass);
        if (auto* item = m_items.value(name)) item->setCheckState(0, Qt::Checked);
        const passes::PassInfo* info = m_registry.find(step.pass);
        if (!info) continue;
        for (const auto& spec : info->params)
            if (QWidget* w = m_paramWidgets.value(name).value(QString::fromStdString(spec.name)))
                setParamValue(spec, w, step.params.get(spec.name));
    }
    m_syncing = false;
    onChecksChanged();
}

void PassesPanel::applyPreset(const QString& key) {
    passes::Pipeline p;
    try {
        p = passes::Pipeline::preset(key.toStdString());
    } catch (const Error&) {
        return;
    }
    // Presets come from the global registry; with another registry, match by category and exactness.
    if (&m_registry != &passes::PassRegistry::global()) {
        p.steps.clear();
        for (const auto& info : m_registry.passes()) {
            const bool take = info.category == passes::PassCategory::Cleanup ||
                              (key != "cleanup" && info.category == passes::PassCategory::Fusion &&
                               (key == "all-fusions" || info.exact));
            if (take) p.steps.push_back({info.name, passes::Params(info.params)});
        }
    }
    setPipeline(p);
}

QString PassesPanel::currentPreset() const {
    const int i = m_preset->currentIndex();
    return i >= 0 ? m_preset->itemData(i).toString() : QString();
}

bool PassesPanel::isPassChecked(const QString& pass) const {
    const auto* item = m_items.value(pass);
    return item && item->checkState(0) == Qt::Checked;
}

void PassesPanel::setPassChecked(const QString& pass, bool checked) {
    if (auto* item = m_items.value(pass)) item->setCheckState(0, checked ? Qt::Checked : Qt::Unchecked);
}

QWidget* PassesPanel::paramWidget(const QString& pass, const QString& param) const {
    return m_paramWidgets.value(pass).value(param);
}

void PassesPanel::onChecksChanged() {
    // Which preset (if any) do the checks match? Parameters at their defaults are part of a preset.
    QSet<QString> checked;
    for (auto it = m_items.cbegin(); it != m_items.cend(); ++it)
        if (it.value()->checkState(0) == Qt::Checked) checked.insert(it.key());
    int match = m_preset->count() - 1; // Custom
    for (int i = 0; i < m_preset->count() - 1; ++i) {
        QSet<QString> want;
        const QString key = m_preset->itemData(i).toString();
        for (const auto& info : m_registry.passes()) {
            const bool take = info.category == passes::PassCategory::Cleanup ||
                              (key != "cleanup" && info.category == passes::PassCategory::Fusion &&
                               (key == "all-fusions" || info.exact));
            if (take) want.insert(QString::fromStdString(info.name));
        }
        if (want == checked) {
            match = i;
            break;
        }
    }
    // "Safe fusions" and "All fusions" coincide when every fusion is exact; prefer the first.
    m_preset->setCurrentIndex(match);
    updateState();
}

void PassesPanel::showParamsOf(QTreeWidgetItem* item) {
    const QString pass = item ? item->data(0, kPassNameRole).toString() : QString();
    if (pass.isEmpty()) {
        m_params->setCurrentIndex(0);
        m_paramTitle->setText(tr("Parameters"));
        return;
    }
    m_params->setCurrentIndex(m_pages.value(pass, 0));
    m_paramTitle->setText(tr("Parameters — %1").arg(pass));
}

void PassesPanel::setModel(std::shared_ptr<const ir::Model> model,
                           std::shared_ptr<const profile::Profile> profile) {
    // A run on the previous model is of no use any more: cancel it and drop whatever it returns.
    if (model != m_model && m_job->isRunning()) {
        m_discard = true;
        m_job->cancel();
    }
    m_model = std::move(model);
    m_profile = std::move(profile);
    updateState();
}

void PassesPanel::setProfileSettings(const ProfileSettings& settings) {
    m_options.profile = settings;
}

bool PassesPanel::isRunning() const {
    return m_job->isRunning();
}

void PassesPanel::updateState() {
    if (m_syncing || !m_run) return; // !m_run: still building
    const passes::Pipeline p = pipeline();
    const bool running = m_job->isRunning();
    m_run->setEnabled(!running && m_model && !p.steps.empty());
    m_cancel->setEnabled(running);
    m_cancel->setVisible(running);
    m_progress->setVisible(running);
    if (!m_model)
        m_run->setToolTip(tr("Open a model first"));
    else if (p.steps.empty())
        m_run->setToolTip(tr("Check at least one pass"));
    else
        m_run->setToolTip(
            tr("Run the checked passes on a copy of the model, profile it and compare with the baseline"));
    m_summary->setText(
        p.steps.empty() ? tr("No pass checked.")
                        : tr("%n step(s): %1", "", static_cast<int>(p.steps.size())).arg(pipelineSummary(p)));
}

void PassesPanel::setBusy(bool busy) {
    m_tree->setEnabled(!busy);
    m_params->setEnabled(!busy);
    m_preset->setEnabled(!busy);
    m_load->setEnabled(!busy);
    if (busy) m_progress->setValue(0);
    updateState();
}

bool PassesPanel::run() {
    if (!m_model || m_job->isRunning()) return false;
    const passes::Pipeline p = pipeline();
    if (p.steps.empty()) return false;
    const int preset = m_preset->currentIndex();
    m_runName = preset >= 0 && preset < m_preset->count() - 1 ? m_preset->itemText(preset) : tr("Custom");
    m_stage->setToolTip({});
    if (!m_job->start(m_model, m_profile, p, m_options)) return false;
    setBusy(true);
    m_stage->setText(tr("Starting…"));
    Q_EMIT runStarted();
    return true;
}

void PassesPanel::cancel() {
    if (!m_job->isRunning()) return;
    m_stage->setText(tr("Cancelling…"));
    m_job->cancel();
}

bool PassesPanel::saveRecipe(const QString& path, QString* error) const {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        if (error) *error = f.errorString();
        return false;
    }
    const QByteArray text = QByteArray::fromStdString(pipeline().toJson() + "\n");
    if (f.write(text) != text.size()) {
        if (error) *error = f.errorString();
        return false;
    }
    return true;
}

bool PassesPanel::loadRecipe(const QString& path, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        if (error) *error = f.errorString();
        return false;
    }
    auto p = passes::Pipeline::fromJson(f.readAll().toStdString());
    if (!p.ok()) {
        if (error) *error = QString::fromStdString(p.error().describe());
        return false;
    }
    for (const auto& step : p.value().steps)
        if (!m_registry.find(step.pass)) {
            if (error) *error = tr("unknown pass '%1'").arg(QString::fromStdString(step.pass));
            return false;
        }
    setPipeline(p.value());
    return true;
}

void PassesPanel::saveRecipeDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save Recipe"), QStringLiteral("recipe.json"),
                                                      tr("Recipes (*.json)"));
    if (path.isEmpty()) return;
    QString error;
    if (!saveRecipe(path, &error)) reportError(tr("Cannot save recipe"), error);
}

void PassesPanel::loadRecipeDialog() {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Load Recipe"), {}, tr("Recipes (*.json);;All files (*)"));
    if (path.isEmpty()) return;
    QString error;
    if (!loadRecipe(path, &error)) reportError(tr("Cannot load recipe"), tr("%1\n\n%2").arg(path, error));
}

void PassesPanel::reportError(const QString& title, const QString& message) {
    QMessageBox::warning(this, title, message);
}

} // namespace opstudio::ui
