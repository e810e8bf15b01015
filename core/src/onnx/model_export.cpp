// IR -> ONNX ModelProto, atomic saving with automatic external data, and the libonnx checker.
#include "onnx_internal.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/util/atomic_file.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <new>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace opstudio::onnxio {

namespace {

template <typename V> const std::string* typeRawOf(const V& value) {
    if constexpr (requires { value.typeRaw; }) return value.typeRaw.empty() ? nullptr : &value.typeRaw;
    return nullptr;
}

void collectUsed(const ir::Graph& g, std::vector<std::string>& out) {
    g.forEachNode([&](const ir::Node& n) {
        for (const auto& in : n.inputs)
            if (!in.empty()) out.push_back(in);
        for (ir::Graph* sg : n.subgraphs())
            collectUsed(*sg, out);
    });
}

} // namespace

namespace detail {

std::vector<ir::NodeId> exportOrder(const ir::Graph& graph) {
    const auto& order = graph.order();
    std::unordered_map<std::string, ir::NodeId> producer;
    std::unordered_map<ir::NodeId, size_t> position;
    for (size_t i = 0; i < order.size(); ++i) {
        position[order[i]] = i;
        for (const auto& o : graph.node(order[i])->outputs)
            if (!o.empty()) producer[o] = order[i];
    }
    std::unordered_map<ir::NodeId, int> pending;
    std::unordered_map<ir::NodeId, std::vector<ir::NodeId>> users;
    bool sorted = true;
    for (ir::NodeId id : order) {
        const ir::Node& n = *graph.node(id);
        std::vector<std::string> used(n.inputs.begin(), n.inputs.end());
        for (ir::Graph* sg : n.subgraphs())
            collectUsed(*sg, used);
        std::unordered_set<ir::NodeId> deps;
        for (const auto& in : used) {
            auto it = in.empty() ? producer.end() : producer.find(in);
            if (it != producer.end() && it->second != id) {
                deps.insert(it->second);
                if (position[it->second] > position[id]) sorted = false;
            }
        }
        pending[id] = static_cast<int>(deps.size());
        for (ir::NodeId d : deps)
            users[d].push_back(id);
    }
    if (sorted) return order;
    // Kahn's algorithm, ties broken by stored position so valid stretches keep their order.
    auto later = [&](ir::NodeId a, ir::NodeId b) { return position[a] > position[b]; };
    std::priority_queue<ir::NodeId, std::vector<ir::NodeId>, decltype(later)> ready(later);
    for (ir::NodeId id : order)
        if (pending[id] == 0) ready.push(id);
    std::vector<ir::NodeId> out;
    out.reserve(order.size());
    while (!ready.empty()) {
        const ir::NodeId id = ready.top();
        ready.pop();
        out.push_back(id);
        for (ir::NodeId u : users[id])
            if (--pending[u] == 0) ready.push(u);
    }
    if (out.size() != order.size()) {
        for (ir::NodeId id : order)
            if (pending[id] > 0) {
                const ir::Node& n = *graph.node(id);
                throw Error("cannot export: the graph has a cycle through node '" + n.name + "'",
                            ErrorContext{{}, n.name, n.opType, n.domain, 0});
            }
    }
    return out;
}

void valueToTypeProto(const ir::Value& value, onnx::TypeProto& type) {
    if (const std::string* raw = typeRawOf(value)) {
        type.ParseFromString(*raw);
        return;
    }
    auto* tt = type.mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(value.dtype));
    if (!value.shape) return;
    auto* shape = tt->mutable_shape();
    for (const auto& d : *value.shape) {
        auto* dim = shape->add_dim();
        if (d.known())
            dim->set_dim_value(d.value);
        else if (!d.symbol.empty())
            dim->set_dim_param(d.symbol);
    }
}

} // namespace detail

