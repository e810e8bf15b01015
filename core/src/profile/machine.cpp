// Machine probe. Peak arithmetic is measured with register-only loops of independent FMAs
// (enough accumulators to cover FMA latency x ports, so the loop is throughput-bound), compiled
// per ISA with target attributes and chosen at run time: the core itself is built for x86-64-v2.
#include "opstudio/profile/machine.h"

#include "opstudio/util/atomic_file.h"

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
// Bytes each thread reads per cache-tier pass (a small buffer read again and again).
constexpr size_t kTierBytesPerPass = size_t{256} << 20;

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

// One data (or unified) cache level from sysfs.
struct CacheLevel {
    int level = 0;
    size_t bytes = 0;
    int sharedBy = 1;
};

std::string readSysfs(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
}

// "2048K" / "32M" / "65536" -> bytes; 0 when unreadable.
size_t parseCacheSize(std::string text) {
    if (text.empty()) return 0;
    size_t mult = 1;
    if (text.back() == 'K') mult = size_t{1} << 10;
    else if (text.back() == 'M') mult = size_t{1} << 20;
    else if (text.back() == 'G') mult = size_t{1} << 30;
    try {
        return static_cast<size_t>(std::stoull(text)) * mult;
    } catch (...) {
        return 0;
    }
}

// CPUs in a sysfs list such as "0-3,8-11" or "0".
int countCpuList(const std::string& list) {
    int count = 0;
    std::stringstream ss(list);
    std::string part;
    while (std::getline(ss, part, ',')) {
        if (part.empty()) continue;
        const auto dash = part.find('-');
        try {
            count += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
        } catch (...) {
            ++count;
        }
    }
    return std::max(1, count);
}

// cpu0's data and unified caches by level (L1d, L2, L3), smallest level first.
std::vector<CacheLevel> dataCacheLevels() {
    std::vector<CacheLevel> out;
    for (int index = 0; index < 10; ++index) {
        const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
        const std::string type = readSysfs(dir + "type");
        if (type.empty()) break;
        if (type == "Instruction") continue;
        CacheLevel l;
        try {
            l.level = std::stoi(readSysfs(dir + "level"));
        } catch (...) {
            continue;
        }
        l.bytes = parseCacheSize(readSysfs(dir + "size"));
        l.sharedBy = countCpuList(readSysfs(dir + "shared_cpu_list"));
        if (l.bytes > 0 && l.level >= 1 && l.level <= 3) out.push_back(l);
    }
    std::sort(out.begin(), out.end(), [](const CacheLevel& a, const CacheLevel& b) { return a.level < b.level; });
    return out;
}

size_t levelBytes(const std::vector<CacheLevel>& levels, int level) {
    for (const CacheLevel& l : levels)
        if (l.level == level) return l.bytes;
    return 0;
}

