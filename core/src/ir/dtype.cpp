#include "opstudio/ir/dtype.h"

#include <array>

namespace opstudio::ir {

namespace {
struct DTypeInfo {
    DType type;
    size_t size;
    std::string_view name;
};
constexpr std::array<DTypeInfo, 17> kInfo{{
    {DType::Undefined, 0, "undefined"}, {DType::F32, 4, "float"},   {DType::U8, 1, "uint8"},
    {DType::I8, 1, "int8"},             {DType::U16, 2, "uint16"},  {DType::I16, 2, "int16"},
    {DType::I32, 4, "int32"},           {DType::I64, 8, "int64"},   {DType::String, 0, "string"},
    {DType::Bool, 1, "bool"},           {DType::F16, 2, "float16"}, {DType::F64, 8, "double"},
    {DType::U32, 4, "uint32"},          {DType::U64, 8, "uint64"},  {DType::C64, 8, "complex64"},
    {DType::C128, 16, "complex128"},    {DType::BF16, 2, "bfloat16"},
}};
} // namespace

bool isValidDType(int32_t v) { return v >= 1 && v <= 16; }

size_t dtypeSize(DType t) {
    const auto i = static_cast<int32_t>(t);
    return (i >= 0 && i <= 16) ? kInfo[i].size : 0;
}

std::string_view dtypeName(DType t) {
    const auto i = static_cast<int32_t>(t);
    return (i >= 0 && i <= 16) ? kInfo[i].name : std::string_view("unknown");
}

DType dtypeFromName(std::string_view name) {
    for (const auto& info : kInfo)
        if (info.name == name) return info.type;
    if (name == "float32") return DType::F32;
    if (name == "float64") return DType::F64;
    return DType::Undefined;
}

bool isFloating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16; }

bool isInteger(DType t) {
    switch (t) {
    case DType::U8: case DType::I8: case DType::U16: case DType::I16: case DType::I32: case DType::I64:
    case DType::U32: case DType::U64: return true;
    default: return false;
    }
}

} // namespace opstudio::ir
