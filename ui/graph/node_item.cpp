#include "graph/node_item.h"

#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include <algorithm>
#include <cmath>

namespace opstudio::ui {

namespace {
const QFont& titleFont() {
    static const QFont f = [] {
        QFont font(QStringLiteral("DejaVu Sans"), 9);
        font.setBold(true);
        return font;
    }();
    return f;
}
const QFont& textFont() {
    static const QFont f(QStringLiteral("DejaVu Sans"), 8);
    return f;
}
constexpr double kTitleHeight = 20;
constexpr double kLineHeight = 15;
} // namespace

NodeItem::NodeItem(int index, const NodeVisual* visual, ir::NodeId node, bool isValueBox, const QRectF& rect)
    : m_index(index), m_visual(visual), m_node(node), m_isValueBox(isValueBox), m_rect(rect) {
    setFlag(ItemIsSelectable);
    setAcceptHoverEvents(false);
    QString tip = "<b>" + visual->title.toHtmlEscaped() + "</b>";
    if (!isValueBox) tip += "<br>" + visual->name.toHtmlEscaped();
    if (!visual->subtitle.isEmpty()) tip += "<br>" + visual->subtitle.toHtmlEscaped();
    setToolTip(tip);
}

QRectF NodeItem::boundingRect() const { return m_rect.adjusted(-3, -3, 3, 3); }

void NodeItem::setHeat(double heat, double share) {
    m_heat = heat;
    m_share = share;
    update();
}

void NodeItem::setHeatmapVisible(bool visible) {
    if (m_heatmap == visible) return;
    m_heatmap = visible;
    update();
}

void NodeItem::setMatched(bool matched) {
    if (m_matched == matched) return;
    m_matched = matched;
    update();
}

namespace {
// WCAG relative luminance and contrast ratio (1 = same, 21 = black on white).
double relativeLuminance(const QColor& c) {
    auto channel = [](double v) { return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF());
}
} // namespace

double NodeItem::contrastRatio(const QColor& a, const QColor& b) {
    const double la = relativeLuminance(a), lb = relativeLuminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

QColor NodeItem::titleColorOn(const QColor& header) {
    // White unless the dark ink reads better (light or mid-tone category colours).
    const QColor light(Qt::white), dark("#1d2329");
    return contrastRatio(light, header) >= contrastRatio(dark, header) ? light : dark;
}

QColor NodeItem::heatColor(double t) {
    t = std::clamp(t, 0.0, 1.0);
    // Three stops: #fff7ec (cold) → #fc8d3c (warm) → #7f0000 (hot).
    struct Stop { double at; int r, g, b; };
    static const Stop stops[] = {{0.0, 0xff, 0xf7, 0xec}, {0.5, 0xfc, 0x8d, 0x3c}, {1.0, 0x7f, 0x00, 0x00}};
    const Stop& a = t <= 0.5 ? stops[0] : stops[1];
    const Stop& b = t <= 0.5 ? stops[1] : stops[2];
    const double u = (t - a.at) / (b.at - a.at);
    return QColor(int(a.r + (b.r - a.r) * u), int(a.g + (b.g - a.g) * u), int(a.b + (b.b - a.b) * u));
}

void NodeItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
    const double lod = option->levelOfDetailFromTransform(p->worldTransform());
    const bool selected = isSelected();
    const bool heat = m_heatmap && m_heat >= 0 && !m_isValueBox;
    const QColor body = heat ? heatColor(m_heat) : (m_isValueBox ? QColor("#eef1f4") : QColor("#ffffff"));
    const QColor accent = m_visual->color;

    if (lod < 0.25) {
        // Far away: one flat rectangle, no text, no antialiasing.
        p->setRenderHint(QPainter::Antialiasing, false);
        p->setPen(selected ? QPen(QColor("#0a84ff"), 0) : Qt::NoPen);
        p->fillRect(m_rect, heat ? body : accent);
        if (selected) p->drawRect(m_rect);
        return;
    }

    const double radius = m_isValueBox ? m_rect.height() / 2 : 5;
    QPen border(selected ? QColor("#0a84ff") : m_matched ? QColor("#e0a800") : QColor("#9aa3ab"),
                selected || m_matched ? 3.0 : 1.0);
    border.setCosmetic(selected || m_matched);
    p->setPen(border);
    p->setBrush(body);
    p->drawRoundedRect(m_rect, radius, radius);

    // Category header band (or a strip on the left in heatmap mode, so the heat reads clearly).
    if (!m_isValueBox) {
        p->setPen(Qt::NoPen);
        p->setBrush(accent);
        if (heat) {
            p->drawRoundedRect(QRectF(m_rect.left(), m_rect.top(), 6, m_rect.height()), 3, 3);
        } else {
            // Rounded top corners, square bottom edge: the union of a rounded rect and the rect
            // below its top radius. Added as two subpaths of one path, the default odd-even fill
            // leaves their overlap (the whole lower band) empty, so unite them as areas.
            const QRectF top(m_rect.left(), m_rect.top(), m_rect.width(), kTitleHeight);
            QPainterPath rounded;
            rounded.addRoundedRect(top, radius, radius);
            QPainterPath square;
            square.addRect(QRectF(top.left(), top.top() + radius, top.width(), top.height() - radius));
            p->drawPath(rounded.united(square));
        }
    }
    if (lod < 0.4) return; // text would be unreadable

    const bool darkBody = heat && m_heat > 0.55;
    const QColor titleColor = m_isValueBox ? QColor("#1d2329") : (heat ? (darkBody ? Qt::white : QColor("#1d2329")) : titleColorOn(accent));
    const QColor textColor = darkBody ? QColor("#f4f4f4") : QColor("#39424a");
    p->setFont(titleFont());
    p->setPen(titleColor);
    const double left = m_rect.left() + (heat ? 10 : 8);
    const double width = m_rect.width() - (heat ? 16 : 14);
    QRectF line(left, m_rect.top() + 1, width, kTitleHeight);
    if (m_isValueBox) line = QRectF(left, m_rect.top() + 3, width, kTitleHeight);
    p->drawText(line, Qt::AlignVCenter | Qt::AlignHCenter, p->fontMetrics().elidedText(m_visual->title, Qt::ElideMiddle, int(width)));
    if (lod < 0.65 && !m_isValueBox) return;
    p->setFont(textFont());
    p->setPen(textColor);
    double y = m_rect.top() + kTitleHeight + (m_isValueBox ? 0 : 3);
    if (!m_visual->subtitle.isEmpty()) {
        p->drawText(QRectF(left, y, width, kLineHeight), Qt::AlignVCenter | Qt::AlignHCenter, m_visual->subtitle);
        y += kLineHeight;
    }
    for (const QString& w : m_visual->weights) {
        p->drawText(QRectF(left, y, width, kLineHeight), Qt::AlignVCenter | Qt::AlignLeft, w);
        y += kLineHeight;
    }
    if (m_visual->subgraphCount > 0) {
        const QString badge = QStringLiteral("▸ %1 %2 · %3 nodes")
                                  .arg(m_visual->subgraphCount)
                                  .arg(m_visual->subgraphCount == 1 ? "body" : "bodies")
                                  .arg(m_visual->subgraphNodes);
        QRectF r(left, y + 1, width, kLineHeight - 2);
        p->setPen(Qt::NoPen);
        p->setBrush(QColor("#e8e0f5"));
        p->drawRoundedRect(r, 4, 4);
        p->setPen(QColor("#4a2d80"));
        p->drawText(r, Qt::AlignCenter, badge);
    }
}

} // namespace opstudio::ui

namespace opstudio::ui {
BoxMetrics measureBoxMetrics() {
    static const QString sample = QStringLiteral("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789⟨×⟩");
    BoxMetrics m;
    m.titleCharWidth = QFontMetricsF(titleFont()).horizontalAdvance(sample) / sample.size() * 1.05;
    m.textCharWidth = QFontMetricsF(textFont()).horizontalAdvance(sample) / sample.size() * 1.05;
    m.titleHeight = kTitleHeight;
    m.lineHeight = kLineHeight;
    return m;
}
} // namespace opstudio::ui
