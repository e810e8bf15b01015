#include "op_metadata.h"
#include "ui_test_app.h"

#include <gtest/gtest.h>

using namespace opstudio::ui;

TEST(OpMetadata, CoversCommonOperatorsWithDocsAndColours) {
    uitest::app();
    const OpMetadata& m = OpMetadata::instance();
    EXPECT_GT(m.opCount(), 150);
    const char* ops[] = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Relu", "Gelu", "Softmax", "BatchNormalization",
                         "LayerNormalization", "MaxPool", "GlobalAveragePool", "Add", "Mul", "Reshape", "Transpose",
                         "Concat", "Gather", "ReduceMean", "QuantizeLinear", "DequantizeLinear", "QLinearConv",
                         "MatMulInteger", "If", "Loop", "Scan", "LSTM", "Attention", "SkipLayerNormalization", "FusedConv",
                         "MatMulNBits", "Constant", "Resize", "Clip", "Where", "TopK", "NonMaxSuppression"};
    for (const char* op : ops) {
        EXPECT_TRUE(m.contains(op)) << op;
        EXPECT_FALSE(m.doc(op).isEmpty()) << op;
        EXPECT_TRUE(m.color(op).isValid()) << op;
    }
    EXPECT_EQ(m.category("Conv").id, "conv");
    EXPECT_EQ(m.category("MatMul").id, "gemm");
    EXPECT_EQ(m.category("DequantizeLinear").id, "quantization");
    EXPECT_EQ(m.category("NoSuchOp").id, "misc");
    EXPECT_NE(m.color("Conv"), m.color("Relu"));
}

TEST(OpMetadata, InvalidJsonGivesAnEmptyRegistry) {
    const OpMetadata m = OpMetadata::fromJson("{ not json");
    EXPECT_EQ(m.opCount(), 0);
    EXPECT_EQ(m.category("Conv").id, "misc");
    EXPECT_TRUE(m.doc("Conv").isEmpty());
}
