// Machine probe. Peak arithmetic is measured with register-only loops of independent FMAs
// (enough accumulators to cover FMA latency x ports, so the loop is throughput-bound), compiled
// per ISA with target attributes and chosen at run time: the core itself is built for x86-64-v2.
#include "opstudio/profile/machine.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <time.h>

namespace opstudio::profile {

namespace {

using SteadyClock = std::chrono::steady_clock;

// 12 accumulators: 4-cycle FMA latency x 2 FMA ports needs >= 8 in flight.
constexpr int kAcc = 12;
// Iterations per thread per trial: ~40 ms at AVX-512 rates, long enough to swamp timer noise.
constexpr int64_t kFmaIters = 20'000'000;
constexpr int64_t kVnniIters = 10'000'000;
// The streamed buffer is eight times the last-level cache, within [512 MiB, 1 GiB] and at most a
// quarter of the available memory: at twice the L3 a part of each pass still hits in it.
constexpr size_t kMinStreamBytes = size_t{512} << 20;
constexpr size_t kMaxStreamBytes = size_t{1} << 30;
constexpr int kTrials = 3;
// DRAM passes per thread count (~50 ms each): the best is the ceiling, median and worst the spread.
constexpr int kDramPasses = 9;
constexpr int kCacheRepeats = 200;

__attribute__((target("avx512f"))) double fmaLoopAvx512(int64_t iters) {
    __m512 acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_ps(0.001f * static_cast<float>(k));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    __m512 s = acc[0];
    for (int k = 1; k < kAcc; ++k) s = _mm512_add_ps(s, acc[k]);
    alignas(64) float out[16];
    _mm512_store_ps(out, s);
    double r = 0;
    for (float v : out) r += v;
    return r;
}

__attribute__((target("avx2,fma"))) double fmaLoopAvx2(int64_t iters) {
    __m256 acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_set1_ps(0.001f * static_cast<float>(k));
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    alignas(32) float out[8];
    __m256 s = acc[0];
    for (int k = 1; k < kAcc; ++k) s = _mm256_add_ps(s, acc[k]);
    _mm256_store_ps(out, s);
    double r = 0;
    for (float v : out) r += v;
    return r;
}

// SSE fallback: separate mul + add (no FMA), 4 lanes; counted as 2 flops per lane per pair.
double fmaLoopSse(int64_t iters) {
    __m128 acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm_set1_ps(0.001f * static_cast<float>(k));
    const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int k = 0; k < kAcc; ++k) acc[k] = _mm_add_ps(_mm_mul_ps(acc[k], a), b);
    alignas(16) float out[4];
    __m128 s = acc[0];
    for (int k = 1; k < kAcc; ++k) s = _mm_add_ps(s, acc[k]);
    _mm_store_ps(out, s);
    return static_cast<double>(out[0]) + out[1] + out[2] + out[3];
}

// vpdpbusd: 64 u8·s8 products summed into 16 int32 lanes = 128 integer ops per instruction.
__attribute__((target("avx512f,avx512vnni"))) double vnniLoop(int64_t iters) {
    __m512i acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_epi32(k);
    const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
    for (int64_t i = 0; i < iters; ++i)
        for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    __m512i s = acc[0];
    for (int k = 1; k < kAcc; ++k) s = _mm512_add_epi32(s, acc[k]);
    alignas(64) int32_t out[16];
    _mm512_store_si512(out, s);
    double r = 0;
    for (int32_t v : out) r += v;
    return r;
}

// Streaming reads: eight independent accumulators, so the adds never wait on each other and the
// loop issues loads as fast as the memory system returns them (a read with one accumulator is
// bound by add latency, not bandwidth, once the data is in L1/L2). The vector width matches the
// widest loads the CPU has: AVX-512 moves 64 bytes per load, as the runtime's AVX-512 kernels do.
__attribute__((target("avx512f"))) double streamReadAvx512(const float* p, size_t n) {
    __m512 s[8];
    for (auto& v : s) v = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 128 <= n; i += 128)
        for (int k = 0; k < 8; ++k) s[k] = _mm512_add_ps(s[k], _mm512_load_ps(p + i + 16 * k));
    for (int k = 1; k < 8; ++k) s[0] = _mm512_add_ps(s[0], s[k]);
    alignas(64) float out[16]; // a store, not _mm512_reduce_add_ps (GCC 12 warns inside it)
    _mm512_store_ps(out, s[0]);
    double r = 0;
    for (float v : out) r += v;
    for (; i < n; ++i) r += p[i];
    return r;
}