// Read bandwidth of one cache level with `threads` threads. Each thread allocates and fills its
// own buffer of `floatsPerThread` (sized to sit in that level and not in the one below) and
// re-reads it until kTierBytesPerPass are read; the rates add up over threads (each core reads
// its own L1/L2, and the L3's slices serve the cores in parallel).
double measureTierRead(int threads, ReadFn read, size_t floatsPerThread) {
    std::vector<FloatBuffer> buffers(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
    {
        const int tid = omp_get_thread_num();
        FloatBuffer b = allocateFloats(floatsPerThread, "cache buffer");
        std::fill(b.get(), b.get() + floatsPerThread, 1.0f);
        buffers[static_cast<size_t>(tid)] = std::move(b);
    }
    const size_t bytes = floatsPerThread * sizeof(float);
    const int repeats = static_cast<int>(std::max<size_t>(1, kTierBytesPerPass / bytes));
    const auto trials = cpuSecondsPerTrial(threads, kTrials, [&](int tid, int) {
        double s = 0;
        for (int r = 0; r < repeats; ++r) {
            const float* p = buffers[static_cast<size_t>(tid)].get();
            // Hide the pointer so the reads are not hoisted out of the loop.
            asm volatile("" : "+r"(p) : : "memory");
            s += read(p, floatsPerThread);
        }
        return s;
    });
    return bestSummedRate(trials, static_cast<double>(bytes) * repeats) / 1e9;
}

// L1, L2 and L3 tiers for `threads` threads. A thread's buffer is half its share of the level
// (shared levels are split between the threads that read them), and a level whose share is not
// at least twice the level below is skipped: the reads would mostly hit the faster level.
std::vector<CacheTier> measureTiers(int threads, ReadFn read, const std::vector<CacheLevel>& levels) {
    std::vector<CacheTier> tiers;
    size_t below = 0; // per-thread bytes of the faster level
    for (const CacheLevel& l : levels) {
        const int sharing = std::clamp(threads, 1, l.sharedBy);
        const size_t share = l.bytes / static_cast<size_t>(sharing);
        const size_t floats = (share / 2 / sizeof(float)) & ~size_t{31};
        if (floats == 0 || share < 2 * below) continue;
        CacheTier t;
        t.name = "L" + std::to_string(l.level);
        t.bytes = static_cast<int64_t>(l.bytes);
        t.sharedBy = l.sharedBy;
        t.gbps = measureTierRead(threads, read, floats);
        tiers.push_back(t);
        below = l.sharedBy > 1 ? share : l.bytes;
    }
    return tiers;
}

Ceilings measureCeilings(int threads, const std::string& isa, bool vnni, size_t streamBytes,
                         const std::vector<CacheLevel>& levels) {
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
    c.tiers = measureTiers(threads, read, levels);
    // cache_gbps / cache_bytes (kept for older readers): the L2 tier and half an L2.
    for (const CacheTier& t : c.tiers)
        if (t.name == "L2") {
            c.cacheGBps = t.gbps;
            c.cacheBytes = t.bytes / 2;
        }
    return c;
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

// MemTotal rounded to whole GiB; 0 when unknown.
int64_t roundedMemTotal() {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    int64_t kib = 0;
    while (in >> key >> kib >> unit)
        if (key == "MemTotal:") return ((kib << 10) + (int64_t{1} << 29)) >> 30 << 30;
    return 0;
}

// "L1 32K/1, L2 1024K/1, L3 32768K/2": each level's size and how many threads share it.
std::string cacheLayout(const std::vector<CacheLevel>& levels) {
    std::string out;
    for (const CacheLevel& l : levels) {
        if (!out.empty()) out += ", ";
        out += "L" + std::to_string(l.level) + " " + std::to_string(l.bytes >> 10) + "K/" + std::to_string(l.sharedBy);
    }
    return out;
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

    const std::vector<CacheLevel> levels = dataCacheLevels();
    m.memoryBytes = roundedMemTotal();
    m.caches = cacheLayout(levels);
    size_t streamBytes = std::clamp(8 * levelBytes(levels, 3), kMinStreamBytes, kMaxStreamBytes);
    if (const size_t avail = availableMemory(); avail > 0)
        streamBytes = std::max(std::min(streamBytes, avail / 4), std::min(streamBytes, size_t{64} << 20));
    m.streamBytes = static_cast<int64_t>(streamBytes);

    m.ceilings.push_back(measureCeilings(1, m.isa, m.vnni, streamBytes, levels));
    if (n > 1) m.ceilings.push_back(measureCeilings(n, m.isa, m.vnni, streamBytes, levels));
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
    j["memory_bytes"] = m.memoryBytes;
    j["caches"] = m.caches;
    j["measured_at"] = m.measuredAt;
    j["ceilings"] = nlohmann::json::array();
    for (const Ceilings& c : m.ceilings) {
        nlohmann::json tiers = nlohmann::json::array();
        for (const CacheTier& t : c.tiers)
            tiers.push_back({{"name", t.name}, {"bytes", t.bytes}, {"shared_by", t.sharedBy}, {"gbps", t.gbps}});
        j["ceilings"].push_back({{"threads", c.threads},
                                 {"fp32_gflops", c.fp32Gflops},
                                 {"int8_gops", c.int8Gops},
                                 {"mem_gbps", c.memGBps},
                                 {"mem_gbps_median", c.memMedianGBps},
                                 {"mem_gbps_worst", c.memWorstGBps},
                                 {"cache_gbps", c.cacheGBps},
                                 {"cache_bytes", c.cacheBytes},
                                 {"tiers", std::move(tiers)}});
    }
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
        m.memoryBytes = j.value("memory_bytes", int64_t{0});
        m.caches = j.value("caches", "");
        m.measuredAt = j.value("measured_at", "");
        m.streamBytes = j.value("stream_bytes", int64_t{0});
        for (const auto& c : j.at("ceilings")) {
            Ceilings x{c.at("threads").get<int>(),      c.at("fp32_gflops").get<double>(),
                       c.at("int8_gops").get<double>(), c.at("mem_gbps").get<double>(),
                       c.value("cache_gbps", 0.0),      c.value("cache_bytes", int64_t{0}),
                       c.value("mem_gbps_median", 0.0), c.value("mem_gbps_worst", 0.0), {}};
            if (c.contains("tiers"))
                for (const auto& t : c.at("tiers"))
                    x.tiers.push_back({t.at("name").get<std::string>(), t.at("bytes").get<int64_t>(),
                                       t.value("shared_by", 1), t.at("gbps").get<double>()});
            m.ceilings.push_back(std::move(x));
        }
        if (m.ceilings.empty()) return Error("machine file has no ceilings");
        return m;
    } catch (const std::exception& e) {
        return Error(std::string("machine file is malformed: ") + e.what());
    }
}

MachineKey currentMachineKey() {
    MachineKey k;
    k.cpu = cpuModelName();
    k.hardwareThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    k.memoryBytes = roundedMemTotal();
    k.caches = cacheLayout(dataCacheLevels());
    return k;
}

std::string staleReason(const MachineKey& cached, const MachineKey& current) {
    auto changed = [](const std::string& what, const std::string& was, const std::string& now) {
        return what + " changed (" + (was.empty() ? std::string("unknown") : was) + ", now " +
               (now.empty() ? std::string("unknown") : now) + ")";
    };
    if (cached.probeVersion != current.probeVersion)
        return changed("the probe", "version " + std::to_string(cached.probeVersion),
                       "version " + std::to_string(current.probeVersion));
    if (cached.cpu != current.cpu) return changed("the CPU", cached.cpu, current.cpu);
    if (cached.hardwareThreads != current.hardwareThreads)
        return changed("the hardware thread count", std::to_string(cached.hardwareThreads),
                       std::to_string(current.hardwareThreads));
    const auto gib = [](int64_t b) { return std::to_string(b >> 30) + " GiB"; };
    if (cached.memoryBytes != current.memoryBytes) return changed("the memory size", gib(cached.memoryBytes), gib(current.memoryBytes));
    if (cached.caches != current.caches) return changed("the caches", cached.caches, current.caches);
    return "";
}

Result<MachineInfo> readMachineCache(const std::string& path, const MachineKey& current) {
    std::ifstream in(path);
    if (!in) return Error("no machine file at " + path);
    auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Error("machine file " + path + " is not JSON");
    auto m = machineFromJson(j);
    if (!m) return m.error();
    // A cache from another CPU, core count, memory size or probe (copied home folder, resized VM,
    // newer opstudio) describes another machine.
    if (const std::string why = staleReason(m->key(), current); !why.empty())
        return Error("machine file " + path + " is stale: " + why);
    return m;
}

Status writeMachineCache(const std::string& path, const MachineInfo& m) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path target(path);
    if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
    if (ec) return Error("cannot create " + target.parent_path().string() + ": " + ec.message());
    // A temporary file beside it, fsync'ed and renamed over it (util/atomic_file.h).
    return util::writeFileAtomically(path, toJson(m).dump(2) + "\n");
}

