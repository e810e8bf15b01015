// Session::run from two threads (runs of one session serialize; outputs equal a lone run) and the
// caller's floating-point environment and OpenMP thread count after a run (restored).
#include "support/test_util.h"

#include "opstudio/onnx/model_io.h"
#include "opstudio/runtime/session.h"

#include <omp.h>
#include <thread>
#include <xmmintrin.h>

using namespace opstudio;
using namespace opstudio::testing;

namespace {

constexpr unsigned kFtzDaz = 0x8040;

std::shared_ptr<const ir::Model> gpt() {
    auto loaded = onnxio::loadModel(std::string(OPSTUDIO_TEST_DATA_DIR) + "/models/gpt_decoder/model.onnx");
    if (!loaded) throw loaded.error();
    return std::make_shared<ir::Model>(std::move(loaded.value()));
}

} // namespace

TEST(SessionThreads, TwoThreadsSharingASessionGetTheLoneRunResult) {
    rt::SessionOptions options;
    options.threads = 2;
    auto s = rt::Session::create(gpt(), options);
    ASSERT_TRUE(s) << s.error().describe();
    rt::Session& session = *s.value();
    const auto feedsA = rt::randomFeeds(session, 1), feedsB = rt::randomFeeds(session, 2);
    auto refA = session.run(feedsA), refB = session.run(feedsB);
    ASSERT_TRUE(refA && refB);
    std::atomic<int> mismatches{0}, failures{0};
    auto worker = [&](const std::map<std::string, ir::Tensor>& feeds, const ir::Tensor& want) {
        for (int i = 0; i < 15; ++i) {
            auto r = session.run(feeds);
            if (!r) {
                ++failures;
                continue;
            }
            if (maxAbsDiff(r.value()[0].tensor, want) != 0.0) ++mismatches;
        }
    };
    std::thread a(worker, std::cref(feedsA), std::cref(refA.value()[0].tensor));
    std::thread b(worker, std::cref(feedsB), std::cref(refB.value()[0].tensor));
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(SessionThreads, CallerKeepsItsFloatingPointModeAndThreadCount) {
    const unsigned saved = _mm_getcsr();
    const int savedThreads = omp_get_max_threads();
    _mm_setcsr(saved & ~kFtzDaz); // the caller wants IEEE denormals
    omp_set_num_threads(1);
    const unsigned before = _mm_getcsr();
    {
        rt::SessionOptions options;
        options.threads = 2;
        auto s = rt::Session::create(gpt(), options);
        ASSERT_TRUE(s) << s.error().describe();
        EXPECT_EQ(_mm_getcsr(), before) << "Session::create changed the caller's MXCSR";
        auto r = s.value()->run(rt::randomFeeds(*s.value(), 3));
        ASSERT_TRUE(r) << r.error().describe();
    }
    EXPECT_EQ(_mm_getcsr(), before) << "Session::run left FTZ/DAZ set on the caller's thread";
    EXPECT_EQ(omp_get_max_threads(), 1);
    // A denormal still survives arithmetic on the caller's thread.
    volatile float tiny = 1e-39f;
    volatile float twice = tiny * 2.f;
    EXPECT_GT(twice, 0.f);
    _mm_setcsr(saved);
    omp_set_num_threads(savedThreads);
}
