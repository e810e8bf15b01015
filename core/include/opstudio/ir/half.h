#pragma once
// IEEE binary16 and bfloat16 conversions (round-to-nearest-even), used by Cast and the importer.
#include <cstdint>

namespace opstudio::ir {

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bfloat16ToFloat(uint16_t b);
uint16_t floatToBfloat16(float f);

} // namespace opstudio::ir