MachineInfo machineCeilings(bool remeasure, const std::string& cachePath, std::string* why) {
    const MachineKey key = currentMachineKey();
    std::string reason = "--remeasure-machine";
    if (!remeasure) {
        if (cachePath.empty()) {
            reason = "no cache file";
        } else {
            auto cached = readMachineCache(cachePath, key);
            if (cached) {
                if (why) *why = "cached";
                return cached.value();
            }
            reason = cached.error().what();
        }
    }
    if (why) *why = reason;
    MachineInfo m = measureMachine();
    if (!cachePath.empty()) (void)writeMachineCache(cachePath, m);
    return m;
}

Ceilings ceilingsFor(const MachineInfo& machine, int threads) {
    if (machine.ceilings.empty()) {
        Ceilings none;
        none.threads = threads;
        return none;
    }
    threads = std::max(1, threads);
    for (const Ceilings& c : machine.ceilings)
        if (c.threads == threads) return c;
    const Ceilings& lo = machine.ceilings.front();
    const Ceilings& hi = machine.ceilings.back();
    if (hi.threads == lo.threads) return lo;
    // Linear in the thread count between the two measured points, clamped beyond them.
    const double f = std::clamp(static_cast<double>(threads - lo.threads) / (hi.threads - lo.threads), 0.0, 1.0);
    auto mix = [f](double a, double b) { return a + (b - a) * f; };
    Ceilings c{threads,
               mix(lo.fp32Gflops, hi.fp32Gflops),
               mix(lo.int8Gops, hi.int8Gops),
               mix(lo.memGBps, hi.memGBps),
               mix(lo.cacheGBps, hi.cacheGBps),
               lo.cacheBytes,
               mix(lo.memMedianGBps, hi.memMedianGBps),
               mix(lo.memWorstGBps, hi.memWorstGBps),
               {}};
    // Tiers by name; a level measured at one thread count only keeps that measurement.
    for (const CacheTier& t : lo.tiers) {
        CacheTier x = t;
        for (const CacheTier& h : hi.tiers)
            if (h.name == t.name) x.gbps = mix(t.gbps, h.gbps);
        c.tiers.push_back(x);
    }
    return c;
}

