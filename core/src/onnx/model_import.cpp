// ONNX ModelProto -> IR. Everything read from a file is treated as hostile: sizes are checked
// before allocation, external data stays inside the model's folder, and every failure becomes
// an opstudio::Error with the node, op type and file it concerns.
#include "onnx_internal.h"
#include "opstudio/util/shape_math.h"

#include "opstudio/onnx/model_io.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <sstream>
#include <unordered_set>

namespace fs = std::filesystem;

namespace opstudio::onnxio {

namespace {

template <typename V> void setTypeRaw(V& value, std::string raw) {
    // Non-tensor types (sequence, optional, map) are kept verbatim once ir::Value has a slot for them.
    if constexpr (requires { value.typeRaw; }) value.typeRaw = std::move(raw);
}

int64_t parseInt(const std::string& text, const std::string& what) {
    try {
        size_t used = 0;
        const long long v = std::stoll(text, &used);
        if (used != text.size() || v < 0) throw std::invalid_argument(text);
        return v;
    } catch (const std::exception&) {
        throw Error("external data " + what + " '" + text + "' is not a non-negative integer");
    }
}

/// Element count through the one checked place for shape arithmetic (util/shape_math.h).
int64_t checkedNumel(const std::vector<int64_t>& dims, const std::string& name) {
    return util::checkedNumel(dims, "tensor '" + name + "'");
}

template <typename Src, typename Dst>
void copyConverted(const google::protobuf::RepeatedField<Src>& src, Dst* dst, size_t count) {
    for (size_t i = 0; i < count; ++i)
        dst[i] = static_cast<Dst>(src.Get(static_cast<int>(i)));
}

ir::Tensor readExternal(const onnx::TensorProto& proto, ir::DType dtype, const std::vector<int64_t>& dims,
                        size_t expectedBytes, const std::string& baseDir, bool mapData) {
    std::string location;
    int64_t offset = 0;
    int64_t length = -1;
    for (const auto& entry : proto.external_data()) {
        if (entry.key() == "location")
            location = entry.value();
        else if (entry.key() == "offset")
            offset = parseInt(entry.value(), "offset");
        else if (entry.key() == "length")
            length = parseInt(entry.value(), "length");
        // "checksum" (SHA-1) is advisory; the length check below already catches truncation.
    }
    if (location.empty()) throw Error("tensor '" + proto.name() + "' has external data without a location");
    const std::string path = detail::resolveExternalPath(baseDir, location);
    if (length < 0) {
        std::error_code ec;
        const auto fileSize = fs::file_size(path, ec);
        if (ec) throw Error("cannot read external data file '" + location + "': " + ec.message());
        if (static_cast<uint64_t>(offset) > fileSize)
            throw Error("external data offset " + std::to_string(offset) + " is past the end of '" +
                        location + "'");
        length = static_cast<int64_t>(fileSize) - offset;
    }
    if (static_cast<size_t>(length) != expectedBytes)
        throw Error("tensor '" + proto.name() + "': external data length " + std::to_string(length) +
                    " does not match " + std::to_string(expectedBytes) + " bytes for " +
                    std::string(ir::dtypeName(dtype)) + " " + ir::shapeToString(dims));
    if (dtype == ir::DType::String)
        throw Error("tensor '" + proto.name() + "': string tensors cannot be external");
    if (mapData && expectedBytes > 0) {
        auto buffer = ir::Buffer::mapFile(path, static_cast<size_t>(offset), expectedBytes);
        return ir::Tensor::view(dtype, dims, std::move(buffer));
    }
    ir::Tensor t(dtype, dims);
    if (expectedBytes == 0) return t;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open external data file '" + location + "'");
    in.seekg(offset);
    in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(expectedBytes));
    if (in.gcount() != static_cast<std::streamsize>(expectedBytes))
        throw Error("external data file '" + location + "' is too short for tensor '" + proto.name() + "'");
    return t;
}

void checkCount(const onnx::TensorProto& proto, size_t have, size_t want, const char* field) {
    if (have != want)
        throw Error("tensor '" + proto.name() + "' has " + std::to_string(have) + " values in " + field +
                    ", expected " + std::to_string(want));
}

ir::Tensor importTensor(const onnx::TensorProto& proto, const std::string& baseDir, bool mapData) {
    if (!proto.has_data_type() || !ir::isValidDType(proto.data_type()))
        throw Error("tensor '" + proto.name() + "' has an unknown data type " +
                    std::to_string(proto.data_type()));
    if (proto.has_segment()) throw Error("tensor '" + proto.name() + "' is segmented (unsupported)");
    const auto dtype = static_cast<ir::DType>(proto.data_type());
    std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
    const int64_t numel = checkedNumel(dims, proto.name());
    const size_t n = static_cast<size_t>(numel);
    const size_t bytes = n * ir::dtypeSize(dtype);

    if (proto.data_location() == onnx::TensorProto::EXTERNAL)
        return readExternal(proto, dtype, dims, bytes, baseDir, mapData);

    if (dtype == ir::DType::String) {
        if (proto.has_raw_data()) throw Error("string tensor '" + proto.name() + "' uses raw_data");
        checkCount(proto, static_cast<size_t>(proto.string_data_size()), n, "string_data");
        ir::Tensor t(dtype, dims);
        auto& s = t.strings();
        for (size_t i = 0; i < n; ++i)
            s[i] = proto.string_data(static_cast<int>(i));
        return t;
    }

    if (proto.has_raw_data()) {
        if (proto.raw_data().size() != bytes)
            throw Error("tensor '" + proto.name() + "' raw_data has " +
                        std::to_string(proto.raw_data().size()) + " bytes, expected " +
                        std::to_string(bytes) + " for " + std::string(ir::dtypeName(dtype)) + " " +
                        ir::shapeToString(dims));
        ir::Tensor t(dtype, dims);
        if (bytes) std::memcpy(t.raw(), proto.raw_data().data(), bytes);
        return t;
    }

    // Count the values before allocating, so a tiny file cannot claim a huge tensor.
    {
        using ir::DType;
        size_t have = 0, want = n;
        const char* field = "int32_data";
        switch (dtype) {
        case DType::C64:
            want = 2 * n;
            [[fallthrough]];
        case DType::F32:
            have = proto.float_data_size();
            field = "float_data";
            break;
        case DType::C128:
            want = 2 * n;
            [[fallthrough]];
        case DType::F64:
            have = proto.double_data_size();
            field = "double_data";
            break;
        case DType::I64:
            have = proto.int64_data_size();
            field = "int64_data";
            break;
        case DType::U32:
        case DType::U64:
            have = proto.uint64_data_size();
            field = "uint64_data";
            break;
        default:
            have = proto.int32_data_size();
            break;
        }
        checkCount(proto, have, want, field);
    }
    ir::Tensor t(dtype, dims);
    using ir::DType;
    switch (dtype) {
    case DType::F32:
        checkCount(proto, proto.float_data_size(), n, "float_data");
        copyConverted(proto.float_data(), t.data<float>(), n);
        break;
    case DType::C64:
        checkCount(proto, proto.float_data_size(), 2 * n, "float_data");
        copyConverted(proto.float_data(), t.data<float>(), 2 * n);
        break;
    case DType::F64:
        checkCount(proto, proto.double_data_size(), n, "double_data");
        copyConverted(proto.double_data(), t.data<double>(), n);
        break;
    case DType::C128:
        checkCount(proto, proto.double_data_size(), 2 * n, "double_data");
        copyConverted(proto.double_data(), t.data<double>(), 2 * n);
        break;
    case DType::I64:
        checkCount(proto, proto.int64_data_size(), n, "int64_data");
        copyConverted(proto.int64_data(), t.data<int64_t>(), n);
        break;
    case DType::U32:
        checkCount(proto, proto.uint64_data_size(), n, "uint64_data");
        copyConverted(proto.uint64_data(), t.data<uint32_t>(), n);
        break;
    case DType::U64:
        checkCount(proto, proto.uint64_data_size(), n, "uint64_data");
        copyConverted(proto.uint64_data(), t.data<uint64_t>(), n);
        break;
    case DType::I32:
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        copyConverted(proto.int32_data(), t.data<int32_t>(), n);
        break;
    case DType::I16:
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        copyConverted(proto.int32_data(), t.data<int16_t>(), n);
        break;
    case DType::U16:
    case DType::F16:
    case DType::BF16: // the bit pattern sits in the low 16 bits of each int32
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        copyConverted(proto.int32_data(), t.data<uint16_t>(), n);
        break;
    case DType::I8:
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        copyConverted(proto.int32_data(), t.data<int8_t>(), n);
        break;
    case DType::U8:
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        copyConverted(proto.int32_data(), t.data<uint8_t>(), n);
        break;
    case DType::Bool: {
        checkCount(proto, proto.int32_data_size(), n, "int32_data");
        auto* out = t.data<uint8_t>();
        for (size_t i = 0; i < n; ++i)
            out[i] = proto.int32_data(static_cast<int>(i)) != 0 ? 1 : 0;
        break;
    }
    default:
        throw Error("tensor '" + proto.name() + "' has unsupported data type " +
                    std::to_string(proto.data_type()));
    }
    return t;
}

} // namespace

