// Bandwidth benchmark: a plain reference streaming read beside the machine probe, at 1 thread and
// at all hardware threads, and the probe's DRAM figure as a ratio of the reference. Not a test
// (timings are never asserted); it is how the probe's DRAM ceiling is checked against what a
// well-written kernel reaches (issue: "≥ 95 % of a plain streaming read measured right beside it").
//
// The reference is written independently of the probe, the way one would write it by hand: sum
// over a 1 GiB array of doubles, AVX-512 loads where the CPU has them (AVX2 otherwise), four
// independent accumulators per thread, pages first touched by the thread that later reads them,
// median of 10 passes. Each pass is timed two ways: wall time of the whole parallel pass, and all
// bytes over the slowest thread's CPU time (what the probe uses, so that a busy machine still
// gives a figure). On a quiet machine the two agree; on a loaded one only the CPU-time figure
// means anything.
//
// Usage: opstudio_bandwidth_bench [--rounds N] [--mib M]
#include "opstudio/profile/machine.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

namespace {

volatile double g_sink = 0;

double wallSeconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

__attribute__((target("avx512f"))) double sumAvx512(const double* p, size_t n) {
    __m512d a = _mm512_setzero_pd(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm512_add_pd(a, _mm512_load_pd(p + i));
        b = _mm512_add_pd(b, _mm512_load_pd(p + i + 8));
        c = _mm512_add_pd(c, _mm512_load_pd(p + i + 16));
        d = _mm512_add_pd(d, _mm512_load_pd(p + i + 24));
    }
    alignas(64) double out[8]; // a store, not _mm512_reduce_add_pd (GCC 12 warns inside it)
    _mm512_store_pd(out, _mm512_add_pd(_mm512_add_pd(a, b), _mm512_add_pd(c, d)));
    double r = 0;
    for (double v : out) r += v;
    for (; i < n; ++i) r += p[i];
    return r;
}

__attribute__((target("avx2"))) double sumAvx2(const double* p, size_t n) {
    __m256d a = _mm256_setzero_pd(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a = _mm256_add_pd(a, _mm256_load_pd(p + i));
        b = _mm256_add_pd(b, _mm256_load_pd(p + i + 4));
        c = _mm256_add_pd(c, _mm256_load_pd(p + i + 8));
        d = _mm256_add_pd(d, _mm256_load_pd(p + i + 12));
    }
    alignas(32) double out[4];
    _mm256_store_pd(out, _mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d)));
    double r = out[0] + out[1] + out[2] + out[3];
    for (; i < n; ++i) r += p[i];
    return r;
}

struct Figures {
    double wallMedian = 0, cpuMedian = 0, cpuBest = 0, cpuWorst = 0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

Figures referenceRead(int threads, size_t bytes, int passes) {
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const size_t n = bytes / sizeof(double);
    auto* p = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
    if (!p) {
        std::fprintf(stderr, "cannot allocate %zu bytes\n", bytes);
        std::exit(1);
    }
    const size_t chunk = (n / static_cast<size_t>(threads)) & ~size_t{7};
    auto slice = [&](int t, const double*& begin, size_t& len) {
        begin = p + chunk * static_cast<size_t>(t);
        len = t == threads - 1 ? n - chunk * static_cast<size_t>(t) : chunk;
    };
    // First touch by the thread that reads the slice later.
#pragma omp parallel num_threads(threads)
    {
        const double* b;
        size_t len;
        slice(omp_get_thread_num(), b, len);
        std::fill(const_cast<double*>(b), const_cast<double*>(b) + len, 1.0);
    }
    std::vector<double> wall, cpu;
    for (int r = 0; r < passes; ++r) {
        std::vector<double> secs(static_cast<size_t>(threads), 0.0);
        double w0 = 0, w1 = 0, sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            const int t = omp_get_thread_num();
            const double* b;
            size_t len;
            slice(t, b, len);
#pragma omp barrier
#pragma omp master
            w0 = wallSeconds();
            const double c0 = threadCpuSeconds();
            sink += avx512 ? sumAvx512(b, len) : sumAvx2(b, len);
            secs[static_cast<size_t>(t)] = threadCpuSeconds() - c0;
#pragma omp barrier
#pragma omp master
            w1 = wallSeconds();
        }
        g_sink = g_sink + sink;
        wall.push_back(static_cast<double>(bytes) / (w1 - w0) / 1e9);
        cpu.push_back(static_cast<double>(bytes) / *std::max_element(secs.begin(), secs.end()) / 1e9);
    }
    std::free(p);
    Figures f;
    f.wallMedian = median(wall);
    f.cpuMedian = median(cpu);
    f.cpuBest = *std::max_element(cpu.begin(), cpu.end());
    f.cpuWorst = *std::min_element(cpu.begin(), cpu.end());
    return f;
}

double loadAverage() {
    double l = 0;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1) l = 0;
        std::fclose(f);
    }
    return l;
}

} // namespace

int main(int argc, char** argv) {
    int rounds = 3;
    size_t mib = 1024;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--mib") && i + 1 < argc) mib = static_cast<size_t>(std::atol(argv[++i]));
        else {
            std::fprintf(stderr, "usage: opstudio_bandwidth_bench [--rounds N] [--mib M]\n");
            return 2;
        }
    }
    __builtin_cpu_init();
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("reference: %zu MiB of doubles, %s, 4 accumulators, median of 10 passes\n", mib,
                __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2");
    std::printf("%5s %7s %5s | %10s %10s %22s | %10s %22s | %12s\n", "round", "threads", "load", "ref wall",
                "ref cpu", "ref cpu best..worst", "probe", "probe med..worst", "probe/ref");
    for (int round = 0; round < rounds; ++round) {
        const opstudio::profile::MachineInfo m = opstudio::profile::measureMachine(hw);
        for (const auto& c : m.ceilings) {
            const Figures ref = referenceRead(c.threads, mib << 20, 10);
            std::printf("%5d %7d %5.1f | %10.2f %10.2f %10.2f..%-10.2f | %10.2f %10.2f..%-10.2f | %11.1f%%\n", round,
                        c.threads, loadAverage(), ref.wallMedian, ref.cpuMedian, ref.cpuBest, ref.cpuWorst,
                        c.memGBps, c.memMedianGBps, c.memWorstGBps, 100.0 * c.memGBps / ref.cpuMedian);
        }
        std::fflush(stdout);
    }
    return 0;
}
