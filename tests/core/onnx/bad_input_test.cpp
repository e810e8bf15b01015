// Hostile and broken files must give a clear Error, never a crash or a half-loaded model.
#include "support/temp_dir.h"
#include "opstudio/onnx/model_io.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace opstudio;

namespace {

class TempDir : public opstudio::testing::TempDir {
public:
    TempDir() : opstudio::testing::TempDir("opstudio_bad_input") {}
};

void writeBytes(const fs::path& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void addTensorInput(onnx::GraphProto& g, const std::string& name, std::vector<int64_t> dims,
                    bool output = false) {
    auto* vi = output ? g.add_output() : g.add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::NodeProto* addNode(onnx::GraphProto& g, const std::string& op, std::vector<std::string> in,
                         std::vector<std::string> out, const std::string& name) {
    auto* n = g.add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : in)
        n->add_input(i);
    for (auto& o : out)
        n->add_output(o);
    return n;
}

onnx::TensorProto* addWeight(onnx::GraphProto& g, const std::string& name, int64_t n) {
    auto* t = g.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(n);
    std::string raw(static_cast<size_t>(n) * 4, '\0');
    for (int64_t i = 0; i < n; ++i) {
        const float v = static_cast<float>(i) * 0.5f;
        std::memcpy(raw.data() + i * 4, &v, 4);
    }
    t->set_raw_data(raw);
    return t;
}

/// y = (x + w) * x, with n elements: small, valid, checker-clean.
onnx::ModelProto validModel(int64_t n = 4) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("bad_input_test");
    m.add_opset_import()->set_version(13);
    auto& g = *m.mutable_graph();
    g.set_name("g");
    addTensorInput(g, "x", {n});
    addWeight(g, "w", n);
    addNode(g, "Add", {"x", "w"}, {"a"}, "add");
    addNode(g, "Mul", {"a", "x"}, {"y"}, "mul");
    addTensorInput(g, "y", {n}, /*output=*/true);
    return m;
}

std::string loadError(const fs::path& path) {
    auto r = onnxio::loadModel(path.string());
    if (r.ok()) return "";
    return r.error().describe();
}

std::string loadProtoError(const onnx::ModelProto& m, const TempDir& dir) {
    const fs::path p = dir / "model.onnx";
    writeBytes(p, m.SerializeAsString());
    return loadError(p);
}

#define EXPECT_LOAD_ERROR(message, needle)                                                                   \
    do {                                                                                                     \
        const std::string msg_ = (message);                                                                  \
        EXPECT_FALSE(msg_.empty()) << "loaded without error";                                                \
        EXPECT_NE(msg_.find(needle), std::string::npos) << msg_;                                             \
    } while (0)

} // namespace

TEST(OnnxLoad, ValidModelLoads) {
    TempDir dir;
    EXPECT_EQ(loadProtoError(validModel(), dir), "");
}

TEST(OnnxLoad, EmptyFileIsAnError) {
    TempDir dir;
    writeBytes(dir / "empty.onnx", "");
    EXPECT_LOAD_ERROR(loadError(dir / "empty.onnx"), "empty");
}

TEST(OnnxLoad, RandomBytesAreAnError) {
    TempDir dir;
    std::mt19937 rng(1234);
    std::string bytes(4096, '\0');
    for (char& c : bytes)
        c = static_cast<char>(rng() & 0xff);
    writeBytes(dir / "random.onnx", bytes);
    const std::string msg = loadError(dir / "random.onnx");
    EXPECT_FALSE(msg.empty());
    EXPECT_NE(msg.find("random.onnx"), std::string::npos) << msg;
}

TEST(OnnxLoad, TruncatedProtobufIsAnError) {
    TempDir dir;
    const std::string bytes = validModel(1000).SerializeAsString();
    writeBytes(dir / "cut.onnx", bytes.substr(0, bytes.size() / 2));
    EXPECT_LOAD_ERROR(loadError(dir / "cut.onnx"), "parse");
}

TEST(OnnxLoad, DirectoryIsAnError) {
    TempDir dir;
    EXPECT_LOAD_ERROR(loadError(dir.path()), "directory");
}

TEST(OnnxLoad, MissingFileIsAnError) {
    TempDir dir;
    EXPECT_LOAD_ERROR(loadError(dir / "nope.onnx"), "not found");
}