__attribute__((target("avx2"))) double streamReadAvx2(const float* p, size_t n) {
    __m256 s[8];
    for (auto& v : s) v = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 8; ++k) s[k] = _mm256_add_ps(s[k], _mm256_load_ps(p + i + 8 * k));
    for (int k = 1; k < 8; ++k) s[0] = _mm256_add_ps(s[0], s[k]);
    alignas(32) float out[8];
    _mm256_store_ps(out, s[0]);
    double r = 0;
    for (float v : out) r += v;
    for (; i < n; ++i) r += p[i];
    return r;
}

double streamReadSse(const float* p, size_t n) {
    __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm_add_ps(s0, _mm_load_ps(p + i));
        s1 = _mm_add_ps(s1, _mm_load_ps(p + i + 4));
        s2 = _mm_add_ps(s2, _mm_load_ps(p + i + 8));
        s3 = _mm_add_ps(s3, _mm_load_ps(p + i + 12));
    }
    alignas(16) float out[4];
    _mm_store_ps(out, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
    double r = static_cast<double>(out[0]) + out[1] + out[2] + out[3];
    for (; i < n; ++i) r += p[i];
    return r;
}

using ReadFn = double (*)(const float*, size_t);

ReadFn readFnFor(const std::string& isa) {
    if (isa == "avx512") return streamReadAvx512;
    if (isa == "avx2") return streamReadAvx2;
    return streamReadSse;
}

volatile double g_sink = 0; // keeps the probe loops from being optimised away

double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `work` once on every thread, kTrials times, and returns each trial's per-thread CPU
// seconds. CPU time, not wall time: the probe must give the same answer on a machine that is
// busy with other work (a build on the other core), where wall time measures the scheduler.
template <typename F> std::vector<std::vector<double>> cpuSecondsPerTrial(int threads, int trials, F&& work) {
    std::vector<std::vector<double>> out;
    for (int t = 0; t < trials; ++t) {
        std::vector<double> secs(static_cast<size_t>(threads), 0.0);
        double sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            const int tid = omp_get_thread_num();
            // Start together: a thread that runs alone while the other is still waking up sees
            // the whole memory bandwidth, which is not what all threads get.
#pragma omp barrier
            const double c0 = threadCpuSeconds();
            sink += work(tid, omp_get_num_threads());
            secs[static_cast<size_t>(tid)] = threadCpuSeconds() - c0;
        }
        g_sink = g_sink + sink;
        out.push_back(std::move(secs));
    }
    return out;
}

// Throughput of equal per-thread work: each thread's rate summed (cores add up), best trial.
double bestSummedRate(const std::vector<std::vector<double>>& trials, double workPerThread) {
    double best = 0;
    for (const auto& secs : trials) {
        double rate = 0;
        for (double s : secs) rate += s > 0 ? workPerThread / s : 0;
        best = std::max(best, rate);
    }
    return best;
}

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};
using FloatBuffer = std::unique_ptr<float, FreeDeleter>;

FloatBuffer allocateFloats(size_t floats, const char* what) {
    const size_t bytes = (floats * sizeof(float) + 4095) & ~size_t{4095};
    FloatBuffer p(static_cast<float*>(std::aligned_alloc(4096, bytes)));
    if (!p) throw Error(std::string("machine probe: cannot allocate the ") + what);
    return p;
}

// Thread `tid` of `n` owns floats [begin, begin + len) of a buffer of `floats`: contiguous slices
// on 128-byte boundaries, the last one taking the remainder.
void sliceOf(size_t floats, int tid, int n, size_t& begin, size_t& len) {
    const size_t chunk = (floats / static_cast<size_t>(n)) & ~size_t{31};
    begin = chunk * static_cast<size_t>(tid);
    len = tid == n - 1 ? floats - begin : chunk;
}

