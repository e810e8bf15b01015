// Roofline placement and the machine cache (the probe itself is not run here: it takes ~1 s).
#include "opstudio/profile/machine.h"

#include <gtest/gtest.h>

// Ceilings literals leave the trailing fields (spread, tiers) at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace opstudio::profile;

TEST(Roofline, PlacesOpsLeftAndRightOfTheRidge) {
    const Ceilings c{1, 100, 400, 10}; // ridge at 10 flops/byte
    const RooflinePoint mem = placeOnRoofline(c, 1.0, 5.0, false);
    EXPECT_FALSE(mem.computeBound);
    EXPECT_DOUBLE_EQ(mem.ridge, 10);
    EXPECT_DOUBLE_EQ(mem.attainableGflops, 10);
    EXPECT_DOUBLE_EQ(mem.percentOfRoofline, 50);
    const RooflinePoint comp = placeOnRoofline(c, 20.0, 50.0, false);
    EXPECT_TRUE(comp.computeBound);
    EXPECT_DOUBLE_EQ(comp.attainableGflops, 100);
    EXPECT_DOUBLE_EQ(comp.percentOfRoofline, 50);
    // Integer ops meet the int8 ceiling: ridge at 40.
    const RooflinePoint q = placeOnRoofline(c, 20.0, 100.0, true);
    EXPECT_FALSE(q.computeBound);
    EXPECT_DOUBLE_EQ(q.attainableGflops, 200);
}

TEST(Roofline, SmallWorkingSetsMeetTheCacheCeiling) {
    const Ceilings c{1, 100, 0, 10, 50, 1000}; // DRAM 10 GB/s; 50 GB/s for ops moving <= 1000 bytes
    EXPECT_DOUBLE_EQ(bandwidthFor(c, 800), 50);
    EXPECT_DOUBLE_EQ(bandwidthFor(c, 5000), 10);
    EXPECT_DOUBLE_EQ(bandwidthFor(c, 0), 10);
    const RooflinePoint small = placeOnRoofline(c, 1.0, 25.0, false, 800);
    EXPECT_DOUBLE_EQ(small.ridge, 2);
    EXPECT_DOUBLE_EQ(small.attainableGflops, 50);
    EXPECT_DOUBLE_EQ(small.percentOfRoofline, 50);
}

namespace {

// Two cores, private 32 KiB L1 and 1 MiB L2, one 32 MiB L3 shared by both (this machine kind).
Ceilings tieredCeilings(int threads) {
    Ceilings c{threads, 100, 0, 20};
    c.tiers = {{"L1", 32 << 10, 1, 400}, {"L2", 1 << 20, 1, 200}, {"L3", 32 << 20, 2, 100}};
    return c;
}

} // namespace

TEST(Roofline, CacheTierCapacityAddsUpPrivateLevelsOnly) {
    const CacheTier l2{"L2", 1 << 20, 1, 200};
    EXPECT_EQ(l2.capacity(1), 1 << 20);
    EXPECT_EQ(l2.capacity(2), 2 << 20);
    const CacheTier l3{"L3", 32 << 20, 2, 100};
    EXPECT_EQ(l3.capacity(1), 32 << 20);
    EXPECT_EQ(l3.capacity(2), 32 << 20);
    EXPECT_EQ(l3.capacity(3), 64 << 20); // a second L3 instance
    const CacheTier smt{"L2", 1 << 20, 2, 200}; // two hardware threads per core
    EXPECT_EQ(smt.capacity(4), 2 << 20);
}

TEST(Roofline, TierIsTheFastestLevelThatHoldsTheTraffic) {
    const Ceilings one = tieredCeilings(1);
    std::string name;
    EXPECT_DOUBLE_EQ(tierFor(one, 16 << 10, &name), 400);
    EXPECT_EQ(name, "L1");
    EXPECT_DOUBLE_EQ(tierFor(one, 48 << 10, &name), 200); // over one L1
    EXPECT_EQ(name, "L2");
    EXPECT_DOUBLE_EQ(tierFor(one, 3 << 20, &name), 100);
    EXPECT_EQ(name, "L3");
    EXPECT_DOUBLE_EQ(tierFor(one, 40 << 20, &name), 20);
    EXPECT_EQ(name, "DRAM");
    EXPECT_DOUBLE_EQ(tierFor(one, 0, &name), 20); // unknown traffic: DRAM
    EXPECT_EQ(name, "DRAM");
    // Two threads: 48 KiB spreads over both L1s, 1.5 MiB over both L2s.
    const Ceilings two = tieredCeilings(2);
    EXPECT_DOUBLE_EQ(tierFor(two, 48 << 10, &name), 400);
    EXPECT_DOUBLE_EQ(tierFor(two, 3 << 19, &name), 200);
    EXPECT_EQ(name, "L2");
    // A level measured with 0 GB/s (skipped) is passed over.
    Ceilings gap = one;
    gap.tiers[1].gbps = 0;
    EXPECT_DOUBLE_EQ(tierFor(gap, 48 << 10, &name), 100);
    EXPECT_EQ(name, "L3");
}

