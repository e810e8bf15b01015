#include "graph/graph_drawing.h"
#include "graph/graph_scene.h"
#include "graph/node_item.h"
#include "ui_test_app.h"

#include "opstudio/onnx/model_io.h"

#include <gtest/gtest.h>

using namespace opstudio;
using namespace opstudio::ui;

TEST(GraphScene, OneItemPerBoxWithAttributesWeightsAndHeat) {
    uitest::app();
    auto model = onnxio::loadModel(OPSTUDIO_TEST_DATA_DIR "/models/resnet_bn_stack/model.onnx");
    ASSERT_TRUE(model.ok()) << model.error().describe();
    auto drawing = buildGraphDrawing(*model->graph, measureBoxMetrics());
    ASSERT_EQ(drawing->visuals.size(), static_cast<int>(drawing->input.items.size()));
    GraphScene scene;
    scene.setDrawing(drawing);
    int boxes = 0, convWithWeights = 0;
    QHash<ir::NodeId, double> share;
    model->graph->forEachNode([&](const ir::Node& n) {
        NodeItem* item = scene.itemForNode(n.id);
        if (!item) return; // folded Constant
        ++boxes;
        share.insert(n.id, n.opType == "Conv" ? 0.1 : 0.01);
        if (n.opType == "Conv" && !item->visual().weights.isEmpty() && item->visual().weights[0].startsWith("W ⟨")) ++convWithWeights;
    });
    EXPECT_GT(boxes, 5);
    EXPECT_GT(convWithWeights, 0);
    scene.setHeat(share);
    EXPECT_TRUE(scene.hasHeat());
    EXPECT_DOUBLE_EQ(scene.maxShare(), 0.1);
    EXPECT_FALSE(scene.find("conv").isEmpty());
    EXPECT_TRUE(scene.find("no such node").isEmpty());
    EXPECT_EQ(NodeItem::heatColor(0), QColor(0xff, 0xf7, 0xec));
    EXPECT_EQ(NodeItem::heatColor(1), QColor(0x7f, 0x00, 0x00));
}