namespace {
onnx::ModelProto externalModel(const std::string& location) {
    auto m = validModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = w->add_external_data();
    e->set_key("location");
    e->set_value(location);
    return m;
}
} // namespace

TEST(OnnxExternalData, LoadsFromModelFolder) {
    TempDir dir;
    const float values[4] = {1.f, 2.f, 3.f, 4.f};
    writeBytes(dir / "w.bin", std::string(reinterpret_cast<const char*>(values), sizeof(values)));
    writeBytes(dir / "model.onnx", externalModel("w.bin").SerializeAsString());
    auto r = onnxio::loadModel((dir / "model.onnx").string());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    const ir::Tensor& w = r->graph->initializers.at("w");
    EXPECT_TRUE(w.isMapped());
    EXPECT_EQ(w.data<float>()[3], 4.f);
}

TEST(OnnxExternalData, MissingFileIsAnError) {
    TempDir dir;
    EXPECT_LOAD_ERROR(loadProtoError(externalModel("weights.bin"), dir), "not found");
}

TEST(OnnxExternalData, DotDotEscapeIsRejected) {
    TempDir dir;
    fs::create_directories(dir / "inner");
    writeBytes(dir / "w.bin", std::string(16, '\0'));
    writeBytes(dir / "inner" / "model.onnx", externalModel("../w.bin").SerializeAsString());
    EXPECT_LOAD_ERROR(loadError(dir / "inner" / "model.onnx"), "escapes the model folder");
}

TEST(OnnxExternalData, AbsolutePathIsRejected) {
    TempDir dir;
    writeBytes(dir / "w.bin", std::string(16, '\0'));
    EXPECT_LOAD_ERROR(loadProtoError(externalModel((dir / "w.bin").string()), dir), "absolute");
}

TEST(OnnxExternalData, SymlinkLeavingFolderIsRejected) {
    TempDir dir;
    fs::create_directories(dir / "inner");
    writeBytes(dir / "w.bin", std::string(16, '\0'));
    fs::create_symlink(dir / "w.bin", dir / "inner" / "link.bin");
    writeBytes(dir / "inner" / "model.onnx", externalModel("link.bin").SerializeAsString());
    EXPECT_LOAD_ERROR(loadError(dir / "inner" / "model.onnx"), "outside the model folder");
}

TEST(OnnxExternalData, WrongLengthIsAnError) {
    TempDir dir;
    writeBytes(dir / "w.bin", std::string(12, '\0'));
    EXPECT_LOAD_ERROR(loadProtoError(externalModel("w.bin"), dir), "does not match");
}

TEST(OnnxValidate, CycleIsAnError) {
    TempDir dir;
    auto m = validModel();
    auto& g = *m.mutable_graph();
    g.clear_node();
    addNode(g, "Add", {"x", "b"}, {"a"}, "add");
    addNode(g, "Relu", {"a"}, {"b"}, "relu");
    addNode(g, "Mul", {"a", "x"}, {"y"}, "mul");
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "cycle");
}

TEST(OnnxValidate, UndefinedInputIsAnError) {
    TempDir dir;
    auto m = validModel();
    m.mutable_graph()->mutable_node(1)->set_input(1, "ghost");
    const std::string msg = loadProtoError(m, dir);
    EXPECT_LOAD_ERROR(msg, "'ghost'");
    EXPECT_NE(msg.find("never defined"), std::string::npos) << msg;
    EXPECT_NE(msg.find("node 'mul'"), std::string::npos) << msg;
}

TEST(OnnxValidate, OutputDefinedTwiceIsAnError) {
    TempDir dir;
    auto m = validModel();
    addNode(*m.mutable_graph(), "Relu", {"x"}, {"a"}, "relu");
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "defined twice");
}

TEST(OnnxValidate, NodeOutputShadowingInitializerIsAnError) {
    TempDir dir;
    auto m = validModel();
    addNode(*m.mutable_graph(), "Relu", {"x"}, {"w"}, "relu");
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "defined twice");
}

TEST(OnnxValidate, NegativeDimIsAnError) {
    TempDir dir;
    auto m = validModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->set_dims(0, -4);
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "negative");
}