TEST(Roofline, WeightsOfARunLargerThanTheL3StreamFromDram) {
    const Ceilings c = tieredCeilings(1);
    // A decode GEMV: 4 MiB of weights (fits the L3 alone) and 8 KiB of activations.
    const double w = 4 << 20, a = 8 << 10;
    // The whole run is 444 MB: the weights were evicted since the last step.
    const MemoryRoof big = memoryRoofFor(c, Traffic{w + a, w, 444e6});
    EXPECT_EQ(big.weightTier, "DRAM");
    EXPECT_EQ(big.activationTier, "L3");
    EXPECT_EQ(big.tier, "L3+DRAM");
    EXPECT_DOUBLE_EQ(big.gbps, (w + a) / (a / 100 + w / 20));
    // The whole run fits the L3 (a small model): weights stay there between runs.
    const MemoryRoof small = memoryRoofFor(c, Traffic{w + a, w, 20e6});
    EXPECT_EQ(small.tier, "L3");
    EXPECT_DOUBLE_EQ(small.gbps, 100);
    // Run size unknown: the op's own traffic decides, as for activations.
    EXPECT_EQ(memoryRoofFor(c, Traffic{w + a, w, 0}).tier, "L3");
    // No weights: the activations' level alone; only weights: the weights' level alone.
    EXPECT_EQ(memoryRoofFor(c, Traffic{a, 0, 444e6}).tier, "L1");
    EXPECT_EQ(memoryRoofFor(c, Traffic{w, w, 444e6}).tier, "DRAM");
    // The roofline point uses that bandwidth: a memory-bound GEMV (0.5 flop/byte).
    const RooflinePoint p = placeOnRoofline(c, 0.5, 5, false, Traffic{w + a, w, 444e6});
    EXPECT_FALSE(p.computeBound);
    EXPECT_DOUBLE_EQ(p.attainableGflops, 0.5 * big.gbps);
    EXPECT_EQ(p.memory.tier, "L3+DRAM");
}

TEST(Roofline, InterpolatesUnmeasuredThreadCounts) {
    MachineInfo m;
    m.ceilings = {{1, 100, 0, 10}, {4, 400, 0, 25}};
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 4).fp32Gflops, 400);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 2).fp32Gflops, 200);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 2).memGBps, 15);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 8).fp32Gflops, 400); // clamped
}

namespace {

// A fresh folder under /tmp, removed at the end of the test.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("opstudio_machine_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
        std::filesystem::create_directories(path);
    }
    ~ScratchDir() { std::filesystem::remove_all(path); }
};

// A machine file for this machine as it is now: no probe needed to read it back.
MachineInfo cachedForThisMachine() {
    const MachineKey key = currentMachineKey();
    MachineInfo m;
    m.probeVersion = key.probeVersion;
    m.cpu = key.cpu;
    m.hardwareThreads = key.hardwareThreads;
    m.memoryBytes = key.memoryBytes;
    m.caches = key.caches;
    m.isa = "avx2";
    m.measuredAt = "2026-01-01T00:00:00Z";
    m.ceilings = {{1, 123.5, 0, 9.5}};
    return m;
}

} // namespace

TEST(MachineInfo, JsonRoundTripsAndTheCacheIsReused) {
    const MachineInfo m = cachedForThisMachine();
    auto back = machineFromJson(toJson(m));
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->cpu, m.cpu);
    EXPECT_EQ(back->memoryBytes, m.memoryBytes);
    EXPECT_EQ(back->caches, m.caches);
    EXPECT_DOUBLE_EQ(back->ceilings[0].fp32Gflops, 123.5);

    ScratchDir dir;
    const std::string path = (dir.path / "machine.json").string();
    ASSERT_TRUE(writeMachineCache(path, m));
    // Same key: the cached figures come back without a probe.
    std::string why;
    const MachineInfo cached = machineCeilings(false, path, &why);
    EXPECT_EQ(why, "cached");
    EXPECT_EQ(cached.measuredAt, m.measuredAt);
    EXPECT_DOUBLE_EQ(cached.ceilings[0].memGBps, 9.5);
}