ir::Tensor tensorFromProto(const onnx::TensorProto& proto, const std::string& baseDir) {
    return importTensor(proto, baseDir, true);
}

namespace detail {

std::string resolveExternalPath(const std::string& baseDir, const std::string& location) {
    if (baseDir.empty())
        throw Error("external data '" + location + "' cannot be resolved: the model has no folder");
    const fs::path loc(location);
    if (loc.empty() || loc.is_absolute() || loc.has_root_name() || loc.has_root_directory())
        throw Error("external data path '" + location +
                    "' is absolute; it must be relative to the model folder");
    for (const auto& part : loc)
        if (part == "..") throw Error("external data path '" + location + "' escapes the model folder");
    std::error_code ec;
    const fs::path base = fs::weakly_canonical(fs::absolute(baseDir), ec);
    if (ec) throw Error("cannot resolve model folder '" + baseDir + "': " + ec.message());
    // weakly_canonical follows symlinks in the existing part of the path, so a link that points
    // out of the folder shows up as a prefix mismatch here.
    const fs::path full = fs::weakly_canonical(base / loc, ec);
    if (ec) throw Error("cannot resolve external data path '" + location + "': " + ec.message());
    auto b = base.begin(), f = full.begin();
    for (; b != base.end(); ++b, ++f) {
        if (b->empty() && std::next(b) == base.end()) break; // trailing separator
        if (f == full.end() || *f != *b)
            throw Error("external data path '" + location + "' resolves outside the model folder");
    }
    if (!fs::exists(full, ec))
        throw Error("external data file '" + location + "' not found in '" + baseDir + "'");
    if (!fs::is_regular_file(full, ec)) throw Error("external data '" + location + "' is not a regular file");
    return full.string();
}

void valueFromTypeProto(const onnx::TypeProto& type, ir::Value& value) {
    if (type.value_case() != onnx::TypeProto::kTensorType) {
        if (type.value_case() != onnx::TypeProto::VALUE_NOT_SET) setTypeRaw(value, type.SerializeAsString());
        return;
    }
    const auto& tt = type.tensor_type();
    if (tt.has_elem_type() && ir::isValidDType(tt.elem_type())) {
        value.dtype = static_cast<ir::DType>(tt.elem_type());
        value.hasType = true;
    }
    if (tt.has_shape()) {
        std::vector<ir::Dim> dims;
        dims.reserve(tt.shape().dim_size());
        for (const auto& d : tt.shape().dim()) {
            if (d.has_dim_value() && d.dim_value() >= 0)
                dims.push_back(ir::Dim::of(d.dim_value()));
            else if (d.has_dim_param() && !d.dim_param().empty())
                dims.push_back(ir::Dim::named(d.dim_param()));
            else
                dims.push_back(ir::Dim{});
        }
        value.shape = std::move(dims);
    }
}

} // namespace detail