// Spread of a bandwidth over passes: the best pass is the ceiling a kernel can reach.
void spreadOf(std::vector<double> rates, double& best, double& median, double& worst) {
    std::sort(rates.begin(), rates.end());
    best = rates.back();
    median = rates[rates.size() / 2];
    worst = rates.front();
}

// DRAM read bandwidth with `threads` threads. The buffer is allocated here and each thread first
// touches the slice it will read, so its pages are mapped (and on a NUMA machine placed) where they
// are read, as they are for a tensor that a kernel's own threads wrote. Plain pages, no madvise:
// the runtime's tensors get what malloc gives them, and that is the bandwidth their kernels meet.
// A pass's rate is all bytes over the slowest thread's CPU time (bandwidth is shared).
void measureDramRead(int threads, ReadFn read, size_t bytes, Ceilings& c) {
    const size_t floats = (bytes / sizeof(float)) & ~size_t{31};
    FloatBuffer buffer = allocateFloats(floats, "bandwidth buffer");
    float* base = buffer.get();
#pragma omp parallel num_threads(threads)
    {
        size_t begin, len;
        sliceOf(floats, omp_get_thread_num(), omp_get_num_threads(), begin, len);
        std::fill(base + begin, base + begin + len, 1.0f);
    }
    std::vector<double> rates;
    for (const auto& secs : cpuSecondsPerTrial(threads, kDramPasses, [&](int tid, int n) {
             size_t begin, len;
             sliceOf(floats, tid, n, begin, len);
             return read(base + begin, len);
         })) {
        const double slowest = *std::max_element(secs.begin(), secs.end());
        if (slowest > 0) rates.push_back(static_cast<double>(floats * sizeof(float)) / slowest / 1e9);
    }
    if (rates.empty()) return;
    spreadOf(std::move(rates), c.memGBps, c.memMedianGBps, c.memWorstGBps);
}

Ceilings measureCeilings(int threads, const std::string& isa, bool vnni, size_t streamBytes, const float* cache,
                         size_t cacheFloats) {
    Ceilings c;
    c.threads = threads;
    int lanes = 4;
    double (*fmaLoop)(int64_t) = fmaLoopSse;
    int64_t iters = kFmaIters / 4;
    if (isa == "avx512") {
        fmaLoop = fmaLoopAvx512;
        lanes = 16;
        iters = kFmaIters;
    } else if (isa == "avx2") {
        fmaLoop = fmaLoopAvx2;
        lanes = 8;
        iters = kFmaIters / 2;
    }
    // flops per thread = iterations · accumulators · lanes · 2 (an FMA is a multiply and an add).
    const double fmaFlops = static_cast<double>(iters) * kAcc * lanes * 2;
    c.fp32Gflops = bestSummedRate(cpuSecondsPerTrial(threads, kTrials, [&](int, int) { return fmaLoop(iters); }),
                                  fmaFlops) / 1e9;
    if (vnni) {
        const double ops = static_cast<double>(kVnniIters) * kAcc * 128;
        c.int8Gops = bestSummedRate(cpuSecondsPerTrial(threads, kTrials, [&](int, int) { return vnniLoop(kVnniIters); }),
                                    ops) / 1e9;
    }
    const ReadFn read = readFnFor(isa);
    measureDramRead(threads, read, streamBytes, c);
    // Cache: each thread re-reads a private buffer that fits its L2.
    c.cacheGBps = bestSummedRate(cpuSecondsPerTrial(threads, kTrials,
                                                    [&](int tid, int) {
                                                        double s = 0;
                                                        for (int r = 0; r < kCacheRepeats; ++r) {
                                                            const float* p = cache + cacheFloats * static_cast<size_t>(tid);
                                                            // Hide the pointer so the reads are not hoisted out of the loop.
                                                            asm volatile("" : "+r"(p) : : "memory");
                                                            s += read(p, cacheFloats);
                                                        }
                                                        return s;
                                                    }),
                                 static_cast<double>(cacheFloats * sizeof(float)) * kCacheRepeats) / 1e9;
    c.cacheBytes = static_cast<int64_t>(cacheFloats * sizeof(float));
    return c;
}