TEST(MachineInfo, KeyChangesMakeTheCacheStale) {
    const MachineKey now = currentMachineKey();
    EXPECT_FALSE(now.cpu.empty());
    EXPECT_EQ(staleReason(now, now), "");
    MachineKey k = now;
    k.probeVersion = kMachineProbeVersion - 1;
    EXPECT_NE(staleReason(k, now).find("probe"), std::string::npos) << staleReason(k, now);
    k = now;
    k.cpu = "Some Other CPU";
    EXPECT_NE(staleReason(k, now).find("Some Other CPU"), std::string::npos);
    k = now;
    k.hardwareThreads = now.hardwareThreads + 2;
    EXPECT_NE(staleReason(k, now).find("thread"), std::string::npos);
    k = now;
    k.memoryBytes = now.memoryBytes + (int64_t{4} << 30);
    EXPECT_NE(staleReason(k, now).find("memory"), std::string::npos);
    k = now;
    k.caches = "L1 16K/1";
    EXPECT_NE(staleReason(k, now).find("caches"), std::string::npos);

    // The same changes written to a file: reading it says why it is not used.
    ScratchDir dir;
    const std::string path = (dir.path / "machine.json").string();
    MachineInfo m = cachedForThisMachine();
    ASSERT_TRUE(writeMachineCache(path, m));
    EXPECT_TRUE(readMachineCache(path, now));
    m.probeVersion = 1;
    ASSERT_TRUE(writeMachineCache(path, m));
    auto old = readMachineCache(path, now);
    ASSERT_FALSE(old);
    EXPECT_NE(std::string(old.error().what()).find("stale"), std::string::npos) << old.error().what();
    m = cachedForThisMachine();
    m.hardwareThreads += 1;
    ASSERT_TRUE(writeMachineCache(path, m));
    EXPECT_FALSE(readMachineCache(path, now));
    // A file from the first probe (no version, memory or caches) is stale too.
    nlohmann::json v1 = toJson(cachedForThisMachine());
    v1.erase("probe_version");
    v1.erase("memory_bytes");
    v1.erase("caches");
    std::ofstream(path) << v1.dump();
    EXPECT_FALSE(readMachineCache(path, now));
    EXPECT_FALSE(readMachineCache((dir.path / "missing.json").string(), now));
}

TEST(MachineInfo, CacheIsWrittenAtomically) {
    ScratchDir dir;
    const std::string path = (dir.path / "sub" / "machine.json").string();
    MachineInfo m = cachedForThisMachine();
    ASSERT_TRUE(writeMachineCache(path, m)); // creates the folder
    m.measuredAt = "2026-02-02T00:00:00Z";
    ASSERT_TRUE(writeMachineCache(path, m)); // replaces the file
    // Only the file itself is left: no temporary beside it.
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path / "sub")) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"machine.json"});
    auto back = readMachineCache(path, currentMachineKey());
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->measuredAt, "2026-02-02T00:00:00Z");
    // A target that cannot be created (its folder is a file) is an error, and nothing is left behind.
    const std::string blocked = (dir.path / "sub" / "machine.json" / "inner.json").string();
    EXPECT_FALSE(writeMachineCache(blocked, m));
    names.clear();
    for (const auto& e : std::filesystem::directory_iterator(dir.path / "sub")) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"machine.json"});
}

TEST(MachineInfo, DramSpreadRoundTripsAndInterpolates) {
    MachineInfo m;
    m.cpu = "test cpu";
    m.isa = "avx512";
    m.ceilings = {{1, 100, 0, 20, 0, 0, 18, 15}, {2, 200, 0, 40, 0, 0, 36, 30}};
    const auto back = machineFromJson(toJson(m));
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->probeVersion, kMachineProbeVersion);
    EXPECT_DOUBLE_EQ(back->ceilings[1].memGBps, 40);
    EXPECT_DOUBLE_EQ(back->ceilings[1].memMedianGBps, 36);
    EXPECT_DOUBLE_EQ(back->ceilings[1].memWorstGBps, 30);
    // The best pass is the ceiling; median and worst only describe the spread.
    EXPECT_GE(back->ceilings[0].memGBps, back->ceilings[0].memMedianGBps);
    const Ceilings mid = ceilingsFor(back.value(), 1);
    EXPECT_DOUBLE_EQ(mid.memWorstGBps, 15);
    // A file from the first probe (no version, no spread) still reads, as version 1.
    nlohmann::json old = toJson(m);
    old.erase("probe_version");
    for (auto& c : old["ceilings"]) {
        c.erase("mem_gbps_median");
        c.erase("mem_gbps_worst");
    }
    const auto v1 = machineFromJson(old);
    ASSERT_TRUE(v1) << v1.error().describe();
    EXPECT_EQ(v1->probeVersion, 1);
    EXPECT_DOUBLE_EQ(v1->ceilings[0].memMedianGBps, 0);
}

TEST(MachineInfo, TiersRoundTripAndInterpolateByName) {
    MachineInfo m;
    m.cpu = "test cpu";
    m.isa = "avx512";
    m.ceilings = {tieredCeilings(1), tieredCeilings(3)};
    m.ceilings[1].tiers[2].gbps = 300;
    const auto back = machineFromJson(toJson(m));
    ASSERT_TRUE(back) << back.error().describe();
    ASSERT_EQ(back->ceilings[0].tiers.size(), 3u);
    EXPECT_EQ(back->ceilings[0].tiers[2].name, "L3");
    EXPECT_EQ(back->ceilings[0].tiers[2].bytes, 32 << 20);
    EXPECT_EQ(back->ceilings[0].tiers[2].sharedBy, 2);
    EXPECT_DOUBLE_EQ(back->ceilings[1].tiers[2].gbps, 300);
    const Ceilings two = ceilingsFor(back.value(), 2);
    ASSERT_EQ(two.tiers.size(), 3u);
    EXPECT_DOUBLE_EQ(two.tiers[2].gbps, 200); // halfway between 100 and 300
    EXPECT_DOUBLE_EQ(two.tiers[0].gbps, 400);
}

TEST(MachineInfo, RejectsMalformedFiles) {
    EXPECT_FALSE(machineFromJson(nlohmann::json{{"cpu", "x"}}));
}
