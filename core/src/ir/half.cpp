#include "opstudio/ir/half.h"

#include <cmath>
#include <cstring>

namespace opstudio::ir {

float halfToFloat(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t floatToHalf(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) // Inf or NaN (keep NaN quiet)
        return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // rounds to >= 65520: Inf
    if (absx < 0x38800000u) {                                              // below min normal half: subnormal
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);        // < 2^-25 rounds to zero
        const uint32_t exp = absx >> 23;
        const uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exp; // 14 - (exp - 127) + 13 ... amount to shift 24-bit mantissa
        uint32_t halfMant = mant >> (shift);
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (halfMant & 1u))) ++halfMant;
        return static_cast<uint16_t>(sign | halfMant);
    }
    // normal: rebias exponent, round mantissa to nearest even
    uint32_t bits = absx - 0x38000000u; // exponent 127 -> 15
    const uint32_t rem = bits & 0x1fffu;
    bits >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (bits & 1u))) ++bits;
    return static_cast<uint16_t>(sign | bits);
}

float bfloat16ToFloat(uint16_t b) {
    const uint32_t bits = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t floatToBfloat16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u); // quiet NaN
    // round to nearest even on the dropped 16 bits
    const uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;
    return static_cast<uint16_t>(x >> 16);
}

} // namespace opstudio::ir
