#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace opstudio::ir {

/// Element types; the numeric values are onnx::TensorProto::DataType's.
enum class DType : int32_t {
    Undefined = 0,
    F32 = 1,
    U8 = 2,
    I8 = 3,
    U16 = 4,
    I16 = 5,
    I32 = 6,
    I64 = 7,
    String = 8,
    Bool = 9,
    F16 = 10,
    F64 = 11,
    U32 = 12,
    U64 = 13,
    C64 = 14,
    C128 = 15,
    BF16 = 16,
};

/// Bytes per element (0 for String and Undefined).
size_t dtypeSize(DType t);
/// ONNX spelling: "float", "float16", "int64", ...
std::string_view dtypeName(DType t);
/// Parses dtypeName's spelling; Undefined when unknown.
DType dtypeFromName(std::string_view name);
bool isFloating(DType t);
bool isInteger(DType t);
/// True for values the ONNX spec knows (1..16).
bool isValidDType(int32_t v);

template <typename T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::F32; }
template <> constexpr DType dtypeOf<double>() { return DType::F64; }
template <> constexpr DType dtypeOf<int8_t>() { return DType::I8; }
template <> constexpr DType dtypeOf<uint8_t>() { return DType::U8; }
template <> constexpr DType dtypeOf<int16_t>() { return DType::I16; }
template <> constexpr DType dtypeOf<uint16_t>() { return DType::U16; }
template <> constexpr DType dtypeOf<int32_t>() { return DType::I32; }
template <> constexpr DType dtypeOf<uint32_t>() { return DType::U32; }
template <> constexpr DType dtypeOf<int64_t>() { return DType::I64; }
template <> constexpr DType dtypeOf<uint64_t>() { return DType::U64; }
template <> constexpr DType dtypeOf<bool>() { return DType::Bool; }

} // namespace opstudio::ir
