#pragma once
// Scalar float approximations written so that plain loops calling them vectorise 16 wide inside
// functions compiled with target("arch=x86-64-v4") (the core's baseline is x86-64-v2, where Eigen
// only has SSE packets). Shared by the Exp/Erf, Sigmoid/Tanh and QuickGelu fast paths.
#include <bit>
#include <cstdint>

namespace opstudio::rt {

/// exp(x) = 2^m * exp(r) with m = round(x / ln 2) and r = x - m ln 2 (Cody-Waite two-part ln 2),
/// exp(r) on |r| <= ln2/2 by the Cephes degree-6 polynomial: about 1.3 ulp. 2^m is applied as two
/// factors 2^(m/2) * 2^(m - m/2) so results down to the subnormals and up to inf come out right.
inline float expApprox(float xin) {
    float x = xin > -104.f ? xin : -104.f; // also maps NaN to a finite value; restored at the end
    x = x < 89.f ? x : 89.f;
    const float m = (x * 1.44269504088896341f + 12582912.f) - 12582912.f; // round to nearest (1.5 * 2^23)
    float r = x - m * 0.693359375f;
    r = r + m * 2.12194440e-4f;
    const float r2 = r * r;
    float y = 1.9875691500E-4f;
    y = y * r + 1.3981999507E-3f;
    y = y * r + 8.3334519073E-3f;
    y = y * r + 4.1665795894E-2f;
    y = y * r + 1.6666665459E-1f;
    y = y * r + 5.0000001201E-1f;
    y = y * r2 + r + 1.f;
    const int32_t mi = static_cast<int32_t>(m);
    const int32_t h = mi >> 1;
    const float s1 = std::bit_cast<float>((h + 127) << 23);
    const float s2 = std::bit_cast<float>((mi - h + 127) << 23);
    const float res = y * s1 * s2;
    return xin != xin ? xin : res;
}

} // namespace opstudio::rt
