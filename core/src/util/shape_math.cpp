#include "opstudio/util/shape_math.h"

#include "opstudio/util/error.h"

#include <atomic>
#include <limits>
#include <mutex>
#include <unistd.h>

namespace opstudio::util {
namespace {

std::mutex g_mutex;
ShapeLimits g_limits;

std::string dimsText(const std::vector<int64_t>& dims) {
    if (dims.empty()) return "scalar";
    std::string s;
    for (size_t i = 0; i < dims.size(); ++i)
        s += (i ? "x" : "") + std::to_string(dims[i]);
    return s;
}

std::string prefix(const std::string& what) {
    return what.empty() ? std::string() : what + ": ";
}

uint64_t physicalMemory() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return uint64_t{16} << 30;
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

} // namespace

ShapeLimits shapeLimits() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_limits;
}

void setShapeLimits(const ShapeLimits& limits) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_limits = limits;
}

uint64_t maxTensorBytes() {
    const ShapeLimits l = shapeLimits();
    if (l.maxBytes) return l.maxBytes;
    static const uint64_t fallback = std::max<uint64_t>(physicalMemory() / 2, uint64_t{1} << 30);
    return fallback;
}

int64_t checkedNumel(const std::vector<int64_t>& dims, const std::string& what) {
    const ShapeLimits l = shapeLimits();
    if (static_cast<int64_t>(dims.size()) > l.maxRank)
        throw Error(prefix(what) + "rank " + std::to_string(dims.size()) + " exceeds the limit of " +
                    std::to_string(l.maxRank));
    int64_t n = 1;
    bool zero = false;
    for (int64_t d : dims) {
        if (d < 0) throw Error(prefix(what) + "negative dimension in shape " + dimsText(dims));
        if (d == 0) zero = true;
    }
    if (zero) return 0;
    for (int64_t d : dims) {
        if (n > l.maxElements / d)
            throw Error(prefix(what) + "shape " + dimsText(dims) + " has more than " +
                        std::to_string(l.maxElements) + " elements");
        n *= d;
    }
    return n;
}

size_t checkedBytes(const std::vector<int64_t>& dims, size_t elemSize, const std::string& what) {
    const int64_t n = checkedNumel(dims, what);
    const uint64_t cap = maxTensorBytes();
    if (elemSize && static_cast<uint64_t>(n) > cap / elemSize)
        throw Error(prefix(what) + "shape " + dimsText(dims) + " needs more than " + std::to_string(cap) +
                    " bytes (the tensor size limit)");
    return static_cast<size_t>(n) * elemSize;
}

int64_t checkedMul(int64_t a, int64_t b, const std::string& what) {
    if (a < 0 || b < 0) throw Error(prefix(what) + "negative size");
    if (a != 0 && b > std::numeric_limits<int64_t>::max() / a)
        throw Error(prefix(what) + "size overflows int64");
    return a * b;
}

} // namespace opstudio::util
