#pragma once
// The Graph pane: breadcrumb (main graph › If › then_branch), the view, and the find bar (Ctrl+F).
#include "opstudio/ir/graph.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QHBoxLayout;
class QToolButton;

namespace opstudio::ui {

class GraphScene;
class GraphView;

class GraphPanel : public QWidget {
    Q_OBJECT
public:
    explicit GraphPanel(QWidget* parent = nullptr);
    GraphView* view() const { return m_view; }
    GraphScene* scene() const { return m_scene; }

    /// Breadcrumb labels from the main graph to the shown body.
    void setBreadcrumb(const QStringList& path);
    void showFindBar();
    void hideFindBar();
    QLineEdit* findEdit() const { return m_findEdit; }
    /// Moves to the next/previous match of the find text; returns false when nothing matches.
    bool findNext();
    bool findPrevious();
    int matchCount() const { return m_matches.size(); }

Q_SIGNALS:
    /// A breadcrumb entry was clicked (0 = main graph).
    void breadcrumbActivated(int depth);
    /// Find moved to a node.
    void findActivated(ir::NodeId id);

private:
    void updateMatches();
    bool stepMatch(int delta);

    GraphScene* m_scene;
    GraphView* m_view;
    QWidget* m_crumbBar;
    QHBoxLayout* m_crumbLayout;
    QWidget* m_findBar;
    QLineEdit* m_findEdit;
    QLabel* m_findCount;
    QVector<ir::NodeId> m_matches;
    int m_current = -1;
};

} // namespace opstudio::ui