namespace {

struct Importer {
    const std::string& baseDir;
    const LoadOptions& options;

    void importValueInfo(const onnx::ValueInfoProto& vi, ir::Graph& g) {
        if (vi.name().empty()) return;
        ir::Value& v = g.value(vi.name());
        if (!vi.doc_string().empty()) v.doc = vi.doc_string();
        if (vi.has_type()) detail::valueFromTypeProto(vi.type(), v);
    }

    ir::Attribute importAttribute(const onnx::AttributeProto& a, const ir::Node& node) {
        ir::Attribute out;
        out.name = a.name();
        out.doc = a.doc_string();
        out.refAttrName = a.ref_attr_name();
        auto type = a.type();
        // Old exporters leave `type` unset; infer it from the field that is filled.
        if (type == onnx::AttributeProto::UNDEFINED) {
            if (a.has_f())
                type = onnx::AttributeProto::FLOAT;
            else if (a.has_i())
                type = onnx::AttributeProto::INT;
            else if (a.has_s())
                type = onnx::AttributeProto::STRING;
            else if (a.has_t())
                type = onnx::AttributeProto::TENSOR;
            else if (a.has_g())
                type = onnx::AttributeProto::GRAPH;
            else if (a.floats_size())
                type = onnx::AttributeProto::FLOATS;
            else if (a.ints_size())
                type = onnx::AttributeProto::INTS;
            else if (a.strings_size())
                type = onnx::AttributeProto::STRINGS;
            else if (a.tensors_size())
                type = onnx::AttributeProto::TENSORS;
            else if (a.graphs_size())
                type = onnx::AttributeProto::GRAPHS;
        }
        out.type = static_cast<ir::AttrType>(type);
        switch (type) {
        case onnx::AttributeProto::FLOAT:
            out.f = a.f();
            break;
        case onnx::AttributeProto::INT:
            out.i = a.i();
            break;
        case onnx::AttributeProto::STRING:
            out.s = a.s();
            break;
        case onnx::AttributeProto::TENSOR:
            out.t = importTensor(a.t(), baseDir, options.mapExternalData);
            break;
        case onnx::AttributeProto::GRAPH:
            out.g = importGraph(a.g());
            break;
        case onnx::AttributeProto::FLOATS:
            out.floats.assign(a.floats().begin(), a.floats().end());
            break;
        case onnx::AttributeProto::INTS:
            out.ints.assign(a.ints().begin(), a.ints().end());
            break;
        case onnx::AttributeProto::STRINGS:
            out.strings.assign(a.strings().begin(), a.strings().end());
            break;
        case onnx::AttributeProto::TENSORS:
            for (const auto& t : a.tensors())
                out.tensors.push_back(importTensor(t, baseDir, options.mapExternalData));
            break;
        case onnx::AttributeProto::GRAPHS:
            for (const auto& g : a.graphs())
                out.graphs.push_back(importGraph(g));
            break;
        default:
            // Sparse tensors and type protos: kept as the whole serialized AttributeProto.
            out.raw = a.SerializeAsString();
            break;
        }
        if (!a.ref_attr_name().empty() && out.raw.empty()) out.raw = a.SerializeAsString();
        return out;
    }