int64_t CacheTier::capacity(int threads) const {
    // One instance per sharedBy threads: private caches add up, a shared L3 counts once.
    const int instances = (std::max(1, threads) + std::max(1, sharedBy) - 1) / std::max(1, sharedBy);
    return bytes * instances;
}

double tierFor(const Ceilings& c, double bytes, std::string* name) {
    if (bytes > 0) {
        for (const CacheTier& t : c.tiers)
            if (t.gbps > 0 && bytes <= static_cast<double>(t.capacity(c.threads))) {
                if (name) *name = t.name;
                return t.gbps;
            }
        // Files without tiers: the one cache figure (half an L2 per thread).
        if (c.tiers.empty() && c.cacheGBps > 0 && bytes <= static_cast<double>(c.cacheBytes)) {
            if (name) *name = "cache";
            return c.cacheGBps;
        }
    }
    if (name) *name = "DRAM";
    return c.memGBps;
}

MemoryRoof memoryRoofFor(const Ceilings& c, const Traffic& t) {
    MemoryRoof r;
    const double bytes = std::max(0.0, t.bytes);
    const double weights = std::clamp(t.weightBytes, 0.0, bytes);
    const double activations = bytes - weights;
    const double actGBps = tierFor(c, bytes, &r.activationTier);
    const double weightGBps = tierFor(c, t.runBytes > 0 ? std::max(t.runBytes, bytes) : bytes, &r.weightTier);
    if (weights <= 0 || r.weightTier == r.activationTier) {
        r.gbps = actGBps;
        r.tier = r.activationTier;
        if (weights <= 0) r.weightTier.clear();
        return r;
    }
    if (activations <= 0) {
        r.gbps = weightGBps;
        r.tier = r.weightTier;
        r.activationTier.clear();
        return r;
    }
    // Both levels serve the op one after the other: time = A / B_act + W / B_weight.
    if (actGBps <= 0 || weightGBps <= 0) return r;
    r.gbps = bytes / (activations / actGBps + weights / weightGBps);
    r.tier = r.activationTier + "+" + r.weightTier;
    return r;
}

double bandwidthFor(const Ceilings& c, double bytesMoved) { return memoryRoofFor(c, Traffic{bytesMoved}).gbps; }

RooflinePoint placeOnRoofline(const Ceilings& c, double intensity, double achievedGflops, bool integer,
                              const Traffic& traffic) {
    RooflinePoint p;
    const double peak = integer && c.int8Gops > 0 ? c.int8Gops : c.fp32Gflops;
    p.memory = memoryRoofFor(c, traffic);
    const double bw = p.memory.gbps;
    if (peak <= 0 || bw <= 0) return p;
    // Roofline: attainable(I) = min(peak, I · bandwidth); the ridge is where the two meet.
    p.ridge = peak / bw;
    p.computeBound = intensity >= p.ridge;
    p.attainableGflops = std::min(peak, intensity * bw);
    p.percentOfRoofline = p.attainableGflops > 0 ? 100.0 * achievedGflops / p.attainableGflops : 0;
    return p;
}

RooflinePoint placeOnRoofline(const Ceilings& c, double intensity, double achievedGflops, bool integer,
                              double bytesMoved) {
    return placeOnRoofline(c, intensity, achievedGflops, integer, Traffic{bytesMoved});
}

} // namespace opstudio::profile
