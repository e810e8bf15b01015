#include "graph/graph_panel.h"

#include "graph/graph_scene.h"
#include "graph/graph_view.h"
#include "graph/node_item.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QShortcut>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

namespace opstudio::ui {

GraphPanel::GraphPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);

    m_crumbBar = new QWidget(this);
    m_crumbBar->setObjectName("breadcrumb");
    m_crumbBar->setStyleSheet("#breadcrumb { background: #eceff2; border-bottom: 1px solid #d5dade; }");
    m_crumbLayout = new QHBoxLayout(m_crumbBar);
    m_crumbLayout->setContentsMargins(8, 2, 8, 2);
    m_crumbBar->hide();
    layout->addWidget(m_crumbBar);

    m_scene = new GraphScene(this);
    m_view = new GraphView(this);
    m_view->setGraphScene(m_scene);
    layout->addWidget(m_view, 1);

    m_findBar = new QWidget(this);
    auto* fl = new QHBoxLayout(m_findBar);
    fl->setContentsMargins(8, 4, 8, 4);
    fl->addWidget(new QLabel(tr("Find:"), m_findBar));
    m_findEdit = new QLineEdit(m_findBar);
    m_findEdit->setPlaceholderText(tr("node name or op type"));
    m_findEdit->setClearButtonEnabled(true);
    fl->addWidget(m_findEdit, 1);
    auto* prev = new QToolButton(m_findBar);
    prev->setText(tr("Previous"));
    prev->setToolTip(tr("Previous match (Shift+Enter)"));
    auto* next = new QToolButton(m_findBar);
    next->setText(tr("Next"));
    next->setToolTip(tr("Next match (Enter)"));
    m_findCount = new QLabel(m_findBar);
    m_findCount->setMinimumWidth(90);
    auto* close = new QToolButton(m_findBar);
    close->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
    close->setAutoRaise(true);
    fl->addWidget(prev);
    fl->addWidget(next);
    fl->addWidget(m_findCount);
    fl->addWidget(close);
    m_findBar->hide();
    layout->addWidget(m_findBar);

    connect(m_findEdit, &QLineEdit::textChanged, this, &GraphPanel::updateMatches);
    connect(m_findEdit, &QLineEdit::returnPressed, this, [this] { findNext(); });
    connect(next, &QToolButton::clicked, this, [this] { findNext(); });
    connect(prev, &QToolButton::clicked, this, [this] { findPrevious(); });
    connect(close, &QToolButton::clicked, this, &GraphPanel::hideFindBar);
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), m_findBar, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
    connect(esc, &QShortcut::activated, this, &GraphPanel::hideFindBar);
    auto* shiftEnter = new QShortcut(QKeySequence(Qt::SHIFT | Qt::Key_Return), m_findEdit, nullptr, nullptr, Qt::WidgetShortcut);
    connect(shiftEnter, &QShortcut::activated, this, [this] { findPrevious(); });
}

void GraphPanel::setBreadcrumb(const QStringList& path) {
    while (QLayoutItem* item = m_crumbLayout->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    m_crumbBar->setVisible(path.size() > 1);
    for (int i = 0; i < path.size(); ++i) {
        if (i > 0) m_crumbLayout->addWidget(new QLabel(QStringLiteral("›"), m_crumbBar));
        auto* b = new QToolButton(m_crumbBar);
        b->setText(path[i]);
        b->setAutoRaise(true);
        b->setEnabled(i + 1 < path.size());
        connect(b, &QToolButton::clicked, this, [this, i] { Q_EMIT breadcrumbActivated(i); });
        m_crumbLayout->addWidget(b);
    }
    m_crumbLayout->addStretch(1);
    updateMatches();
}

void GraphPanel::showFindBar() {
    m_findBar->show();
    m_findEdit->setFocus();
    m_findEdit->selectAll();
}

void GraphPanel::hideFindBar() {
    m_findBar->hide();
    m_scene->setMatches({});
    m_view->setFocus();
}

void GraphPanel::updateMatches() {
    m_matches = m_scene->find(m_findEdit->text());
    m_scene->setMatches(m_matches);
    m_current = -1;
    if (m_findEdit->text().isEmpty()) m_findCount->clear();
    else m_findCount->setText(m_matches.isEmpty() ? tr("no matches") : tr("%n match(es)", nullptr, m_matches.size()));
}

bool GraphPanel::stepMatch(int delta) {
    if (m_matches.isEmpty()) return false;
    m_current = m_current < 0 ? (delta > 0 ? 0 : m_matches.size() - 1) : (m_current + delta + m_matches.size()) % m_matches.size();
    const ir::NodeId id = m_matches[m_current];
    m_findCount->setText(tr("%1 of %2").arg(m_current + 1).arg(m_matches.size()));
    if (NodeItem* item = m_scene->itemForNode(id)) m_view->focusOn(item->boundingRect());
    Q_EMIT findActivated(id);
    return true;
}

bool GraphPanel::findNext() { return stepMatch(1); }
bool GraphPanel::findPrevious() { return stepMatch(-1); }

} // namespace opstudio::ui