    std::shared_ptr<ir::Graph> importGraph(const onnx::GraphProto& gp) {
        auto g = std::make_shared<ir::Graph>();
        fillGraph(gp, *g);
        return g;
    }

    void fillGraph(const onnx::GraphProto& gp, ir::Graph& g) {
        g.name = gp.name();
        g.doc = gp.doc_string();
        for (const auto& init : gp.initializer()) {
            if (init.name().empty())
                throw Error("graph '" + gp.name() + "' has an initializer without a name");
            if (g.initializers.count(init.name()))
                throw Error("initializer '" + init.name() + "' is defined twice");
            try {
                g.initializers.emplace(init.name(), importTensor(init, baseDir, options.mapExternalData));
            } catch (Error& e) {
                if (e.context().node.empty()) e.context().node = init.name();
                throw;
            }
        }
        for (const auto& sp : gp.sparse_initializer())
            g.sparseInitializersRaw.push_back(sp.SerializeAsString());
        for (const auto& vi : gp.input()) {
            g.inputs.push_back(vi.name());
            importValueInfo(vi, g);
        }
        for (const auto& vi : gp.output()) {
            g.outputs.push_back(vi.name());
            importValueInfo(vi, g);
        }
        for (const auto& vi : gp.value_info())
            importValueInfo(vi, g);
        for (const auto& np : gp.node()) {
            ir::Node node;
            node.name = np.name();
            node.opType = np.op_type();
            node.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
            node.doc = np.doc_string();
            node.inputs.assign(np.input().begin(), np.input().end());
            node.outputs.assign(np.output().begin(), np.output().end());
            try {
                for (const auto& a : np.attribute())
                    node.attributes.push_back(importAttribute(a, node));
            } catch (Error& e) {
                if (e.context().node.empty()) {
                    e.context().node = node.name;
                    e.context().opType = node.opType;
                    e.context().domain = node.domain;
                }
                throw;
            }
            g.addNode(std::move(node));
        }
    }
};

std::unordered_set<std::string> sparseNames(const ir::Graph& g) {
    std::unordered_set<std::string> names;
    for (const auto& raw : g.sparseInitializersRaw) {
        onnx::SparseTensorProto sp;
        if (sp.ParseFromString(raw)) names.insert(sp.values().name());
    }
    return names;
}

/// A copy of the proto for shape inference without the bytes of big weights: those become typed
/// graph inputs (inference only needs the values of small shape tensors).
void inferenceCopy(const onnx::ModelProto& src, onnx::ModelProto& dst) {
    dst.set_ir_version(src.ir_version());
    *dst.mutable_opset_import() = src.opset_import();
    *dst.mutable_functions() = src.functions();
    const auto& g = src.graph();
    auto* out = dst.mutable_graph();
    out->set_name(g.name());
    *out->mutable_node() = g.node();
    *out->mutable_input() = g.input();
    *out->mutable_output() = g.output();
    *out->mutable_value_info() = g.value_info();
    std::unordered_set<std::string> inputNames;
    for (const auto& vi : g.input())
        inputNames.insert(vi.name());
    for (const auto& init : g.initializer()) {
        const bool big = init.raw_data().size() > 4096 || init.float_data_size() > 1024 ||
                         init.data_location() == onnx::TensorProto::EXTERNAL;
        if (!big) {
            *out->add_initializer() = init;
            continue;
        }
        if (inputNames.count(init.name())) continue;
        auto* vi = out->add_input();
        vi->set_name(init.name());
        auto* tt = vi->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(init.data_type());
        auto* shape = tt->mutable_shape();
        for (int64_t d : init.dims())
            shape->add_dim()->set_dim_value(d);
    }
    // Shape inference insists on IR >= 4 semantics for initializers that are not inputs.
    if (dst.ir_version() < 4) dst.set_ir_version(4);
}

} // namespace

