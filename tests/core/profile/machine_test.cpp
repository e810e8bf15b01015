// Roofline placement and the machine cache (the probe itself is not run here: it takes ~1 s).
#include "opstudio/profile/machine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

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

TEST(Roofline, InterpolatesUnmeasuredThreadCounts) {
    MachineInfo m;
    m.ceilings = {{1, 100, 0, 10}, {4, 400, 0, 25}};
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 4).fp32Gflops, 400);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 2).fp32Gflops, 200);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 2).memGBps, 15);
    EXPECT_DOUBLE_EQ(ceilingsFor(m, 8).fp32Gflops, 400); // clamped
}

TEST(MachineInfo, JsonRoundTripsAndTheCacheIsReused) {
    MachineInfo m;
    {
        std::ifstream in("/proc/cpuinfo");
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("model name", 0) == 0) {
                m.cpu = line.substr(line.find_first_not_of(' ', line.find(':') + 1));
                break;
            }
        if (m.cpu.empty()) m.cpu = "unknown";
    }
    m.isa = "avx2";
    m.vnni = false;
    m.hardwareThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    m.measuredAt = "2026-01-01T00:00:00Z";
    m.ceilings = {{1, 123.5, 0, 9.5}};
    auto back = machineFromJson(toJson(m));
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(back->cpu, m.cpu);
    EXPECT_DOUBLE_EQ(back->ceilings[0].fp32Gflops, 123.5);

    const auto dir = std::filesystem::temp_directory_path() / ("opstudio_machine_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "machine.json").string();
    std::ofstream(path) << toJson(m).dump();
    // Same CPU and core count: the cached figures come back without a probe.
    const MachineInfo cached = machineCeilings(false, path);
    EXPECT_EQ(cached.measuredAt, m.measuredAt);
    EXPECT_DOUBLE_EQ(cached.ceilings[0].memGBps, 9.5);
    std::filesystem::remove_all(dir);
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

TEST(MachineInfo, RejectsMalformedFiles) {
    EXPECT_FALSE(machineFromJson(nlohmann::json{{"cpu", "x"}}));
}