// Size of a cache level from sysfs ("2048K"); 0 when unknown.
size_t cacheSize(int index) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    std::string text;
    if (!(in >> text) || text.empty()) return 0;
    size_t mult = 1;
    if (text.back() == 'K') mult = size_t{1} << 10;
    else if (text.back() == 'M') mult = size_t{1} << 20;
    try {
        return static_cast<size_t>(std::stoull(text)) * mult;
    } catch (...) {
        return 0;
    }
}

std::string cpuModelName() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return "unknown";
}

std::string nowIso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// MemAvailable from /proc/meminfo in bytes; 0 when unknown.
size_t availableMemory() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    size_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib << 10;
    return 0;
}

} // namespace

MachineInfo measureMachine(int maxThreads) {
    MachineInfo m;
    m.cpu = cpuModelName();
    m.hardwareThreads = std::max(1u, std::thread::hardware_concurrency());
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) m.isa = "avx512";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) m.isa = "avx2";
    else m.isa = "sse";
    m.vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f");
    m.measuredAt = nowIso8601();
    const int n = maxThreads > 0 ? maxThreads : m.hardwareThreads;

    size_t streamBytes = std::clamp(8 * cacheSize(3), kMinStreamBytes, kMaxStreamBytes);
    if (const size_t avail = availableMemory(); avail > 0)
        streamBytes = std::max(std::min(streamBytes, avail / 4), std::min(streamBytes, size_t{64} << 20));
    m.streamBytes = static_cast<int64_t>(streamBytes);
    // Half the L2 per thread, so the buffer stays resident while it is re-read.
    const size_t l2 = cacheSize(2);
    const size_t cacheFloats = ((l2 > 0 ? l2 / 2 : size_t{256} << 10) / sizeof(float)) & ~size_t{31};
    FloatBuffer cache = allocateFloats(cacheFloats * static_cast<size_t>(n), "cache buffer");
    std::fill(cache.get(), cache.get() + cacheFloats * static_cast<size_t>(n), 1.0f);

    m.ceilings.push_back(measureCeilings(1, m.isa, m.vnni, streamBytes, cache.get(), cacheFloats));
    if (n > 1) m.ceilings.push_back(measureCeilings(n, m.isa, m.vnni, streamBytes, cache.get(), cacheFloats));
    return m;
}

std::string machineCachePath() {
    namespace fs = std::filesystem;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        return (fs::path(xdg) / "opstudio" / "machine.json").string();
    const char* home = std::getenv("HOME");
    return (fs::path(home && *home ? home : ".") / ".config" / "opstudio" / "machine.json").string();
}

nlohmann::json toJson(const MachineInfo& m) {
    nlohmann::json j;
    j["probe_version"] = m.probeVersion;
    j["cpu"] = m.cpu;
    j["isa"] = m.isa;
    j["vnni"] = m.vnni;
    j["hardware_threads"] = m.hardwareThreads;
    j["measured_at"] = m.measuredAt;
    j["ceilings"] = nlohmann::json::array();
    for (const Ceilings& c : m.ceilings)
        j["ceilings"].push_back({{"threads", c.threads},
                                 {"fp32_gflops", c.fp32Gflops},
                                 {"int8_gops", c.int8Gops},
                                 {"mem_gbps", c.memGBps},
                                 {"mem_gbps_median", c.memMedianGBps},
                                 {"mem_gbps_worst", c.memWorstGBps},
                                 {"cache_gbps", c.cacheGBps},
                                 {"cache_bytes", c.cacheBytes}});
    j["stream_bytes"] = m.streamBytes;
    return j;
}