ir::Model fromProto(const onnx::ModelProto& proto, const std::string& baseDir, const LoadOptions& options) {
    if (!proto.has_graph()) throw Error("the file is not an ONNX model (no graph)");
    if (proto.ir_version() <= 0) throw Error("the file is not an ONNX model (no IR version)");
    ir::Model model;
    model.irVersion = proto.ir_version();
    model.producerName = proto.producer_name();
    model.producerVersion = proto.producer_version();
    model.domain = proto.domain();
    model.modelVersion = proto.model_version();
    model.doc = proto.doc_string();
    model.sourceDir = baseDir;
    for (const auto& op : proto.opset_import()) {
        const std::string domain = op.domain() == "ai.onnx" ? std::string() : op.domain();
        model.opsets.push_back({domain, op.version()});
    }
    // IR 1 and 2 predate opset imports: their operators are opset 1.
    if (model.opsets.empty() && model.irVersion < 3) model.opsets.push_back({"", 1});
    for (const auto& m : proto.metadata_props())
        model.metadata.emplace_back(m.key(), m.value());
    for (const auto& f : proto.functions())
        model.functionsRaw.push_back(f.SerializeAsString());
    for (const auto& t : proto.training_info())
        model.trainingInfoRaw.push_back(t.SerializeAsString());

    Importer importer{baseDir, options};
    importer.fillGraph(proto.graph(), *model.graph);
    detail::validateGraph(*model.graph, model, {}, sparseNames(*model.graph));

    if (options.inferShapes) {
        onnx::ModelProto copy;
        inferenceCopy(proto, copy);
        detail::inferOnProto(copy);
        detail::mergeInferredTypes(copy.graph(), *model.graph, /*exportedOrder=*/false);
    }
    return model;
}

