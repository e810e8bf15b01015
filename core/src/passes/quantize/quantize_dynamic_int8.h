#pragma once
#include "opstudio/passes/pass.h"

namespace opstudio::passes::quantize {

/// quantize-dynamic-int8 (quantize_dynamic_int8.cpp).
PassInfo quantizeDynamicInt8Pass();

} // namespace opstudio::passes::quantize
