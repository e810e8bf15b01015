// Signal processing (opset 17): window functions, DFT, STFT, MelWeightMatrix.
//
// Complex tensors are real tensors with a trailing dimension of 2 (re, im); a trailing 1 means a
// real signal. Transforms are direct O(n^2) sums in double with exact twiddles
//   X[k] = sum_j x[j] * exp(-+2*pi*i*j*k / n)     (the inverse divides by n),
// which is plenty for the short frames these operators see in models.
#include "runtime/kernels/kernel_util.h"

#include <cmath>
#include <complex>
#include <numbers>

namespace opstudio::rt {
namespace {

using Complex = std::complex<double>;

/// Bound on transform lengths: the direct sum is O(n^2), and j * k must not overflow.
constexpr int64_t kMaxDftLength = int64_t{1} << 24;

/// Output dtype of the generator ops (output_datatype attribute, default float).
DType outputDType(const ir::Node& node) {
    const int64_t v = node.attrInt("output_datatype", static_cast<int64_t>(DType::F32));
    if (!ir::isValidDType(static_cast<int32_t>(v)))
        kernelFail(node, "invalid output_datatype " + std::to_string(v));
    const DType dt = static_cast<DType>(v);
    if (dt == DType::String || dt == DType::F16 || dt == DType::BF16 || dt == DType::C64 || dt == DType::C128)
        kernelFail(node, "unsupported output_datatype " + std::string(ir::dtypeName(dt)));
    return dt;
}

/// Scalar (or one-element) integer input.
int64_t scalarInt(const KernelContext& ctx, size_t i, const char* what) {
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1) kernelFail(ctx.node(), std::string(what) + " must be a scalar");
    return t.toInt64s()[0];
}

double scalarDouble(const KernelContext& ctx, size_t i, const char* what) {
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1) kernelFail(ctx.node(), std::string(what) + " must be a scalar");
    return t.toDoubles()[0];
}

// ---------------------------------------------------------------------------------------------
// Cosine-sum windows w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or
// size - 1 (symmetric). Hann: (0.5, 0.5, 0); Hamming: (25/46, 21/46, 0); Blackman: (0.42, 0.5, 0.08).
struct CosineWindow {
    double a0, a1, a2;
};