Result<ir::Model> loadModelFromBytes(const std::string& bytes, const std::string& baseDir,
                                     const LoadOptions& options) {
    try {
        if (bytes.empty()) throw Error("the file is empty");
        onnx::ModelProto proto;
        if (!proto.ParseFromString(bytes))
            throw Error("the file is not a valid ONNX protobuf (parse failed)");
        return fromProto(proto, baseDir, options);
    } catch (const Error& e) {
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory while loading the model");
    } catch (const std::exception& e) {
        return Error(std::string("cannot load model: ") + e.what());
    }
}

Result<ir::Model> loadModel(const std::string& path, const LoadOptions& options) {
    auto fail = [&](const std::string& message) { return Error(message, ErrorContext{path, {}, {}, {}, 0}); };
    try {
        std::error_code ec;
        const auto status = fs::status(path, ec);
        if (ec || !fs::exists(status)) return fail("model file not found");
        if (fs::is_directory(status)) return fail("is a directory, not a model file");
        if (!fs::is_regular_file(status)) return fail("is not a regular file");
        const auto size = fs::file_size(path, ec);
        if (ec) return fail("cannot read model file: " + ec.message());
        if (size == 0) return fail("the file is empty");
        if (size > static_cast<uintmax_t>(std::numeric_limits<int>::max()))
            return fail("model file is larger than protobuf's 2 GB limit; keep weights in external data");
        std::ifstream in(path, std::ios::binary);
        if (!in) return fail("cannot open model file");
        // Parsing from the stream avoids holding the file bytes and the parsed proto at once.
        Result<ir::Model> result = Error("");
        {
            onnx::ModelProto proto;
            if (!proto.ParseFromIstream(&in))
                return fail("the file is not a valid ONNX protobuf (parse failed)");
            in.close();
            const std::string dir = fs::absolute(fs::path(path)).parent_path().string();
            result = fromProto(proto, dir, options);
        }
        result->sourcePath = fs::weakly_canonical(fs::absolute(path)).string();
        return result;
    } catch (const Error& e) {
        Error copy = e;
        if (copy.context().file.empty()) copy.context().file = path;
        return copy;
    } catch (const std::bad_alloc&) {
        return fail("out of memory while loading the model");
    } catch (const std::exception& e) {
        return fail(std::string("cannot load model: ") + e.what());
    }
}

Result<ir::Tensor> readTensorFile(const std::string& path, std::string* name) {
    auto fail = [&](const std::string& message) { return Error(message, ErrorContext{path, {}, {}, {}, 0}); };
    try {
        std::error_code ec;
        if (!fs::exists(path, ec)) return fail("tensor file not found");
        if (fs::is_directory(path, ec)) return fail("is a directory, not a tensor file");
        std::ifstream in(path, std::ios::binary);
        if (!in) return fail("cannot open tensor file");
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string bytes = ss.str();
        onnx::TensorProto proto;
        if (!proto.ParseFromString(bytes)) return fail("not a serialized onnx.TensorProto");
        const std::string dir = fs::absolute(fs::path(path)).parent_path().string();
        ir::Tensor t = tensorFromProto(proto, dir);
        if (name) *name = proto.name();
        return t;
    } catch (const Error& e) {
        Error copy = e;
        if (copy.context().file.empty()) copy.context().file = path;
        return copy;
    } catch (const std::bad_alloc&) {
        return fail("out of memory while reading the tensor");
    } catch (const std::exception& e) {
        return fail(std::string("cannot read tensor: ") + e.what());
    }
}

} // namespace opstudio::onnxio
