// The kernel registry lets a later entry refine a broader opset range, but two registrations of the very same
// key would make the earlier one dead code that silently never runs: that must fail here.
#include "opstudio/runtime/kernel.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>

namespace opstudio {
namespace {

TEST(KernelRegistry, NoTwoRegistrationsShareAKey) {
    std::map<std::tuple<std::string, std::string, int64_t, int64_t>, int> seen;
    for (const auto& e : rt::KernelRegistry::global().entries()) {
        const std::string domain = e.key.domain == "ai.onnx" ? std::string() : e.key.domain;
        ++seen[{domain, e.key.opType, e.key.sinceVersion, e.key.untilVersion}];
    }
    ASSERT_GT(seen.size(), 100u);
    for (const auto& [key, count] : seen)
        EXPECT_EQ(count, 1) << "kernel '" << std::get<0>(key) << "::" << std::get<1>(key) << "' opsets "
                            << std::get<2>(key) << ".." << std::get<3>(key) << " is registered " << count
                            << " times; only the last registration is ever used";
}

} // namespace
} // namespace opstudio
