#pragma once
#include "opstudio/ir/dtype.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace opstudio::ir {

/// Raw bytes behind a tensor: owned (64-byte aligned) or a view into a memory-mapped file.
class Buffer {
public:
    virtual ~Buffer() = default;
    virtual uint8_t* data() = 0;
    virtual size_t size() const = 0;
    /// 64-byte aligned owned memory, not initialised.
    static std::shared_ptr<Buffer> allocate(size_t bytes);
    /// Memory-maps [offset, offset+length) of a file read-only (copy-on-write private mapping).
    /// Throws opstudio::Error when the file is missing or too short.
    static std::shared_ptr<Buffer> mapFile(const std::string& path, size_t offset, size_t length);
    virtual bool isMapped() const { return false; }
};

/// A dense tensor: dtype, concrete shape and bytes. Copies share the bytes (like a view);
/// call clone() for a deep copy. String tensors keep their elements in a separate vector.
class Tensor {
public:
    Tensor() = default;
    /// Uninitialised storage for dtype × shape.
    Tensor(DType dtype, std::vector<int64_t> shape);
    static Tensor zeros(DType dtype, std::vector<int64_t> shape);
    /// A view of `buffer` starting at `offset` bytes.
    static Tensor view(DType dtype, std::vector<int64_t> shape, std::shared_ptr<Buffer> buffer, size_t offset = 0);
    template <typename T> static Tensor fromVector(std::vector<int64_t> shape, const std::vector<T>& values);
    template <typename T> static Tensor scalar(T value) { return fromVector<T>({}, {value}); }

    DType dtype() const { return m_dtype; }
    const std::vector<int64_t>& shape() const { return m_shape; }
    int64_t dim(int i) const { return m_shape[i < 0 ? i + rank() : i]; }
    int rank() const { return static_cast<int>(m_shape.size()); }
    int64_t numel() const;
    size_t byteSize() const;
    bool defined() const { return m_dtype != DType::Undefined; }
    bool isMapped() const { return m_buffer && m_buffer->isMapped(); }

    void* raw() { return m_buffer ? m_buffer->data() + m_offset : nullptr; }
    const void* raw() const { return m_buffer ? m_buffer->data() + m_offset : nullptr; }
    template <typename T> T* data() { return static_cast<T*>(raw()); }
    template <typename T> const T* data() const { return static_cast<const T*>(raw()); }
    template <typename T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel())}; }
    template <typename T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel())}; }
    std::vector<std::string>& strings();
    const std::vector<std::string>& strings() const;

    /// Same bytes, another shape with the same element count.
    Tensor reshaped(std::vector<int64_t> shape) const;
    /// Deep copy into owned memory.
    Tensor clone() const;
    /// Values converted to double / int64 (any numeric dtype), for attributes, shapes and stats.
    std::vector<double> toDoubles() const;
    std::vector<int64_t> toInt64s() const;
    const std::shared_ptr<Buffer>& buffer() const { return m_buffer; }
    size_t offset() const { return m_offset; }

private:
    DType m_dtype = DType::Undefined;
    std::vector<int64_t> m_shape;
    std::shared_ptr<Buffer> m_buffer;
    size_t m_offset = 0;
    std::shared_ptr<std::vector<std::string>> m_strings;
};

/// Product of dims (1 for a scalar).
int64_t shapeNumel(const std::vector<int64_t>& shape);
/// "1x3x224x224" (or "scalar").
std::string shapeToString(const std::vector<int64_t>& shape);

template <typename T> Tensor Tensor::fromVector(std::vector<int64_t> shape, const std::vector<T>& values) {
    Tensor t(dtypeOf<T>(), std::move(shape));
    T* out = t.data<T>();
    for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i) out[i] = values[i];
    return t;
}

} // namespace opstudio::ir
