#pragma once
// The one checked place for shape arithmetic. Every element count and byte size computed from
// model-provided dims goes through these helpers: negative dims, int64/size_t overflow and sizes
// above the configured limit raise opstudio::Error instead of wrapping into a small allocation
// that a kernel then writes past.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace opstudio::util {

/// Caps on what one tensor may claim. The defaults are far above any real CPU model and far below
/// what would wrap: maxBytes defaults to half the machine's physical memory (at least 1 GiB).
struct ShapeLimits {
    int64_t maxElements = int64_t{1} << 40;
    uint64_t maxBytes = 0; ///< 0 = the default derived from physical memory
    int maxRank = 64;
};

/// The process-wide limits (read on every check; thread-safe).
ShapeLimits shapeLimits();
/// Replaces the limits (e.g. the CLI's --max-tensor-bytes, or a test lowering them).
void setShapeLimits(const ShapeLimits& limits);
/// The effective byte cap: maxBytes, or half of physical memory when it is 0.
uint64_t maxTensorBytes();

/// Product of dims: Error on a negative dim, rank above maxRank, int64 overflow or more than
/// maxElements elements. `what` names the tensor/node in the message.
int64_t checkedNumel(const std::vector<int64_t>& dims, const std::string& what = {});
/// checkedNumel(dims) * elemSize, Error above maxTensorBytes().
size_t checkedBytes(const std::vector<int64_t>& dims, size_t elemSize, const std::string& what = {});
/// a * b for non-negative counts, Error on overflow (for derived sizes such as rows * cols).
int64_t checkedMul(int64_t a, int64_t b, const std::string& what = {});

} // namespace opstudio::util
