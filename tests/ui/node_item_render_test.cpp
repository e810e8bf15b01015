// Pixels of one unprofiled node box: the category header band is filled and the op-type title
// on it is legible. (The band was once a two-subpath QPainterPath under the odd-even fill rule:
// only its rounded top 5 px were painted, and the white title sat on the white body.)
#include "graph/node_item.h"
#include "op_metadata.h"
#include "ui_test_app.h"

#include <QImage>
#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

using namespace opstudio;
using namespace opstudio::ui;

namespace {

// WCAG AA for normal-size text.
constexpr double kMinTitleContrast = 4.5;
// WCAG's minimum for large text and graphics: what an antialiased glyph pixel must at least reach.
constexpr double kClearlyDistinct = 3.0;
// Header geometry painted by NodeItem (kTitleHeight in node_item.cpp).
constexpr int kHeaderHeight = 20;
constexpr int kMargin = 10;
const QRectF kBox(0, 0, 140, 56);

QImage paintNode(const NodeVisual& visual) {
    NodeItem item(0, &visual, ir::NodeId{1}, /*isValueBox=*/false, kBox);
    QImage image(int(kBox.width()) + 2 * kMargin, int(kBox.height()) + 2 * kMargin, QImage::Format_ARGB32);
    image.fill(QColor("#f7f8fa")); // the scene background
    QPainter p(&image);
    p.setRenderHint(QPainter::Antialiasing);
    p.setRenderHint(QPainter::TextAntialiasing);
    p.translate(kMargin, kMargin);
    QStyleOptionGraphicsItem option; // identity transform: level of detail 1, full text
    item.paint(&p, &option, nullptr);
    p.end();
    return image;
}

bool near(QColor a, QColor b, int tol = 6) {
    return std::abs(a.red() - b.red()) <= tol && std::abs(a.green() - b.green()) <= tol &&
           std::abs(a.blue() - b.blue()) <= tol;
}

} // namespace

TEST(NodeItemRender, UnprofiledHeaderIsFilledWithCategoryColourAndTitleIsLegible) {
    uitest::app();
    initResources();
    const OpMetadata& meta = OpMetadata::instance();
    ASSERT_GT(meta.categories().size(), 5);
    for (const OpCategory& cat : meta.categories()) {
        SCOPED_TRACE(cat.id.toStdString() + " " + cat.color.name().toStdString());
        NodeVisual titled;
        titled.title = QStringLiteral("Conv");
        titled.subtitle = QStringLiteral("3x3 /2");
        titled.name = QStringLiteral("conv_0");
        titled.color = cat.color;
        NodeVisual untitled = titled;
        untitled.title.clear();
        const QImage a = paintNode(titled);
        const QImage b = paintNode(untitled);

        // Header band, inset past the border and the rounded corners, without a title: all of it
        // is the category colour (the odd-even bug left everything below y = 5 white).
        int header = 0, accent = 0;
        for (int y = kMargin + 2; y < kMargin + kHeaderHeight - 1; ++y) {
            for (int x = kMargin + 6; x < kMargin + int(kBox.width()) - 6; ++x) {
                ++header;
                if (near(b.pixelColor(x, y), cat.color)) ++accent;
            }
        }
        EXPECT_EQ(accent, header) << "header pixels in the category colour";
        // Just below the band the body is white again (the band does not cover the box).
        EXPECT_TRUE(near(b.pixelColor(kMargin + 6, kMargin + kHeaderHeight + 4), Qt::white));

        // Title glyphs = pixels that differ between the two renders, all inside the header band;
        // the fully inked ones must contrast with the header colour.
        int glyph = 0, strong = 0, outside = 0;
        double best = 1;
        for (int y = 0; y < a.height(); ++y) {
            for (int x = 0; x < a.width(); ++x) {
                if (a.pixel(x, y) == b.pixel(x, y)) continue;
                ++glyph;
                if (y < kMargin || y >= kMargin + kHeaderHeight + 1) ++outside;
                const double c = NodeItem::contrastRatio(a.pixelColor(x, y), cat.color);
                best = std::max(best, c);
                if (c >= kClearlyDistinct) ++strong;
            }
        }
        EXPECT_GT(glyph, 40) << "the title paints visible pixels";
        EXPECT_EQ(outside, 0) << "the title stays in the header";
        // Solid ink reaches the text contrast; antialiased edges blend into the header, but the stems of
        // a bold 9 pt "Conv" make a good share of the glyph pixels clearly distinct.
        EXPECT_GE(best, kMinTitleContrast);
        EXPECT_GT(strong, glyph / 4) << strong << " of " << glyph << " title pixels reach contrast " << kClearlyDistinct;
    }
}

TEST(NodeItemRender, TitleInkIsTheMoreContrastingOfWhiteAndDark) {
    uitest::app();
    initResources();
    EXPECT_EQ(NodeItem::titleColorOn(QColor("#2f6db5")), QColor(Qt::white));
    EXPECT_EQ(NodeItem::titleColorOn(QColor("#f0e060")), QColor("#1d2329"));
    EXPECT_NEAR(NodeItem::contrastRatio(Qt::white, Qt::black), 21.0, 1e-9);
    EXPECT_NEAR(NodeItem::contrastRatio(QColor("#777777"), QColor("#777777")), 1.0, 1e-9);
    for (const OpCategory& cat : OpMetadata::instance().categories())
        EXPECT_GE(NodeItem::contrastRatio(NodeItem::titleColorOn(cat.color), cat.color), kMinTitleContrast)
            << cat.id.toStdString() << " " << cat.color.name().toStdString();
}
