#include "opstudio/ir/tensor.h"

#include "opstudio/ir/half.h"
#include "opstudio/util/error.h"
#include "opstudio/util/shape_math.h"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace opstudio::ir {

namespace {

class OwnedBuffer final : public Buffer {
public:
    explicit OwnedBuffer(size_t bytes) : m_size(bytes) {
        // 64-byte alignment for AVX-512 loads; never allocate 0 bytes.
        const size_t rounded = ((bytes + 63) / 64) * 64;
        m_data = static_cast<uint8_t*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded));
        if (!m_data) throw std::bad_alloc();
    }
    ~OwnedBuffer() override { std::free(m_data); }
    uint8_t* data() override { return m_data; }
    size_t size() const override { return m_size; }

private:
    uint8_t* m_data;
    size_t m_size;
};

class MappedBuffer final : public Buffer {
public:
    MappedBuffer(void* base, size_t mapLength, uint8_t* data, size_t size)
        : m_base(base), m_mapLength(mapLength), m_data(data), m_size(size) {}
    ~MappedBuffer() override {
        if (m_base) munmap(m_base, m_mapLength);
    }
    uint8_t* data() override { return m_data; }
    size_t size() const override { return m_size; }
    bool isMapped() const override { return true; }

private:
    void* m_base;
    size_t m_mapLength;
    uint8_t* m_data;
    size_t m_size;
};

} // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) { return std::make_shared<OwnedBuffer>(bytes); }

std::shared_ptr<Buffer> Buffer::mapFile(const std::string& path, size_t offset, size_t length) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open external data file '" + path + "'");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error("external data '" + path + "' is not a regular file");
    }
    const auto fileSize = static_cast<size_t>(st.st_size);
    if (offset > fileSize || length > fileSize - offset) {
        ::close(fd);
        throw Error("external data '" + path + "' is too short: needs " + std::to_string(offset + length) +
                    " bytes, has " + std::to_string(fileSize));
    }
    if (length == 0) {
        ::close(fd);
        return std::make_shared<OwnedBuffer>(0);
    }
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t alignedOffset = offset / page * page;
    const size_t mapLength = length + (offset - alignedOffset);
    void* base = ::mmap(nullptr, mapLength, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, static_cast<off_t>(alignedOffset));
    ::close(fd);
    if (base == MAP_FAILED) throw Error("cannot memory-map external data '" + path + "'");
    return std::make_shared<MappedBuffer>(base, mapLength, static_cast<uint8_t*>(base) + (offset - alignedOffset),
                                          length);
}

int64_t shapeNumel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shapeToString(const std::vector<int64_t>& shape) {
    if (shape.empty()) return "scalar";
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += "x";
        s += std::to_string(shape[i]);
    }
    return s;
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : m_dtype(dtype), m_shape(std::move(shape)) {
    const size_t bytes =
        util::checkedBytes(m_shape, dtype == DType::String ? sizeof(std::string) : dtypeSize(dtype), "tensor");
    if (dtype == DType::String) {
        m_strings = std::make_shared<std::vector<std::string>>(static_cast<size_t>(shapeNumel(m_shape)));
        return;
    }
    m_buffer = Buffer::allocate(bytes);
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
    Tensor t(dtype, std::move(shape));
    if (t.m_buffer) std::memset(t.m_buffer->data(), 0, t.byteSize());
    return t;
}

Tensor Tensor::view(DType dtype, std::vector<int64_t> shape, std::shared_ptr<Buffer> buffer, size_t offset) {
    Tensor t;
    t.m_dtype = dtype;
    t.m_shape = std::move(shape);
    t.m_buffer = std::move(buffer);
    t.m_offset = offset;
    if (t.m_buffer && offset + t.byteSize() > t.m_buffer->size())
        throw Error("tensor view exceeds its buffer (" + std::to_string(offset + t.byteSize()) + " > " +
                    std::to_string(t.m_buffer->size()) + " bytes)");
    return t;
}

int64_t Tensor::numel() const { return shapeNumel(m_shape); }

size_t Tensor::byteSize() const { return static_cast<size_t>(numel()) * dtypeSize(m_dtype); }

std::vector<std::string>& Tensor::strings() {
    if (!m_strings) m_strings = std::make_shared<std::vector<std::string>>(static_cast<size_t>(numel()));
    return *m_strings;
}

const std::vector<std::string>& Tensor::strings() const {
    static const std::vector<std::string> kEmpty;
    return m_strings ? *m_strings : kEmpty;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
    if (shapeNumel(shape) != numel())
        throw Error("cannot reshape " + shapeToString(m_shape) + " to " + shapeToString(shape));
    Tensor t = *this;
    t.m_shape = std::move(shape);
    return t;
}

Tensor Tensor::clone() const {
    Tensor t(m_dtype, m_shape);
    if (m_dtype == DType::String) {
        *t.m_strings = strings();
    } else if (byteSize() > 0) {
        std::memcpy(t.raw(), raw(), byteSize());
    }
    return t;
}

template <typename Out> static std::vector<Out> convertAll(const Tensor& t) {
    const int64_t n = t.numel();
    std::vector<Out> out(static_cast<size_t>(n));
    auto fill = [&](auto tag) {
        using T = decltype(tag);
        const T* p = t.data<T>();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(p[i]);
    };
    switch (t.dtype()) {
    case DType::F32: fill(float{}); break;
    case DType::F64: fill(double{}); break;
    case DType::I8: fill(int8_t{}); break;
    case DType::U8: fill(uint8_t{}); break;
    case DType::I16: fill(int16_t{}); break;
    case DType::U16: fill(uint16_t{}); break;
    case DType::I32: fill(int32_t{}); break;
    case DType::U32: fill(uint32_t{}); break;
    case DType::I64: fill(int64_t{}); break;
    case DType::U64: fill(uint64_t{}); break;
    case DType::Bool: fill(bool{}); break;
    case DType::F16: {
        const uint16_t* p = t.data<uint16_t>();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(halfToFloat(p[i]));
        break;
    }
    case DType::BF16: {
        const uint16_t* p = t.data<uint16_t>();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(bfloat16ToFloat(p[i]));
        break;
    }
    default: throw Error("cannot convert a " + std::string(dtypeName(t.dtype())) + " tensor to numbers");
    }
    return out;
}

std::vector<double> Tensor::toDoubles() const { return convertAll<double>(*this); }
std::vector<int64_t> Tensor::toInt64s() const { return convertAll<int64_t>(*this); }

} // namespace opstudio::ir