TEST(OnnxValidate, AbsurdDimsAreAnError) {
    TempDir dir;
    auto m = validModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->set_dims(0, int64_t{1} << 30);
    w->add_dims(int64_t{1} << 30);
    w->add_dims(4);
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "elements");
}

TEST(OnnxValidate, RawDataSizeMismatchIsAnError) {
    TempDir dir;
    auto m = validModel();
    m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(15, '\0'));
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "raw_data");
}

TEST(OnnxValidate, HugeTensorWithFewValuesFailsBeforeAllocating) {
    TempDir dir;
    auto m = validModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_dims(0, int64_t{1} << 39); // 2 TB of floats claimed by a few bytes
    w->add_float_data(1.f);
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "float_data");
    // The same through external data: the length check comes first.
    auto e = validModel();
    auto* x = e.mutable_graph()->mutable_initializer(0);
    x->clear_raw_data();
    x->set_dims(0, int64_t{1} << 39);
    x->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* loc = x->add_external_data();
    loc->set_key("location");
    loc->set_value("w.bin");
    writeBytes(dir / "w.bin", std::string(16, '\0'));
    EXPECT_LOAD_ERROR(loadProtoError(e, dir), "does not match");
}

TEST(OnnxValidate, MissingOpsetImportIsAnError) {
    TempDir dir;
    auto m = validModel();
    m.mutable_graph()->mutable_node(0)->set_domain("com.example");
    EXPECT_LOAD_ERROR(loadProtoError(m, dir), "opset");
}

TEST(OnnxValidate, UnsortedNodesAreAcceptedAndSorted) {
    TempDir dir;
    auto m = validModel();
    m.mutable_graph()->mutable_node()->SwapElements(0, 1);
    const fs::path p = dir / "model.onnx";
    writeBytes(p, m.SerializeAsString());
    auto r = onnxio::loadModel(p.string());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_EQ(r->graph->nodeCount(), 2u);
    EXPECT_EQ(r->graph->node(r->graph->order()[0])->opType, "Add");
    onnx::ModelProto out;
    onnxio::toProto(*r, out);
    EXPECT_EQ(out.graph().node(0).op_type(), "Add");
    EXPECT_TRUE(onnxio::checkModel(*r).ok());
}

TEST(OnnxValidate, SubgraphMaySeeOuterScopeButNotUndefinedNames) {
    TempDir dir;
    auto makeIf = [](const std::string& used) {
        auto m = validModel();
        auto& g = *m.mutable_graph();
        auto* c = g.add_input();
        c->set_name("cond");
        c->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
        c->mutable_type()->mutable_tensor_type()->mutable_shape();
        auto* n = addNode(g, "If", {"cond"}, {"z"}, "if");
        for (const char* branch : {"then_branch", "else_branch"}) {
            auto* a = n->add_attribute();
            a->set_name(branch);
            a->set_type(onnx::AttributeProto::GRAPH);
            auto* sg = a->mutable_g();
            sg->set_name(branch);
            addNode(*sg, "Identity", {used}, {std::string(branch) + "_out"}, std::string(branch) + "_id");
            addTensorInput(*sg, std::string(branch) + "_out", {4}, true);
        }
        addTensorInput(g, "z", {4}, true);
        return m;
    };
    EXPECT_EQ(loadProtoError(makeIf("a"), dir), "");
    EXPECT_LOAD_ERROR(loadProtoError(makeIf("nowhere"), dir), "never defined");
}

TEST(OnnxSave, RefusesToOverwriteInput) {
    TempDir dir;
    const fs::path p = dir / "model.onnx";
    writeBytes(p, validModel().SerializeAsString());
    const auto before = fs::file_size(p);
    auto r = onnxio::loadModel(p.string());
    ASSERT_TRUE(r.ok());
    auto status = onnxio::saveModel(*r, p.string());
    EXPECT_FALSE(status.ok());
    EXPECT_NE(std::string(status.error().what()).find("overwrite"), std::string::npos);
    EXPECT_EQ(fs::file_size(p), before);
    // Another spelling of the same path is the same file.
    auto status2 = onnxio::saveModel(*r, (dir.path() / "." / "model.onnx").string());
    EXPECT_FALSE(status2.ok());
}

