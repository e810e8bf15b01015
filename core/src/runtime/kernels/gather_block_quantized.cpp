// com.microsoft GatherBlockQuantized: rows of a block-quantized table (the embedding of an LLM whose
// weights went through quantize-weights), dequantized on the way out. uint8 data follows
// MatMulNBits' conventions: `bits` 4 (two codes per byte, low nibble first) or 8, blocks of
// `block_size` along the last axis, float scales [rows, blocks], optional packed uint8 zero points
// [rows, ceil(blocks * bits / 8)], default zero point 2^(bits-1):
//   out[i, c] = (q[idx_i, c] - zp[idx_i, c / block]) * scale[idx_i, c / block]
// Only what quantize-weights writes is supported (2-D data, gather_axis 0, quantize_axis 1); anything
// else is a clear error naming the node.
#include "runtime/kernels/all_kernels.h"
#include "runtime/kernels/kernel_util.h"

namespace opstudio::rt {
namespace {

void gatherBlockQuantized(KernelContext& ctx) {
    const ir::Node& node = ctx.node();
    const int64_t bits = node.attrInt("bits", 4), block = node.attrInt("block_size", 128);
    if (bits != 4 && bits != 8)
        kernelFail(node, "GatherBlockQuantized: bits must be 4 or 8, got " + std::to_string(bits));
    if (block < 16 || (block & (block - 1)) != 0)
        kernelFail(node, "GatherBlockQuantized: block_size must be a power of two >= 16");
    if (node.attrInt("gather_axis", 0) != 0 || node.attrInt("quantize_axis", 1) != 1)
        kernelFail(node, "GatherBlockQuantized: only gather_axis 0 with quantize_axis 1 is supported");
    if (!ctx.hasInput(0) || !ctx.hasInput(1) || !ctx.hasInput(2))
        kernelFail(node, "GatherBlockQuantized: data, indices and scales are required");
    const Tensor& data = ctx.input(0);
    const Tensor& idx = ctx.input(1);
    const Tensor& sc = ctx.input(2);
    if (data.dtype() != DType::U8 || data.rank() != 2)
        kernelFail(node, "GatherBlockQuantized: data must be 2-D uint8");
    const int64_t rows = data.dim(0), cols = data.dim(1) * 8 / bits, blocks = (cols + block - 1) / block;
    if (sc.dtype() != DType::F32 || sc.numel() != rows * blocks)
        kernelFail(node, "GatherBlockQuantized: scales must be float [" + std::to_string(rows) + ", " +
                             std::to_string(blocks) + "]");
    const uint8_t* zeros = nullptr;
    const int64_t zpPerRow = (blocks * bits + 7) / 8;
    if (ctx.hasInput(3)) {
        const Tensor& z = ctx.input(3);
        if (z.dtype() != DType::U8 || z.numel() != rows * zpPerRow)
            kernelFail(node, "GatherBlockQuantized: zero_points must be packed uint8 [" + std::to_string(rows) +
                                 ", " + std::to_string(zpPerRow) + "]");
        zeros = z.data<uint8_t>();
    }
    if (idx.dtype() != DType::I64 && idx.dtype() != DType::I32)
        kernelFail(node, "GatherBlockQuantized: indices must be int32 or int64");
    const std::vector<int64_t> ids = idx.toInt64s();
    Shape outShape = idx.shape();
    outShape.push_back(cols);
    float* out = ctx.allocate(0, DType::F32, outShape).data<float>();
    const uint8_t* q = data.data<uint8_t>();
    const float* s = sc.data<float>();
    const int64_t bytesPerRow = data.dim(1);
    for (size_t i = 0; i < ids.size(); ++i) {
        int64_t r = ids[i];
        if (r < 0) r += rows;
        if (r < 0 || r >= rows)
            kernelFail(node, "GatherBlockQuantized: index " + std::to_string(ids[i]) + " is out of range for " +
                                 std::to_string(rows) + " rows");
        const uint8_t* row = q + r * bytesPerRow;
        float* o = out + static_cast<int64_t>(i) * cols;
        for (int64_t b = 0; b < blocks; ++b) {
            int32_t zp = 1 << (bits - 1);
            if (zeros) {
                const uint8_t z = zeros[r * zpPerRow + (bits == 8 ? b : b / 2)];
                zp = bits == 8 ? z : ((b & 1) ? (z >> 4) : (z & 0xF));
            }
            const float scale = s[r * blocks + b];
            const int64_t end = std::min(cols, (b + 1) * block);
            for (int64_t c = b * block; c < end; ++c) {
                const int32_t code = bits == 8 ? row[c] : ((c & 1) ? (row[c / 2] >> 4) : (row[c / 2] & 0xF));
                o[c] = static_cast<float>(code - zp) * scale;
            }
        }
    }
}

} // namespace

void registerGatherBlockQuantizedKernels(KernelRegistry& r) {
    // One implementation: a row copy with a multiply, already at memory speed; the reference is the same.
    r.add({"GatherBlockQuantized", 1, kLatestOpset, "com.microsoft"}, fn(gatherBlockQuantized, "rows"),
          fn(gatherBlockQuantized));
}

} // namespace opstudio::rt