void runWindow(KernelContext& ctx, CosineWindow c) {
    const ir::Node& node = ctx.node();
    const int64_t size = scalarInt(ctx, 0, "size");
    if (size < 0) kernelFail(node, "window size must be >= 0");
    const bool periodic = node.attrInt("periodic", 1) != 0;
    const DType dt = outputDType(node);
    const double denom = static_cast<double>(periodic ? size : size - 1);
    Tensor& y = ctx.allocate(0, dt, {size});
    dispatchNumeric(dt, [&](auto tag) {
        using T = decltype(tag);
        T* out = y.data<T>();
        for (int64_t n = 0; n < size; ++n) {
            // A symmetric window of length 1 has N = 0; it is the single value a0 - a1 + a2 (the ONNX
            // function body divides 0 by 0; a one-sample window of 1 is the useful answer).
            const double phase = denom > 0 ? 2.0 * std::numbers::pi * static_cast<double>(n) / denom : 0.0;
            const double v = c.a0 - c.a1 * std::cos(phase) + c.a2 * std::cos(2.0 * phase);
            out[n] = static_cast<T>(v);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// One transform of `n` input samples (zero-padded or truncated to `length`), keeping `outLen` bins.
void dft(const std::vector<Complex>& in, std::vector<Complex>& out, int64_t length, int64_t outLen,
         bool inverse) {
    const double sign = inverse ? 1.0 : -1.0;
    const int64_t used = std::min<int64_t>(length, static_cast<int64_t>(in.size()));
    out.assign(static_cast<size_t>(outLen), Complex(0, 0));
    for (int64_t k = 0; k < outLen; ++k) {
        Complex acc(0, 0);
        for (int64_t j = 0; j < used; ++j) {
            // (j * k) mod length keeps the twiddle angle small, so it stays exact for long transforms.
            const double angle = sign * 2.0 * std::numbers::pi * static_cast<double>((j * k) % length) /
                                 static_cast<double>(length);
            acc += in[static_cast<size_t>(j)] * Complex(std::cos(angle), std::sin(angle));
        }
        out[static_cast<size_t>(k)] = inverse ? acc / static_cast<double>(length) : acc;
    }
}

void runDft(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2 || (x.dim(-1) != 1 && x.dim(-1) != 2))
        kernelFail(node, "DFT input must be [..., n, 1] (real) or [..., n, 2] (complex)");
    const int64_t axisAttr = node.attrInt("axis", 1);
    // The axis indexes the signal dims, i.e. every dim but the trailing complex one.
    if (axisAttr < -(x.rank() - 1) || axisAttr >= x.rank() - 1) kernelFail(node, "axis out of range");
    const int64_t axis = normalizeAxis(axisAttr, x.rank() - 1);
    const bool inverse = node.attrInt("inverse", 0) != 0;
    const bool onesided = node.attrInt("onesided", 0) != 0;
    const int64_t n = x.dim(static_cast<int>(axis));
    const int64_t length = ctx.hasInput(1) ? scalarInt(ctx, 1, "dft_length") : n;
    if (length <= 0 || length > kMaxDftLength)
        kernelFail(node, "dft_length " + std::to_string(length) + " out of range");
    if (onesided && inverse) kernelFail(node, "onesided inverse DFT is not supported");
    const int64_t outLen = onesided ? length / 2 + 1 : length;
    const bool complexIn = x.dim(-1) == 2;

    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d)
        outer *= x.dim(static_cast<int>(d));
    for (int64_t d = axis + 1; d < x.rank() - 1; ++d)
        inner *= x.dim(static_cast<int>(d));
    Shape outShape = x.shape();
    outShape[static_cast<size_t>(axis)] = outLen;
    outShape.back() = 2;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        T* out = ctx.allocate(0, x.dtype(), outShape).template data<T>();
        const int64_t comps = complexIn ? 2 : 1;
        std::vector<Complex> line(static_cast<size_t>(n)), result;
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < inner; ++i) {
                for (int64_t j = 0; j < n; ++j) {
                    const T* p = in + ((o * n + j) * inner + i) * comps;
                    line[static_cast<size_t>(j)] =
                        Complex(static_cast<double>(p[0]), complexIn ? static_cast<double>(p[1]) : 0.0);
                }
                dft(line, result, length, outLen, inverse);
                for (int64_t k = 0; k < outLen; ++k) {
                    T* q = out + ((o * outLen + k) * inner + i) * 2;
                    q[0] = static_cast<T>(result[static_cast<size_t>(k)].real());
                    q[1] = static_cast<T>(result[static_cast<size_t>(k)].imag());
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// STFT: signal [B, L, 1|2], frame_step, optional window [W], optional frame_length. Frame f covers
// samples [f * step, f * step + W); output [B, frames, bins, 2] with frames = (L - W) / step + 1
// and bins = W / 2 + 1 when onesided (the default), else W.
void runStft(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2))
        kernelFail(node, "signal must be [batch, length, 1|2]");
    const int64_t step = scalarInt(ctx, 1, "frame_step");
    if (step <= 0) kernelFail(node, "frame_step must be positive");
    const bool hasWindow = ctx.hasInput(2);
    int64_t frameLength = 0;
    if (ctx.hasInput(3)) frameLength = scalarInt(ctx, 3, "frame_length");
    if (hasWindow) {
        const Tensor& w = ctx.input(2);
        if (w.rank() != 1) kernelFail(node, "window must be 1-D");
        if (ctx.hasInput(3) && frameLength != w.dim(0))
            kernelFail(node, "frame_length must equal the window length");
        frameLength = w.dim(0);
    }
    if (frameLength <= 0 || frameLength > kMaxDftLength)
        kernelFail(node, "STFT needs a window or a positive frame_length");
    const bool complexIn = x.dim(2) == 2;
    const bool onesided = node.attrInt("onesided", 1) != 0;
    if (onesided && complexIn) kernelFail(node, "onesided STFT needs a real signal");
    const int64_t batch = x.dim(0), len = x.dim(1);
    if (len < frameLength) kernelFail(node, "signal is shorter than one frame");
    const int64_t frames = (len - frameLength) / step + 1;
    const int64_t bins = onesided ? frameLength / 2 + 1 : frameLength;
    dispatchFloat(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.data<T>();
        std::vector<double> window(static_cast<size_t>(frameLength), 1.0);
        if (hasWindow) {
            const std::vector<double> w = ctx.input(2).toDoubles();
            window.assign(w.begin(), w.end());
        }
        T* out = ctx.allocate(0, x.dtype(), {batch, frames, bins, 2}).template data<T>();
        const int64_t comps = complexIn ? 2 : 1;
        std::vector<Complex> frame(static_cast<size_t>(frameLength)), result;
        for (int64_t b = 0; b < batch; ++b) {
            for (int64_t f = 0; f < frames; ++f) {
                for (int64_t j = 0; j < frameLength; ++j) {
                    const T* p = in + (b * len + f * step + j) * comps;
                    frame[static_cast<size_t>(j)] =
                        window[static_cast<size_t>(j)] *
                        Complex(static_cast<double>(p[0]), complexIn ? static_cast<double>(p[1]) : 0.0);
                }
                dft(frame, result, frameLength, bins, false);
                T* q = out + ((b * frames + f) * bins) * 2;
                for (int64_t k = 0; k < bins; ++k) {
                    q[2 * k] = static_cast<T>(result[static_cast<size_t>(k)].real());
                    q[2 * k + 1] = static_cast<T>(result[static_cast<size_t>(k)].imag());
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// MelWeightMatrix [dft_length / 2 + 1, num_mel_bins]: triangular filters between mel points
// spaced evenly on mel = 2595 log10(1 + hz / 700), each mapped to the spectrogram bin
// floor((dft_length + 1) * hz / sample_rate). As in the ONNX reference, the mel range is split in
// num_mel_bins + 2 steps (so the top point lies one step below upper_edge_hertz).
void runMelWeightMatrix(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const int64_t melBins = scalarInt(ctx, 0, "num_mel_bins");
    const int64_t dftLength = scalarInt(ctx, 1, "dft_length");
    const int64_t sampleRate = scalarInt(ctx, 2, "sample_rate");
    const double lowerHz = scalarDouble(ctx, 3, "lower_edge_hertz");
    const double upperHz = scalarDouble(ctx, 4, "upper_edge_hertz");
    if (melBins <= 0 || dftLength <= 0 || sampleRate <= 0)
        kernelFail(node, "num_mel_bins, dft_length and sample_rate must be positive");
    if (!(lowerHz >= 0 && lowerHz <= upperHz && std::isfinite(upperHz)))
        kernelFail(node, "need 0 <= lower_edge_hertz <= upper_edge_hertz");
    const int64_t specBins = dftLength / 2 + 1;
    auto toMel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
    const double lowMel = toMel(lowerHz), highMel = toMel(upperHz);
    const double melStep = (highMel - lowMel) / static_cast<double>(melBins + 2);
    std::vector<int64_t> points(static_cast<size_t>(melBins + 2));
    for (int64_t i = 0; i < melBins + 2; ++i) {
        const double hz =
            700.0 * (std::pow(10.0, (static_cast<double>(i) * melStep + lowMel) / 2595.0) - 1.0);
        points[static_cast<size_t>(i)] = static_cast<int64_t>(
            std::floor(static_cast<double>(dftLength + 1) * hz / static_cast<double>(sampleRate)));
    }
    std::vector<double> w(static_cast<size_t>(specBins * melBins), 0.0);
    auto set = [&](int64_t j, int64_t i, double v) {
        if (j >= 0 && j < specBins) w[static_cast<size_t>(j * melBins + i)] = v;
    };
    for (int64_t i = 0; i < melBins; ++i) {
        const int64_t lo = points[static_cast<size_t>(i)], center = points[static_cast<size_t>(i + 1)],
                      hi = points[static_cast<size_t>(i + 2)];
        if (center == lo) {
            set(center, i, 1.0);
        } else {
            for (int64_t j = lo; j <= center; ++j)
                set(j, i, static_cast<double>(j - lo) / static_cast<double>(center - lo));
        }
        for (int64_t j = center; j < hi; ++j)
            set(j, i, static_cast<double>(hi - j) / static_cast<double>(hi - center));
    }
    const DType dt = outputDType(node);
    Tensor& y = ctx.allocate(0, dt, {specBins, melBins});
    dispatchNumeric(dt, [&](auto tag) {
        using T = decltype(tag);
        T* out = y.data<T>();
        for (size_t i = 0; i < w.size(); ++i)
            out[i] = static_cast<T>(w[i]);
    });
}

} // namespace

void registerSignalKernels(KernelRegistry& r) {
    r.add({"HannWindow", 17, kLatestOpset, ""}, fn([](KernelContext& ctx) {
              runWindow(ctx, {0.5, 0.5, 0.0});
          }));
    r.add({"HammingWindow", 17, kLatestOpset, ""}, fn([](KernelContext& ctx) {
              runWindow(ctx, {25.0 / 46.0, 21.0 / 46.0, 0.0});
          }));
    r.add({"BlackmanWindow", 17, kLatestOpset, ""}, fn([](KernelContext& ctx) {
              runWindow(ctx, {0.42, 0.5, 0.08});
          }));
    // DFT-20 moves axis to an input (default -2); only the opset-17 form is implemented.
    r.add({"DFT", 17, 19, ""}, fn(runDft));
    r.add({"STFT", 17, kLatestOpset, ""}, fn(runStft));
    r.add({"MelWeightMatrix", 17, kLatestOpset, ""}, fn(runMelWeightMatrix));
}

} // namespace opstudio::rt