Result<MachineInfo> machineFromJson(const nlohmann::json& j) {
    try {
        MachineInfo m;
        m.probeVersion = j.value("probe_version", 1);
        m.cpu = j.at("cpu").get<std::string>();
        m.isa = j.at("isa").get<std::string>();
        m.vnni = j.at("vnni").get<bool>();
        m.hardwareThreads = j.at("hardware_threads").get<int>();
        m.measuredAt = j.value("measured_at", "");
        m.streamBytes = j.value("stream_bytes", int64_t{0});
        for (const auto& c : j.at("ceilings"))
            m.ceilings.push_back({c.at("threads").get<int>(), c.at("fp32_gflops").get<double>(),
                                  c.at("int8_gops").get<double>(), c.at("mem_gbps").get<double>(),
                                  c.value("cache_gbps", 0.0), c.value("cache_bytes", int64_t{0}),
                                  c.value("mem_gbps_median", 0.0), c.value("mem_gbps_worst", 0.0)});
        if (m.ceilings.empty()) return Error("machine file has no ceilings");
        return m;
    } catch (const std::exception& e) {
        return Error(std::string("machine file is malformed: ") + e.what());
    }
}

MachineInfo machineCeilings(bool remeasure, const std::string& cachePath) {
    namespace fs = std::filesystem;
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    if (!remeasure && !cachePath.empty()) {
        std::ifstream in(cachePath);
        if (in) {
            auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
            if (!j.is_discarded()) {
                auto m = machineFromJson(j);
                // A cache from another CPU or core count (copied home folder, resized VM) or from
                // another probe version is stale.
                if (m && m->probeVersion == kMachineProbeVersion && m->cpu == cpuModelName() &&
                    m->hardwareThreads == static_cast<int>(hw))
                    return m.value();
            }
        }
    }
    MachineInfo m = measureMachine();
    if (!cachePath.empty()) {
        std::error_code ec;
        fs::create_directories(fs::path(cachePath).parent_path(), ec);
        const std::string tmp = cachePath + ".tmp";
        {
            std::ofstream out(tmp);
            if (out) out << toJson(m).dump(2) << "\n";
        }
        fs::rename(tmp, cachePath, ec);
    }
    return m;
}

Ceilings ceilingsFor(const MachineInfo& machine, int threads) {
    if (machine.ceilings.empty()) return Ceilings{threads};
    threads = std::max(1, threads);
    for (const Ceilings& c : machine.ceilings)
        if (c.threads == threads) return c;
    const Ceilings& lo = machine.ceilings.front();
    const Ceilings& hi = machine.ceilings.back();
    if (hi.threads == lo.threads) return lo;
    // Linear in the thread count between the two measured points, clamped beyond them.
    const double f = std::clamp(static_cast<double>(threads - lo.threads) / (hi.threads - lo.threads), 0.0, 1.0);
    auto mix = [f](double a, double b) { return a + (b - a) * f; };
    return {threads,
            mix(lo.fp32Gflops, hi.fp32Gflops),
            mix(lo.int8Gops, hi.int8Gops),
            mix(lo.memGBps, hi.memGBps),
            mix(lo.cacheGBps, hi.cacheGBps),
            lo.cacheBytes,
            mix(lo.memMedianGBps, hi.memMedianGBps),
            mix(lo.memWorstGBps, hi.memWorstGBps)};
}

double bandwidthFor(const Ceilings& c, double bytesMoved) {
    // An op whose whole traffic fits in half the L2 mostly reads what its producer just wrote.
    const bool cacheResident = bytesMoved > 0 && c.cacheGBps > 0 && bytesMoved <= static_cast<double>(c.cacheBytes);
    return cacheResident ? c.cacheGBps : c.memGBps;
}

RooflinePoint placeOnRoofline(const Ceilings& c, double intensity, double achievedGflops, bool integer,
                              double bytesMoved) {
    RooflinePoint p;
    const double peak = integer && c.int8Gops > 0 ? c.int8Gops : c.fp32Gflops;
    const double bw = bandwidthFor(c, bytesMoved);
    if (peak <= 0 || bw <= 0) return p;
    // Roofline: attainable(I) = min(peak, I · bandwidth); the ridge is where the two meet.
    p.ridge = peak / bw;
    p.computeBound = intensity >= p.ridge;
    p.attainableGflops = std::min(peak, intensity * bw);
    p.percentOfRoofline = p.attainableGflops > 0 ? 100.0 * achievedGflops / p.attainableGflops : 0;
    return p;
}

} // namespace opstudio::profile