void tensorToProto(const ir::Tensor& tensor, const std::string& name, onnx::TensorProto& proto) {
    proto.Clear();
    if (!name.empty()) proto.set_name(name);
    if (!tensor.defined()) throw Error("cannot export undefined tensor '" + name + "'");
    proto.set_data_type(static_cast<int32_t>(tensor.dtype()));
    for (int64_t d : tensor.shape())
        proto.add_dims(d);
    if (tensor.dtype() == ir::DType::String) {
        for (const auto& s : tensor.strings())
            proto.add_string_data(s);
        return;
    }
    const size_t bytes = tensor.byteSize();
    if (bytes == 0) {
        proto.set_raw_data(std::string());
        return;
    }
    proto.set_raw_data(static_cast<const char*>(tensor.raw()), bytes);
}

namespace {

struct Exporter {
    const ir::Model& model;
    const detail::ExternalSink& sink;

    void emitTensor(const ir::Tensor& t, const std::string& name, onnx::TensorProto& proto) {
        if (sink && t.dtype() != ir::DType::String) {
            proto.Clear();
            proto.set_name(name);
            proto.set_data_type(static_cast<int32_t>(t.dtype()));
            for (int64_t d : t.shape())
                proto.add_dims(d);
            if (sink(t, proto)) return;
        }
        tensorToProto(t, name, proto);
    }

    void emitValueInfo(const ir::Graph& g, const std::string& name, onnx::ValueInfoProto& vi) {
        vi.set_name(name);
        const ir::Value* v = g.findValue(name);
        if (v && !v->doc.empty()) vi.set_doc_string(v->doc);
        if (v && (v->hasType || v->dtype != ir::DType::Undefined || typeRawOf(*v))) {
            detail::valueToTypeProto(*v, *vi.mutable_type());
            return;
        }
        // A weight listed as an input (old IR) without a record: its type is the tensor's.
        auto it = g.initializers.find(name);
        if (it != g.initializers.end()) {
            auto* tt = vi.mutable_type()->mutable_tensor_type();
            tt->set_elem_type(static_cast<int32_t>(it->second.dtype()));
            auto* shape = tt->mutable_shape();
            for (int64_t d : it->second.shape())
                shape->add_dim()->set_dim_value(d);
        }
    }

    void emitAttribute(const ir::Attribute& a, onnx::AttributeProto& ap) {
        if (!a.raw.empty()) {
            if (!ap.ParseFromString(a.raw))
                throw Error("attribute '" + a.name + "' holds a corrupt raw proto");
            return;
        }
        ap.set_name(a.name);
        if (!a.doc.empty()) ap.set_doc_string(a.doc);
        if (!a.refAttrName.empty()) ap.set_ref_attr_name(a.refAttrName);
        ap.set_type(static_cast<onnx::AttributeProto::AttributeType>(a.type));
        switch (a.type) {
        case ir::AttrType::Float:
            ap.set_f(a.f);
            break;
        case ir::AttrType::Int:
            ap.set_i(a.i);
            break;
        case ir::AttrType::String:
            ap.set_s(a.s);
            break;
        case ir::AttrType::Tensor:
            emitTensor(a.t, std::string(), *ap.mutable_t());
            break;
        case ir::AttrType::Graph:
            if (!a.g) throw Error("graph attribute '" + a.name + "' is empty");
            emitGraph(*a.g, *ap.mutable_g(), false);
            break;
        case ir::AttrType::Floats:
            for (float f : a.floats)
                ap.add_floats(f);
            break;
        case ir::AttrType::Ints:
            for (int64_t i : a.ints)
                ap.add_ints(i);
            break;
        case ir::AttrType::Strings:
            for (const auto& s : a.strings)
                ap.add_strings(s);
            break;
        case ir::AttrType::Tensors:
            for (const auto& t : a.tensors)
                emitTensor(t, std::string(), *ap.add_tensors());
            break;
        case ir::AttrType::Graphs:
            for (const auto& g : a.graphs) {
                if (!g) throw Error("graph attribute '" + a.name + "' is empty");
                emitGraph(*g, *ap.add_graphs(), false);
            }
            break;
        default:
            throw Error("attribute '" + a.name + "' has an unsupported type");
        }
    }

