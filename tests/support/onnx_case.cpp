#include "support/onnx_case.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace opstudio::testing {

namespace {

std::vector<std::string> pbFiles(const fs::path& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
        const fs::path p = dir / (prefix + std::to_string(i) + ".pb");
        if (!fs::exists(p)) break;
        out.push_back(p.string());
    }
    return out;
}

std::string compare(const ir::Tensor& got, const ir::Tensor& want, const CaseOptions& o, double& maxAbs) {
    if (got.dtype() != want.dtype())
        return "dtype " + std::string(ir::dtypeName(got.dtype())) + " != expected " + std::string(ir::dtypeName(want.dtype()));
    if (got.shape() != want.shape())
        return "shape " + ir::shapeToString(got.shape()) + " != expected " + ir::shapeToString(want.shape());
    if (got.dtype() == ir::DType::String) return got.strings() == want.strings() ? "" : "string values differ";
    const auto a = got.toDoubles();
    const auto b = want.toDoubles();
    double scale = 0.0;
    if (o.scaleTolerance > 0)
        for (double v : b)
            if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < a.size(); ++i) {
        const bool nanA = std::isnan(a[i]), nanB = std::isnan(b[i]);
        if (nanA || nanB) {
            if (nanA != nanB) return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
            continue;
        }
        if (std::isinf(a[i]) || std::isinf(b[i])) {
            if (a[i] != b[i]) return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
            continue;
        }
        const double d = std::fabs(a[i] - b[i]);
        maxAbs = std::max(maxAbs, d);
        const double tol = o.scaleTolerance > 0 ? o.scaleTolerance * std::max(scale, 1e-12)
                                                : o.atol + o.rtol * std::fabs(b[i]);
        if (d > tol)
            return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs expected " + std::to_string(b[i]) +
                   " (|diff| " + std::to_string(d) + " > " + std::to_string(tol) + ")";
    }
    return "";
}

/// The ONNX test generator stores bfloat16 tensors as uint16 (same bits); read them back as bfloat16.
ir::Tensor asBfloat16(const ir::Tensor& t) {
    if (t.dtype() != ir::DType::U16) return t;
    return ir::Tensor::view(ir::DType::BF16, t.shape(), t.buffer(), t.offset());
}

bool looksUnsupported(const std::string& msg) {
    return msg.find("unsupported operator") != std::string::npos || msg.find("is not supported") != std::string::npos;
}

} // namespace

std::vector<std::string> listCaseDirs(const std::string& suiteDir) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(suiteDir, ec)) return out;
    for (const auto& e : fs::directory_iterator(suiteDir, ec))
        if (e.is_directory() && fs::exists(e.path() / "model.onnx")) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

CaseResult runOnnxCase(const std::string& caseDir, const CaseOptions& options) {
    CaseResult r;
    try {
        auto loaded = onnxio::loadModel((fs::path(caseDir) / "model.onnx").string());
        if (!loaded) {
            r.message = "load: " + loaded.error().describe();
            return r;
        }
        auto model = std::make_shared<ir::Model>(std::move(loaded.value()));
        rt::SessionOptions so;
        so.threads = options.threads;
        so.reference = options.reference;
        auto session = rt::Session::create(model, so);
        if (!session) {
            r.message = session.error().describe();
            r.outcome = looksUnsupported(r.message) ? CaseOutcome::Unsupported : CaseOutcome::Failed;
            return r;
        }
        const auto realInputs = model->graph->realInputs();
        int sets = 0;
        for (int s = 0;; ++s) {
            const fs::path dir = fs::path(caseDir) / ("test_data_set_" + std::to_string(s));
            if (!fs::is_directory(dir)) break;
            ++sets;
            std::map<std::string, ir::Tensor> feeds;
            const auto inputs = pbFiles(dir, "input_");
            for (size_t i = 0; i < inputs.size(); ++i) {
                std::string name;
                auto t = onnxio::readTensorFile(inputs[i], &name);
                if (!t) {
                    r.message = "input file: " + t.error().describe();
                    return r;
                }
                if (name.empty() || std::find(model->graph->inputs.begin(), model->graph->inputs.end(), name) ==
                                        model->graph->inputs.end())
                    name = i < realInputs.size() ? realInputs[i] : name;
                const ir::Value* v = model->graph->findValue(name);
                if (v && v->dtype == ir::DType::BF16) t.value() = asBfloat16(t.value());
                feeds[name] = std::move(t.value());
            }
            auto outs = session.value()->run(feeds);
            if (!outs) {
                r.message = "run: " + outs.error().describe();
                r.outcome = looksUnsupported(r.message) ? CaseOutcome::Unsupported : CaseOutcome::Failed;
                return r;
            }
            const auto expected = pbFiles(dir, "output_");
            if (expected.size() > outs.value().size()) {
                r.message = "model produced " + std::to_string(outs.value().size()) + " outputs, expected " +
                            std::to_string(expected.size());
                return r;
            }
            for (size_t i = 0; i < expected.size(); ++i) {
                auto want = onnxio::readTensorFile(expected[i]);
                if (!want) {
                    r.message = "output file: " + want.error().describe();
                    return r;
                }
                if (outs.value()[i].tensor.dtype() == ir::DType::BF16) want.value() = asBfloat16(want.value());
                const std::string why = compare(outs.value()[i].tensor, want.value(), options, r.maxAbsError);
                if (!why.empty()) {
                    r.message = "output " + std::to_string(i) + " ('" + outs.value()[i].name + "'): " + why;
                    return r;
                }
            }
        }
        if (sets == 0) {
            r.message = "no test_data_set folders";
            return r;
        }
        r.outcome = CaseOutcome::Passed;
        return r;
    } catch (const std::exception& e) {
        r.message = std::string("exception: ") + e.what();
        return r;
    }
}

CaseResult runOnnxCaseIsolated(const std::string& caseDir, const CaseOptions& options, int timeoutSeconds) {
    int fds[2];
    if (pipe(fds) != 0) return runOnnxCase(caseDir, options);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(static_cast<unsigned>(timeoutSeconds));
        const CaseResult r = runOnnxCase(caseDir, options);
        std::string msg = std::to_string(static_cast<int>(r.outcome)) + "\n" + std::to_string(r.maxAbsError) + "\n" + r.message;
        size_t off = 0;
        while (off < msg.size()) {
            const ssize_t n = write(fds[1], msg.data() + off, msg.size() - off);
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string data;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CaseResult r;
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        r.message = sig == SIGALRM ? "timed out after " + std::to_string(timeoutSeconds) + " s"
                                   : "crashed with signal " + std::to_string(sig);
        return r;
    }
    const size_t a = data.find('\n');
    const size_t b = a == std::string::npos ? a : data.find('\n', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
        r.message = "child produced no result";
        return r;
    }
    r.outcome = static_cast<CaseOutcome>(std::stoi(data.substr(0, a)));
    r.maxAbsError = std::stod(data.substr(a + 1, b - a - 1));
    r.message = data.substr(b + 1);
    return r;
}

} // namespace opstudio::testing
