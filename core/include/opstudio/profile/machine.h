#pragma once
// This machine's ceilings for the roofline: fp32 FMA peak, int8 VNNI peak and memory bandwidth,
// measured by a short probe (< 2 s) and cached as JSON in the user's config folder.
#include "opstudio/util/error.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace opstudio::profile {

/// One cache level as the roofline sees it: how much of an op's data it holds and how fast it is read.
struct CacheTier {
    std::string name;  // "L1", "L2", "L3"
    int64_t bytes = 0; // size of one instance (sysfs)
    int sharedBy = 1;  // hardware threads sharing one instance (1: private to a core)
    double gbps = 0;   // read bandwidth with Ceilings::threads threads, best pass
    /// Bytes an op on `threads` threads can keep in this level: private levels add up over the cores.
    int64_t capacity(int threads) const;
};

/// Peaks measured with a given number of threads.
struct Ceilings {
    int threads = 1;
    double fp32Gflops = 0; // FMA register loop, 2 flops per lane per FMA
    double int8Gops = 0;   // vpdpbusd loop, 2 ops per u8·s8 product; 0 when the CPU has no VNNI
    double memGBps = 0;    // DRAM read: best pass streaming a buffer far larger than the L3
    double cacheGBps = 0;  // re-reading a per-thread buffer of half the L2
    int64_t cacheBytes = 0; // that buffer's size: ops moving at most this much meet cacheGBps
    double memMedianGBps = 0; // DRAM read: median and worst pass (the spread; 0 in old cache files)
    double memWorstGBps = 0;
    std::vector<CacheTier> tiers; // fastest first (L1, L2, L3); DRAM is memGBps. Empty in old files.
};

/// Bumped whenever the probe changes what it measures: a cache file written by another probe
/// version is stale. 2: DRAM read with AVX-512 loads, 8 accumulators, per-thread first touch,
/// 9 passes (best, median, worst). 3: L1, L2 and L3 tiers.
constexpr int kMachineProbeVersion = 3;

/// What cached ceilings depend on: a file whose key differs from this machine's is stale.
struct MachineKey {
    int probeVersion = kMachineProbeVersion;
    std::string cpu;         // /proc/cpuinfo "model name"
    int hardwareThreads = 1;
    int64_t memoryBytes = 0; // MemTotal rounded to whole GiB (firmware reservations move it a little)
    std::string caches;      // data cache levels, e.g. "L1 32K/1, L2 1024K/1, L3 32768K/2" (size/threads sharing)
};
/// This machine's key, read now from /proc and sysfs.
MachineKey currentMachineKey();
/// Why ceilings measured under `cached` do not hold under `current`, in words ("" when they do),
/// e.g. "the probe changed (version 1, now 3)".
std::string staleReason(const MachineKey& cached, const MachineKey& current);

struct MachineInfo {
    int probeVersion = kMachineProbeVersion; // files without one are version 1
    std::string cpu;        // /proc/cpuinfo "model name"
    std::string isa;        // "avx512", "avx2" or "sse" (the FMA loop that ran)
    bool vnni = false;
    int hardwareThreads = 1;
    int64_t memoryBytes = 0; // MachineKey::memoryBytes when measured
    std::string caches;      // MachineKey::caches when measured
    std::string measuredAt; // ISO 8601 UTC
    int64_t streamBytes = 0; // size of the DRAM bandwidth buffer
    std::vector<Ceilings> ceilings; // threads 1 and hardwareThreads
    MachineKey key() const { return {probeVersion, cpu, hardwareThreads, memoryBytes, caches}; }
};

/// Runs the probe now for 1 and `maxThreads` threads (0: all hardware threads). Rates are work
/// over per-thread CPU time, so a busy machine gives the same peaks as an idle one.
MachineInfo measureMachine(int maxThreads = 0);
/// $XDG_CONFIG_HOME/opstudio/machine.json, else ~/.config/opstudio/machine.json.
std::string machineCachePath();
/// The ceilings cached in `path` when their key matches `current`; otherwise an error saying why
/// not (missing, malformed, or staleReason).
Result<MachineInfo> readMachineCache(const std::string& path, const MachineKey& current);
/// Writes the cache atomically: a temporary file beside it, flushed to disk, renamed over it, so a
/// reader (another opstudio process) sees the old file or the new one, never half of one.
Status writeMachineCache(const std::string& path, const MachineInfo& m);
/// The cached ceilings when the file's key matches this machine; otherwise (or when `remeasure`)
/// measures and writes the cache. A cache that cannot be written is not an error. `why`, when
/// given, receives "cached" or the reason for measuring.
MachineInfo machineCeilings(bool remeasure = false, const std::string& cachePath = machineCachePath(),
                            std::string* why = nullptr);
/// Ceilings for `threads`: exact when measured, otherwise interpolated linearly between the
/// 1-thread and all-thread measurements (compute scales per core, bandwidth saturates).
Ceilings ceilingsFor(const MachineInfo& machine, int threads);

nlohmann::json toJson(const MachineInfo& m);
Result<MachineInfo> machineFromJson(const nlohmann::json& j);

/// What an op moves, for choosing the memory level its bytes come from.
struct Traffic {
    double bytes = 0;       // everything the op reads and writes per run (<= 0: unknown, DRAM)
    double weightBytes = 0; // of which constant weights (initializers), re-read every run
    double runBytes = 0;    // the whole run's working set: all weights + peak activations (0: unknown)
};

/// The memory ceiling an op meets and the level(s) it comes from.
struct MemoryRoof {
    double gbps = 0;
    std::string tier; // "L1", "L2", "L3", "DRAM"; "L2+DRAM" when activations and weights come from different levels
    std::string activationTier;
    std::string weightTier;
};

/// The fastest measured level whose capacity (at c.threads) holds `bytes`; "DRAM" otherwise or when
/// bytes <= 0. Returns the level's bandwidth and writes its name.
double tierFor(const Ceilings& c, double bytes, std::string* name = nullptr);
/// Activations (bytes − weightBytes) come from the level that holds the op's whole traffic: its
/// producer has just written them. Weights come from the level that holds the whole run's working
/// set: between two reads of a weight the rest of the run has passed through the caches, so a
/// decode step of a model larger than the L3 streams its weights from DRAM even when one matrix
/// alone would fit. runBytes 0 (unknown): weights are placed like activations. The time at the
/// roof is Σ bytes_i / gbps_i, so the bandwidth returned is bytes / that time.
MemoryRoof memoryRoofFor(const Ceilings& c, const Traffic& t);

/// Where an operator sits on the roofline.
struct RooflinePoint {
    bool computeBound = false;     // intensity at or right of the ridge point
    double ridge = 0;              // flops/byte where peak = intensity·bandwidth
    double attainableGflops = 0;   // min(peak, intensity·bandwidth)
    double percentOfRoofline = 0;  // achieved / attainable · 100
    MemoryRoof memory;             // the bandwidth used and where the bytes come from
};
/// The memory ceiling of an op whose whole traffic is `bytesMoved` (no weights told apart):
/// memoryRoofFor(c, {bytesMoved}).gbps. bytesMoved <= 0 means unknown: DRAM.
double bandwidthFor(const Ceilings& c, double bytesMoved);
/// Places an op with `intensity` flops/byte that achieved `achievedGflops`; integer ops use the
/// int8 peak when measured.
RooflinePoint placeOnRoofline(const Ceilings& c, double intensity, double achievedGflops, bool integer,
                              const Traffic& traffic);
RooflinePoint placeOnRoofline(const Ceilings& c, double intensity, double achievedGflops, bool integer,
                              double bytesMoved = 0);

} // namespace opstudio::profile