    void emitGraph(const ir::Graph& g, onnx::GraphProto& gp, bool mainGraph) {
        gp.set_name(g.name.empty() ? std::string(mainGraph ? "main" : "subgraph") : g.name);
        if (!g.doc.empty()) gp.set_doc_string(g.doc);
        std::unordered_set<std::string> listed;
        for (const auto& name : g.inputs) {
            emitValueInfo(g, name, *gp.add_input());
            listed.insert(name);
        }
        // IR < 4 requires every initializer to be a graph input as well.
        if (mainGraph && model.irVersion < 4)
            for (const auto& [name, t] : g.initializers)
                if (!listed.count(name)) {
                    emitValueInfo(g, name, *gp.add_input());
                    listed.insert(name);
                }
        for (const auto& name : g.outputs) {
            emitValueInfo(g, name, *gp.add_output());
            listed.insert(name);
        }
        for (const auto& [name, t] : g.initializers) {
            emitTensor(t, name, *gp.add_initializer());
            listed.insert(name);
        }
        for (const auto& raw : g.sparseInitializersRaw)
            if (!gp.add_sparse_initializer()->ParseFromString(raw)) throw Error("corrupt sparse initializer");
        const auto order = detail::exportOrder(g);
        std::vector<std::string> intermediates;
        for (ir::NodeId id : order) {
            const ir::Node& n = *g.node(id);
            auto* np = gp.add_node();
            if (!n.name.empty()) np->set_name(n.name);
            np->set_op_type(n.opType);
            if (!n.domain.empty()) np->set_domain(n.domain);
            if (!n.doc.empty()) np->set_doc_string(n.doc);
            for (const auto& in : n.inputs)
                np->add_input(in);
            for (const auto& out : n.outputs) {
                np->add_output(out);
                if (!out.empty() && !listed.count(out)) intermediates.push_back(out);
            }
            try {
                for (const auto& a : n.attributes)
                    emitAttribute(a, *np->add_attribute());
            } catch (Error& e) {
                if (e.context().node.empty()) {
                    e.context().node = n.name;
                    e.context().opType = n.opType;
                }
                throw;
            }
        }
        // value_info only for intermediate values whose type we know.
        for (const auto& name : intermediates) {
            const ir::Value* v = g.findValue(name);
            if (!v) continue;
            if (!typeRawOf(*v) && (!v->hasType || v->dtype == ir::DType::Undefined)) continue;
            auto* vi = gp.add_value_info();
            vi->set_name(name);
            if (!v->doc.empty()) vi->set_doc_string(v->doc);
            detail::valueToTypeProto(*v, *vi->mutable_type());
        }
    }
};

bool opsetsAllowIr8(const ir::Model& model) {
    // IR 8 is the newest the Debian checker knows; it covers ai.onnx <= 18 and ai.onnx.ml <= 3.
    for (const auto& op : model.opsets) {
        if ((op.domain.empty() || op.domain == "ai.onnx") && op.version > 18) return false;
        if (op.domain == "ai.onnx.ml" && op.version > 3) return false;
    }
    return true;
}

void sumTensorBytes(const ir::Graph& g, size_t& total) {
    for (const auto& [name, t] : g.initializers)
        total += t.byteSize();
    g.forEachNode([&](const ir::Node& n) {
        for (const auto& a : n.attributes) {
            if (a.type == ir::AttrType::Tensor) total += a.t.byteSize();
            for (const auto& t : a.tensors)
                total += t.byteSize();
            if (a.g) sumTensorBytes(*a.g, total);
            for (const auto& sg : a.graphs)
                if (sg) sumTensorBytes(*sg, total);
        }
    });
}

fs::path canonicalOrSelf(const fs::path& p) {
    std::error_code ec;
    auto c = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p) : c;
}