TEST(OnnxSave, ExternalDataOnRequestRoundTrips) {
    TempDir dir;
    writeBytes(dir / "model.onnx", validModel(1000).SerializeAsString());
    auto r = onnxio::loadModel((dir / "model.onnx").string());
    ASSERT_TRUE(r.ok());
    onnxio::SaveOptions options;
    options.externalData = onnxio::SaveOptions::ExternalData::Always;
    const fs::path out = dir / "out.onnx";
    auto status = onnxio::saveModel(*r, out.string(), options);
    ASSERT_TRUE(status.ok()) << status.error().describe();
    EXPECT_TRUE(fs::exists(dir / "out.onnx.data"));
    EXPECT_LT(fs::file_size(out), 1000u);
    auto again = onnxio::loadModel(out.string());
    ASSERT_TRUE(again.ok()) << again.error().describe();
    const ir::Tensor& w = again->graph->initializers.at("w");
    EXPECT_TRUE(w.isMapped());
    EXPECT_EQ(w.data<float>()[999], 999 * 0.5f);
    for (const auto& entry : fs::directory_iterator(dir.path()))
        EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << "temporary file left behind";
}

TEST(OnnxTensor, TypedFieldsOfEveryDtype) {
    auto make = [](int dtype, std::vector<int64_t> dims) {
        onnx::TensorProto t;
        t.set_name("t");
        t.set_data_type(dtype);
        for (auto d : dims)
            t.add_dims(d);
        return t;
    };
    {
        auto t = make(onnx::TensorProto::FLOAT16, {2});
        t.add_int32_data(0x3c00); // 1.0
        t.add_int32_data(0xc000); // -2.0
        auto x = onnxio::tensorFromProto(t);
        EXPECT_EQ(x.dtype(), ir::DType::F16);
        EXPECT_EQ(x.data<uint16_t>()[1], 0xc000);
    }
    {
        auto t = make(onnx::TensorProto::BFLOAT16, {1});
        t.add_int32_data(0x3f80);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<uint16_t>()[0], 0x3f80);
    }
    {
        auto t = make(onnx::TensorProto::BOOL, {3});
        for (int v : {1, 0, 7})
            t.add_int32_data(v);
        auto x = onnxio::tensorFromProto(t);
        EXPECT_EQ(x.data<uint8_t>()[2], 1);
    }
    {
        auto t = make(onnx::TensorProto::INT8, {2});
        t.add_int32_data(-5);
        t.add_int32_data(100);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<int8_t>()[0], -5);
    }
    {
        auto t = make(onnx::TensorProto::UINT64, {1});
        t.add_uint64_data(uint64_t{1} << 63);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<uint64_t>()[0], uint64_t{1} << 63);
    }
    {
        auto t = make(onnx::TensorProto::UINT32, {1});
        t.add_uint64_data(4000000000u);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<uint32_t>()[0], 4000000000u);
    }
    {
        auto t = make(onnx::TensorProto::DOUBLE, {1});
        t.add_double_data(2.5);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<double>()[0], 2.5);
    }
    {
        auto t = make(onnx::TensorProto::INT64, {2, 1});
        t.add_int64_data(-1);
        t.add_int64_data(int64_t{1} << 40);
        EXPECT_EQ(onnxio::tensorFromProto(t).data<int64_t>()[1], int64_t{1} << 40);
    }
    {
        auto t = make(onnx::TensorProto::COMPLEX64, {1});
        t.add_float_data(1.f);
        t.add_float_data(-1.f);
        auto x = onnxio::tensorFromProto(t);
        EXPECT_EQ(x.byteSize(), 8u);
        EXPECT_EQ(x.data<float>()[1], -1.f);
    }
    {
        auto t = make(onnx::TensorProto::STRING, {2});
        t.add_string_data("a");
        t.add_string_data("bc");
        auto x = onnxio::tensorFromProto(t);
        ASSERT_EQ(x.strings().size(), 2u);
        EXPECT_EQ(x.strings()[1], "bc");
    }
    {
        auto t = make(onnx::TensorProto::FLOAT, {3});
        t.add_float_data(1.f);
        EXPECT_THROW(onnxio::tensorFromProto(t), Error); // 1 value for 3 elements
    }
    {
        auto t = make(0, {1});
        EXPECT_THROW(onnxio::tensorFromProto(t), Error);
    }
}

