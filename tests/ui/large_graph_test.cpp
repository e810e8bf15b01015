// The graph view must stay usable at 10k nodes: layout, scene build and a full-view paint.
#include "graph/graph_drawing.h"
#include "graph/graph_scene.h"
#include "graph/graph_view.h"
#include "graph/node_item.h"
#include "ui_test_app.h"

#include <QElapsedTimer>
#include <QImage>
#include <QPainter>
#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

namespace {
// A residual ladder: x -> Conv -> Relu -> Add(x) -> ..., with a weight per Conv.
void buildLadder(ir::Graph& g, int blocks) {
    g.inputs.push_back("x0");
    g.value("x0").dtype = ir::DType::F32;
    g.value("x0").shape = ir::toValueShape({1, 8, 16, 16});
    std::string x = "x0";
    for (int b = 0; b < blocks; ++b) {
        const std::string s = std::to_string(b);
        g.initializers["w" + s] = ir::Tensor::zeros(ir::DType::F32, {8, 8, 3, 3});
        ir::Node conv;
        conv.name = "conv" + s;
        conv.opType = "Conv";
        conv.inputs = {x, "w" + s};
        conv.outputs = {"c" + s};
        ir::Attribute k;
        k.name = "kernel_shape";
        k.type = ir::AttrType::Ints;
        k.ints = {3, 3};
        conv.attributes.push_back(k);
        g.addNode(conv);
        ir::Node relu;
        relu.name = "relu" + s;
        relu.opType = "Relu";
        relu.inputs = {"c" + s};
        relu.outputs = {"r" + s};
        g.addNode(relu);
        ir::Node add;
        add.name = "add" + s;
        add.opType = "Add";
        add.inputs = {"r" + s, x};
        add.outputs = {"x" + std::to_string(b + 1)};
        g.addNode(add);
        x = add.outputs[0];
    }
    g.outputs.push_back(x);
    g.rebuildIndex();
}
} // namespace

TEST(LargeGraph, TenThousandNodesLayOutBuildAndPaint) {
    uitest::app();
    ir::Graph g;
    buildLadder(g, 3334); // 10,002 nodes
    ASSERT_GE(g.nodeCount(), 10000u);
    QElapsedTimer t;
    t.start();
    auto drawing = buildGraphDrawing(g, measureBoxMetrics());
    const qint64 layoutMs = t.restart();
    GraphScene scene;
    scene.setDrawing(drawing);
    const qint64 sceneMs = t.restart();
    GraphView view;
    view.setGraphScene(&scene);
    view.resize(1200, 800);
    view.fitToWindow();
    QImage img(1200, 800, QImage::Format_ARGB32_Premultiplied);
    {
        QPainter p(&img);
        view.render(&p);
    }
    const qint64 fitPaintMs = t.restart();
    view.resetTransform();
    {
        QPainter p(&img);
        view.render(&p);
    }
    const qint64 closePaintMs = t.restart();
    std::printf("10k nodes: layout %lld ms, scene %lld ms, paint fitted %lld ms, paint 1:1 %lld ms\n", layoutMs, sceneMs,
                fitPaintMs, closePaintMs);
    EXPECT_LT(sceneMs, 5000);
    EXPECT_LT(fitPaintMs, 5000);
    EXPECT_LT(closePaintMs, 1000);
    EXPECT_EQ(scene.find("conv3333").size(), 1);
}