/// A file opened next to its final name; rename() makes it visible in one step.
class TempFile {
public:
    explicit TempFile(const fs::path& finalPath) : m_final(finalPath) {
        std::random_device rd;
        for (int attempt = 0; attempt < 16 && m_fd < 0; ++attempt) {
            m_path = finalPath;
            m_path += ".tmp-" + std::to_string(rd());
            m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        }
        if (m_fd < 0) throw Error("cannot create a temporary file next to '" + finalPath.string() + "'");
    }
    ~TempFile() {
        if (m_fd >= 0) ::close(m_fd);
        if (!m_committed) ::unlink(m_path.c_str());
    }
    void write(const void* data, size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t w = ::write(m_fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                throw Error("cannot write '" + m_final.string() + "' (disk full?)");
            }
            p += w;
            n -= static_cast<size_t>(w);
            m_size += static_cast<size_t>(w);
        }
    }
    size_t size() const { return m_size; }
    int fd() const { return m_fd; }
    const fs::path& path() const { return m_path; }
    void commit() {
        if (::fsync(m_fd) != 0 || ::close(m_fd) != 0) {
            m_fd = -1;
            throw Error("cannot write '" + m_final.string() + "'");
        }
        m_fd = -1;
        if (::rename(m_path.c_str(), m_final.c_str()) != 0)
            throw Error("cannot rename the temporary file to '" + m_final.string() + "'");
        m_committed = true;
        util::syncParentDirectory(m_final.string());
    }

private:
    fs::path m_final, m_path;
    int m_fd = -1;
    size_t m_size = 0;
    bool m_committed = false;
};

void runChecker(const onnx::ModelProto& proto) {
    try {
        onnx::checker::check_model(proto);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        // The checker appends a multi-line context; one line is enough for an error value.
        if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
        throw Error("ONNX checker: " + msg);
    }
}

} // namespace

namespace detail {

void exportModel(const ir::Model& model, onnx::ModelProto& proto, const ExternalSink& sink) {
    proto.Clear();
    int64_t ir = model.irVersion > 0 ? model.irVersion : 8;
    if (ir > 8 && opsetsAllowIr8(model)) ir = 8;
    proto.set_ir_version(ir);
    if (!model.producerName.empty()) proto.set_producer_name(model.producerName);
    if (!model.producerVersion.empty()) proto.set_producer_version(model.producerVersion);
    if (!model.domain.empty()) proto.set_domain(model.domain);
    if (model.modelVersion) proto.set_model_version(model.modelVersion);
    if (!model.doc.empty()) proto.set_doc_string(model.doc);
    for (const auto& op : model.opsets) {
        auto* o = proto.add_opset_import();
        if (!op.domain.empty() && op.domain != "ai.onnx") o->set_domain(op.domain);
        o->set_version(op.version);
    }
    for (const auto& [k, v] : model.metadata) {
        auto* m = proto.add_metadata_props();
        m->set_key(k);
        m->set_value(v);
    }
    for (const auto& raw : model.functionsRaw)
        if (!proto.add_functions()->ParseFromString(raw)) throw Error("corrupt model-local function");
    for (const auto& raw : model.trainingInfoRaw)
        if (!proto.add_training_info()->ParseFromString(raw)) throw Error("corrupt training info");
    Exporter exporter{model, sink};
    exporter.emitGraph(*model.graph, *proto.mutable_graph(), true);
}

} // namespace detail

void toProto(const ir::Model& model, onnx::ModelProto& proto) {
    detail::exportModel(model, proto, {});
}

Status checkModel(const ir::Model& model) {
    try {
        onnx::ModelProto proto;
        toProto(model, proto);
        runChecker(proto);
        return Status::success();
    } catch (const Error& e) {
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory while checking the model");
    } catch (const std::exception& e) {
        return Error(std::string("cannot check model: ") + e.what());
    }
}