TEST(OnnxTensor, FileRoundTripKeepsNameAndBytes) {
    TempDir dir;
    auto t = ir::Tensor::fromVector<int32_t>({2, 2}, {1, -2, 3, -4});
    ASSERT_TRUE(onnxio::writeTensorFile(t, "x", (dir / "input_0.pb").string()).ok());
    std::string name;
    auto back = onnxio::readTensorFile((dir / "input_0.pb").string(), &name);
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(name, "x");
    EXPECT_EQ(back->shape(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(back->data<int32_t>()[3], -4);
    EXPECT_FALSE(onnxio::readTensorFile((dir / "missing.pb").string()).ok());
    writeBytes(dir / "empty.pb", "");
    EXPECT_FALSE(onnxio::readTensorFile((dir / "empty.pb").string()).ok());
}

TEST(OnnxModel, MetadataOpsetsAndDocsSurviveExport) {
    auto m = validModel();
    m.set_doc_string("model doc");
    auto* meta = m.add_metadata_props();
    meta->set_key("author");
    meta->set_value("io");
    auto* ml = m.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(3);
    m.mutable_graph()->mutable_node(0)->set_doc_string("node doc");
    auto model = onnxio::fromProto(m, "");
    onnx::ModelProto out;
    onnxio::toProto(model, out);
    EXPECT_EQ(out.doc_string(), "model doc");
    ASSERT_EQ(out.metadata_props_size(), 1);
    EXPECT_EQ(out.metadata_props(0).value(), "io");
    EXPECT_EQ(out.opset_import_size(), 2);
    EXPECT_EQ(out.graph().node(0).doc_string(), "node doc");
    // Shape inference filled the intermediate value, so the export carries it as value_info.
    ASSERT_GE(out.graph().value_info_size(), 1);
    EXPECT_EQ(out.graph().value_info(0).name(), "a");
}

TEST(OnnxModel, IrVersionIsClampedForTheChecker) {
    auto m = validModel();
    m.set_ir_version(9);
    auto model = onnxio::fromProto(m, "");
    onnx::ModelProto out;
    onnxio::toProto(model, out);
    EXPECT_EQ(out.ir_version(), 8);
    EXPECT_TRUE(onnxio::checkModel(model).ok());
}

TEST(OnnxSave, AutoExternalDataAboveTheLimit) {
    TempDir dir;
    writeBytes(dir / "model.onnx", validModel(1000).SerializeAsString());
    auto r = onnxio::loadModel((dir / "model.onnx").string());
    ASSERT_TRUE(r.ok());
    onnxio::SaveOptions options;
    options.autoExternalAbove = 2000; // stands in for protobuf's 2 GB limit
    ASSERT_TRUE(onnxio::saveModel(*r, (dir / "big.onnx").string(), options).ok());
    EXPECT_TRUE(fs::exists(dir / "big.onnx.data"));
    options.autoExternalAbove = 1 << 20;
    ASSERT_TRUE(onnxio::saveModel(*r, (dir / "small.onnx").string(), options).ok());
    EXPECT_FALSE(fs::exists(dir / "small.onnx.data"));
    auto again = onnxio::loadModel((dir / "big.onnx").string());
    ASSERT_TRUE(again.ok()) << again.error().describe();
    EXPECT_EQ(again->graph->initializers.at("w").data<float>()[10], 5.f);
}

TEST(OnnxExternalData, SymlinkInsideFolderIsAccepted) {
    TempDir dir;
    fs::create_directories(dir / "weights");
    const float values[4] = {1.f, 2.f, 3.f, 4.f};
    writeBytes(dir / "weights" / "w.bin", std::string(reinterpret_cast<const char*>(values), sizeof(values)));
    fs::create_symlink(dir / "weights" / "w.bin", dir / "link.bin");
    EXPECT_EQ(loadProtoError(externalModel("link.bin"), dir), "");
    EXPECT_EQ(loadProtoError(externalModel("weights/w.bin"), dir), "");
}

TEST(OnnxValidate, SparseInitializerDefinesItsName) {
    TempDir dir;
    auto m = validModel();
    auto& g = *m.mutable_graph();
    g.clear_initializer();
    auto* sp = g.add_sparse_initializer();
    sp->add_dims(4);
    auto* values = sp->mutable_values();
    values->set_name("w");
    values->set_data_type(onnx::TensorProto::FLOAT);
    values->add_dims(1);
    values->add_float_data(3.f);
    auto* indices = sp->mutable_indices();
    indices->set_data_type(onnx::TensorProto::INT64);
    indices->add_dims(1);
    indices->add_int64_data(2);
    const fs::path p = dir / "model.onnx";
    writeBytes(p, m.SerializeAsString());
    auto r = onnxio::loadModel(p.string());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_EQ(r->graph->sparseInitializersRaw.size(), 1u);
    onnx::ModelProto out;
    onnxio::toProto(*r, out);
    ASSERT_EQ(out.graph().sparse_initializer_size(), 1);
    EXPECT_EQ(out.graph().sparse_initializer(0).values().name(), "w");
}

TEST(OnnxModel, LocalFunctionsAreKept) {
    auto m = validModel();
    auto* local = m.add_opset_import();
    local->set_domain("local");
    local->set_version(1);
    auto* f = m.add_functions();
    f->set_name("AddTwice");
    f->set_domain("local");
    f->add_input("p");
    f->add_input("q");
    f->add_output("r");
    f->add_opset_import()->set_version(13);
    auto* n1 = f->add_node();
    n1->set_op_type("Add");
    n1->add_input("p");
    n1->add_input("q");
    n1->add_output("t");
    auto* n2 = f->add_node();
    n2->set_op_type("Add");
    n2->add_input("t");
    n2->add_input("q");
    n2->add_output("r");
    auto* call = m.mutable_graph()->mutable_node(0);
    call->set_op_type("AddTwice");
    call->set_domain("local");
    auto model = onnxio::fromProto(m, "");
    EXPECT_EQ(model.functionsRaw.size(), 1u);
    onnx::ModelProto out;
    onnxio::toProto(model, out);
    ASSERT_EQ(out.functions_size(), 1);
    EXPECT_EQ(out.functions(0).name(), "AddTwice");
    EXPECT_EQ(out.graph().node(0).domain(), "local");
    const auto status = onnxio::checkModel(model);
    EXPECT_TRUE(status.ok()) << status.error().describe();
}

TEST(OnnxValidate, ErrorsNameNodeOpOpsetAndFile) {
    TempDir dir;
    auto m = validModel();
    m.mutable_graph()->mutable_node(1)->set_input(0, "ghost");
    const std::string msg = loadProtoError(m, dir);
    EXPECT_NE(msg.find("Mul"), std::string::npos) << msg;
    EXPECT_NE(msg.find("13"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.onnx"), std::string::npos) << msg;
}

TEST(OnnxLoad, MutatedAndTruncatedFilesNeverCrash) {
    // Every byte position as a truncation point and a few hundred seeded byte flips: each load
    // either succeeds or returns an Error; anything else (crash, exception) fails the test.
    auto m = validModel(8);
    auto& g = *m.mutable_graph();
    auto* c = g.add_input();
    c->set_name("cond");
    c->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
    auto* n = addNode(g, "If", {"cond"}, {"z"}, "if");
    for (const char* branch : {"then_branch", "else_branch"}) {
        auto* a = n->add_attribute();
        a->set_name(branch);
        a->set_type(onnx::AttributeProto::GRAPH);
        auto* sg = a->mutable_g();
        sg->set_name(branch);
        addNode(*sg, "Identity", {"a"}, {std::string(branch) + "_out"}, std::string(branch) + "_id");
        addTensorInput(*sg, std::string(branch) + "_out", {8}, true);
    }
    addTensorInput(g, "z", {8}, true);
    const std::string bytes = m.SerializeAsString();
    int loaded = 0, failed = 0;
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto r = onnxio::loadModelFromBytes(bytes.substr(0, cut), "");
        r.ok() ? ++loaded : ++failed;
    }
    std::mt19937 rng(2024);
    for (int i = 0; i < 400; ++i) {
        std::string mutated = bytes;
        for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k)
            mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
        auto r = onnxio::loadModelFromBytes(mutated, "");
        r.ok() ? ++loaded : ++failed;
    }
    EXPECT_GT(failed, 0);
    std::printf("[ mutations ] %d loaded, %d rejected\n", loaded, failed);
}