Status saveModel(const ir::Model& model, const std::string& path, const SaveOptions& options) {
    const ErrorContext where{path, {}, {}, {}, 0};
    try {
        if (path.empty()) return Error("no output path given", where);
        const fs::path out = canonicalOrSelf(path);
        std::error_code ec;
        if (fs::is_directory(out, ec)) return Error("output path is a directory", where);
        if (!model.sourcePath.empty()) {
            const fs::path src = canonicalOrSelf(model.sourcePath);
            if (src == out || (fs::exists(out, ec) && fs::equivalent(src, out, ec)))
                return Error("refusing to overwrite the input model; choose another output path", where);
        }
        const fs::path dir = out.parent_path();
        if (!fs::is_directory(dir, ec)) return Error("output folder does not exist", where);

        // Our own structural validation always runs; the checker only where it knows every opset.
        if (Status valid = validateModel(model); !valid.ok()) {
            Error e = valid.error();
            if (e.context().file.empty()) e.context().file = path;
            return Error("invalid model: " + std::string(e.what()), e.context());
        }
        bool check = options.check;
        if (check) {
            if (auto reason = checkerSkipReason(model)) {
                check = false;
                if (options.notes) options.notes->push_back(*reason);
            }
        }

        bool external = options.externalData == SaveOptions::ExternalData::Always;
        if (options.externalData == SaveOptions::ExternalData::Auto) {
            size_t total = 0;
            sumTensorBytes(*model.graph, total);
            external = total > options.autoExternalAbove;
        }

        onnx::ModelProto proto;
        std::unique_ptr<TempFile> dataFile;
        const std::string dataName = out.filename().string() + ".data";
        if (external) {
            const fs::path dataPath = dir / dataName;
            if (!model.sourcePath.empty() && fs::exists(dataPath, ec) &&
                fs::equivalent(dataPath, canonicalOrSelf(model.sourcePath), ec))
                return Error("refusing to overwrite the input model with external data", where);
            dataFile = std::make_unique<TempFile>(dataPath);
            const size_t threshold = options.externalThreshold;
            detail::ExternalSink sink = [&](const ir::Tensor& t, onnx::TensorProto& tp) {
                const size_t bytes = t.byteSize();
                if (bytes < threshold || bytes == 0) return false;
                // 64-byte alignment lets a memory-mapped reader hand out aligned pointers.
                static const char kZeros[64] = {};
                const size_t pad = (64 - dataFile->size() % 64) % 64;
                dataFile->write(kZeros, pad);
                const size_t offset = dataFile->size();
                dataFile->write(t.raw(), bytes);
                tp.set_data_location(onnx::TensorProto::EXTERNAL);
                auto add = [&](const char* k, const std::string& v) {
                    auto* e = tp.add_external_data();
                    e->set_key(k);
                    e->set_value(v);
                };
                add("location", dataName);
                add("offset", std::to_string(offset));
                add("length", std::to_string(bytes));
                return true;
            };
            detail::exportModel(model, proto, sink);
        } else {
            detail::exportModel(model, proto, {});
        }

        const size_t size = proto.ByteSizeLong();
        if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
            return Error("the model is larger than protobuf's 2 GB limit; save with external data", where);
        if (check && !external) runChecker(proto);

        TempFile modelFile(out);
        // Streamed to the file: a serialized copy in memory would double the peak for big models.
        if (!proto.SerializeToFileDescriptor(modelFile.fd()))
            return Error("cannot write the model (disk full?)", where);
        if (dataFile) dataFile->commit();
        if (check && external) {
            // The checker resolves external data next to the file it reads; the temp file sits
            // in the output folder and the data file is already in place.
            try {
                onnx::checker::check_model(modelFile.path().string());
            } catch (const std::exception& e) {
                std::string msg = e.what();
                if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
                return Error("ONNX checker: " + msg, where);
            }
        }
        modelFile.commit();
        return Status::success();
    } catch (const Error& e) {
        Error copy = e;
        if (copy.context().file.empty()) copy.context().file = path;
        return copy;
    } catch (const std::bad_alloc&) {
        return Error("out of memory while saving the model", where);
    } catch (const std::exception& e) {
        return Error(std::string("cannot save model: ") + e.what(), where);
    }
}

Status writeTensorFile(const ir::Tensor& tensor, const std::string& name, const std::string& path) {
    const ErrorContext where{path, {}, {}, {}, 0};
    try {
        onnx::TensorProto proto;
        tensorToProto(tensor, name, proto);
        std::string bytes;
        if (!proto.SerializeToString(&bytes)) return Error("cannot serialize tensor '" + name + "'", where);
        const Status written = util::writeFileAtomically(path, bytes);
        if (!written.ok()) return Error(std::string(written.error().what()), where);
        return Status::success();
    } catch (const Error& e) {
        Error copy = e;
        if (copy.context().file.empty()) copy.context().file = path;
        return copy;
    } catch (const std::exception& e) {
        return Error(std::string("cannot write tensor: ") + e.what(), where);
    }
}

} // namespace opstudio::onnxio
