// The self-attention forms fuse-attention recognizes, all as torch.onnx writes them:
//
//   batch-first (GPT/BERT/LLaMA-style modules), heads [B, H, S, D]:
//     q/k/v = Transpose(perm)(Reshape[B, S, H, D](proj)),  q, v: perm 0,2,1,3;  k: 0,2,3,1 (K^T), or
//             0,2,1,3 followed by 0,1,3,2;
//     ctx = Reshape[B, S, hidden](Transpose 0,2,1,3 (Softmax(mask(scale(q k^T))) v)).
//   sequence-first (torch.nn.MultiheadAttention), heads [B*H, S, D] of x^T = Transpose 1,0,2 (x):
//     q/v = Transpose 1,0,2 (Reshape[S, B*H, D](proj)), k: Transpose 1,2,0;  the context goes back through
//     Transpose 1,0,2, Reshape[S*B, hidden], the output projection (Gemm or MatMul + Add), Reshape[S, B,
//     hidden] and Transpose 1,0,2 — the output projection is folded into the match.
//
//   proj = x W (+ b) with constant W, either one projection each, or one packed x W_qkv (+ b_qkv) cut by a
//   Split or by Slices along the last axis (fused QKV: GPT-2, nn.MultiheadAttention's in_proj).
//   scale: Div/Mul by constants on the scores and/or on q and k (MultiheadAttention scales q).
//   mask: none; Where(constant causal bool, large negative, s) or its mirror; Add of a constant triangular
//   0 / large-negative matrix (causal); Add of (1 - mask[B, T]) * filter (padding).
//
// Grouped-query attention (fewer K/V heads, repeated by Expand/Tile/Concat) is recognized and skipped
// with its head counts: com.microsoft Attention needs as many K/V heads as query heads.
#include "passes/fusion/attention_match.h"

#include <algorithm>
#include <limits>
#include <set>

namespace opstudio::passes::fusion::attention {

namespace {

bool isPerm(const ir::Node* n, const std::vector<int64_t>& perm) {
    return n && n->attrInts("perm") == perm;
}

ir::Node* prod(ir::Graph& g, const std::string& v, const std::string& op) {
    return v.empty() ? nullptr : producerIs(g, v, op);
}

int rankOf(const ir::Graph& g, const std::string& v) {
    const ir::Value* val = g.findValue(v);
    return val && val->shape ? static_cast<int>(val->shape->size()) : -1;
}

std::optional<std::vector<int64_t>> constInts(const ir::Graph& g, const std::string& v) {
    if (v.empty()) return std::nullopt;
    const ir::Tensor* t = g.constantValue(v);
    if (!t || (t->dtype() != ir::DType::I64 && t->dtype() != ir::DType::I32)) return std::nullopt;
    return t->toInt64s();
}

/// Peels Div/Mul by constant scalars off `value` (at most `limit`), folding them into `scale`.
std::string peelScale(ir::Graph& g, std::string value, float& scale, std::vector<ir::NodeId>& nodes,
                      int limit = 3) {
    for (int i = 0; i < limit; ++i) {
        ir::Node* n = prod(g, value, "Div");
        if (n) {
            const auto c = scalarConst(g, n->inputs[1]);
            if (!c || *c == 0) break;
            scale /= static_cast<float>(*c);
            nodes.push_back(n->id);
            value = n->inputs[0];
            continue;
        }
        n = prod(g, value, "Mul");
        if (!n) break;
        std::optional<double> c;
        int side = -1;
        for (int s = 0; s < 2 && !c; ++s)
            if ((c = scalarConst(g, n->inputs[s]))) side = s;
        if (!c) break;
        scale *= static_cast<float>(*c);
        nodes.push_back(n->id);
        value = n->inputs[1 - side];
    }
    return value;
}

/// Column range [off, off + width) of `value` = Split / Slice of the last axis of `packed`.
bool matchColumnCut(ir::Graph& g, const std::string& value, std::string& packed, int64_t& off, int64_t& width,
                    ir::NodeId& cutNode, std::string& why) {
    const int rank = rankOf(g, value);
    if (ir::Node* split = prod(g, value, "Split")) {
        const int64_t axis = split->attrInt("axis", 0);
        if (rank < 0 || (axis != -1 && axis != rank - 1)) {
            why = "packed QKV Split is not along the last axis";
            return false;
        }
        // Sizes: input 1 (opset >= 13), attribute "split", or equal parts of the packed width (the
        // caller knows it from the MatMul weights).
        std::vector<int64_t> sizes;
        if (split->presentInput(1)) {
            const auto s = constInts(g, split->inputs[1]);
            if (!s) {
                why = "packed QKV Split sizes are not constant";
                return false;
            }
            sizes = *s;
        } else if (split->hasAttr("split")) {
            sizes = split->attrInts("split");
        }
        const size_t idx = static_cast<size_t>(
            std::find(split->outputs.begin(), split->outputs.end(), value) - split->outputs.begin());
        packed = split->inputs[0];
        cutNode = split->id;
        if (sizes.empty()) { // equal parts: resolved against the packed width by the caller
            off = -static_cast<int64_t>(idx) - 1;
            width = -static_cast<int64_t>(split->outputs.size());
            return true;
        }
        if (sizes.size() != split->outputs.size()) {
            why = "packed QKV Split sizes do not match its outputs";
            return false;
        }
        off = 0;
        for (size_t i = 0; i < idx; ++i)
            off += sizes[i];
        width = sizes[idx];
        return true;
    }
    if (ir::Node* slice = prod(g, value, "Slice")) {
        std::optional<std::vector<int64_t>> starts, ends, axes, steps;
        if (slice->inputs.size() >= 3) {
            starts = constInts(g, slice->inputs[1]);
            ends = constInts(g, slice->inputs[2]);
            axes = slice->presentInput(3) ? constInts(g, slice->inputs[3]) : std::nullopt;
            steps = slice->presentInput(4) ? constInts(g, slice->inputs[4]) : std::vector<int64_t>{1};
            if (!slice->presentInput(3)) axes = std::vector<int64_t>{0};
        } else { // opset < 10: attributes
            starts = slice->attrInts("starts");
            ends = slice->attrInts("ends");
            axes = slice->hasAttr("axes") ? slice->attrInts("axes") : std::vector<int64_t>{0};
            steps = std::vector<int64_t>{1};
        }
        if (!starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1 ||
            axes->size() != 1 || steps->size() != 1 || (*steps)[0] != 1 || rank < 0 ||
            ((*axes)[0] != -1 && (*axes)[0] != rank - 1)) {
            why = "packed QKV Slice is not one constant unit-step range of the last axis";
            return false;
        }
        packed = slice->inputs[0];
        cutNode = slice->id;
        off = (*starts)[0];
        width = (*ends)[0]; // end; resolved against the packed width by the caller
        return true;
    }
    why = "projection MatMul not found";
    return false;
}

/// proj = x W (+ b), the whole columns [0, width) of a separate projection or a cut of a packed one.
bool matchLinear(ir::Graph& g, const std::string& value, int64_t wantWidth, Projection& p,
                 std::vector<ir::NodeId>& nodes, std::string& why) {
    std::string src = value;
    int64_t off = 0, width = -1;
    bool cut = false, sliceEnd = false;
    ir::NodeId cutNode = ir::kNoNode;
    if (!prod(g, src, "Add") && !prod(g, src, "MatMul")) {
        std::string packed;
        if (!matchColumnCut(g, src, packed, off, width, cutNode, why)) return false;
        sliceEnd = g.node(cutNode)->opType == "Slice";
        nodes.push_back(cutNode);
        src = packed;
        cut = true;
    }
    std::string biasName;
    if (ir::Node* add = prod(g, src, "Add")) {
        for (int i = 0; i < 2 && biasName.empty(); ++i)
            if (constF32(g, add->inputs[i]) && prod(g, add->inputs[1 - i], "MatMul")) {
                biasName = add->inputs[i];
                src = add->inputs[1 - i];
            }
        if (biasName.empty()) {
            why = "projection bias Add not recognized";
            return false;
        }
        nodes.push_back(add->id);
    }
    ir::Node* mm = prod(g, src, "MatMul");
    if (!mm) {
        why = "projection MatMul not found";
        return false;
    }
    const ir::Tensor* w = constF32(g, mm->inputs[1]);
    if (!w || w->rank() != 2) {
        why = "projection weights are not a constant 2-D matrix";
        return false;
    }
    const int64_t n = w->dim(1);
    if (cut) {
        if (width < 0 && !sliceEnd) { // equal Split parts
            const int64_t parts = -width, idx = -off - 1;
            if (n % parts != 0) {
                why = "packed QKV Split into equal parts does not divide the projection width";
                return false;
            }
            width = n / parts;
            off = idx * width;
        } else if (sliceEnd) {
            int64_t start = off < 0 ? off + n : off;
            int64_t end = width < 0 ? width + n : std::min(width, n);
            start = std::clamp<int64_t>(start, 0, n);
            off = start;
            width = end - start;
        }
        if (off < 0 || width <= 0 || off + width > n) {
            why = "packed QKV cut is outside the projection width";
            return false;
        }
    } else {
        off = 0;
        width = n;
    }
    if (wantWidth > 0 && width != wantWidth) {
        why = "projection width " + std::to_string(width) + " differs from heads * head_size " +
              std::to_string(wantWidth);
        return false;
    }
    const ir::Tensor* b = biasName.empty() ? nullptr : constF32(g, biasName);
    if (b && b->numel() != n) {
        why = "projection bias size differs from the projection width";
        return false;
    }
    const int64_t in = w->dim(0);
    p.w = ir::Tensor(ir::DType::F32, {in, width});
    const float* ws = w->data<float>();
    float* wd = p.w.data<float>();
    for (int64_t r = 0; r < in; ++r)
        std::copy(ws + r * n + off, ws + r * n + off + width, wd + r * width);
    p.b.clear();
    if (b) p.b.assign(b->data<float>() + off, b->data<float>() + off + width);
    p.x = mm->inputs[0];
    p.matmul = mm->id;
    nodes.push_back(mm->id);
    return true;
}

/// Batch-first heads: Transpose(perm)(Reshape[B, S, H, D](proj)); K^T also as two transposes.
bool matchHeads4(ir::Graph& g, const std::string& heads, bool kT, Projection& p,
                 std::vector<ir::NodeId>& nodes, std::string& why) {
    ir::Node* tr = prod(g, heads, "Transpose");
    std::vector<ir::NodeId> local;
    if (tr && kT && isPerm(tr, {0, 1, 3, 2})) {
        local.push_back(tr->id);
        tr = prod(g, tr->inputs[0], "Transpose");
        if (!isPerm(tr, {0, 2, 1, 3})) tr = nullptr;
    } else if (!isPerm(tr, kT ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3})) {
        tr = nullptr;
    }
    if (!tr) {
        why = "head transpose not found";
        return false;
    }
    local.push_back(tr->id);
    ir::Node* rs = prod(g, tr->inputs[0], "Reshape");
    if (!rs) {
        why = "head reshape not found";
        return false;
    }
    const auto dims = constInts(g, rs->inputs.at(1));
    if (!dims || dims->size() != 4) {
        why = "head reshape shape is not a constant of 4 dims";
        return false;
    }
    if ((*dims)[2] <= 0 || (*dims)[3] <= 0) {
        why = "head count and size are not explicit in the reshape";
        return false;
    }
    local.push_back(rs->id);
    p.heads = (*dims)[2];
    p.headSize = (*dims)[3];
    if (!matchLinear(g, rs->inputs[0], p.heads * p.headSize, p, local, why)) return false;
    nodes.insert(nodes.end(), local.begin(), local.end());
    return true;
}

/// Sequence-first heads (nn.MultiheadAttention): Transpose(1,0,2 | K: 1,2,0)(Reshape[S, B*H, D](proj)).
bool matchHeads3(ir::Graph& g, const std::string& heads, bool kT, Projection& p,
                 std::vector<ir::NodeId>& nodes, std::string& why) {
    ir::Node* tr = prod(g, heads, "Transpose");
    if (!isPerm(tr, kT ? std::vector<int64_t>{1, 2, 0} : std::vector<int64_t>{1, 0, 2})) {
        why = "head transpose not found";
        return false;
    }
    ir::Node* rs = prod(g, tr->inputs[0], "Reshape");
    const auto dims = rs ? constInts(g, rs->inputs.at(1)) : std::nullopt;
    if (!dims || dims->size() != 3 || (*dims)[2] <= 0) {
        why = "head reshape to [S, B*H, D] not found";
        return false;
    }
    std::vector<ir::NodeId> local = {tr->id, rs->id};
    if (!matchLinear(g, rs->inputs[0], 0, p, local, why)) return false;
    p.headSize = (*dims)[2];
    if (p.w.dim(1) % p.headSize != 0) {
        why = "projection width is not a multiple of the head size";
        return false;
    }
    p.heads = p.w.dim(1) / p.headSize;
    nodes.insert(nodes.end(), local.begin(), local.end());
    return true;
}

/// (1 - Cast(Unsqueeze(Unsqueeze(mask2d)))) * filter, in either operand order.
bool matchPaddingMask(ir::Graph& g, const std::string& value, Match& m, std::string& why) {
    why = "mask pattern not recognized (expected (1 - mask[B, T]) * filter broadcast to [B, 1, 1, T], or a "
          "constant causal mask)";
    ir::Node* mul = prod(g, value, "Mul");
    if (!mul) return false;
    std::string subOut;
    std::optional<double> filter;
    for (int i = 0; i < 2 && !filter; ++i)
        if ((filter = scalarConst(g, mul->inputs[i]))) subOut = mul->inputs[1 - i];
    ir::Node* sub = prod(g, subOut, "Sub");
    if (!filter || !sub || !isScalar(g, sub->inputs[0], 1.0)) return false;
    const ir::Value* bv = g.findValue(sub->inputs[1]);
    if (!bv || !bv->shape || bv->shape->size() != 4 || (*bv->shape)[1].value != 1 ||
        (*bv->shape)[2].value != 1)
        return false;
    std::string src = sub->inputs[1];
    for (int steps = 0; steps < 6; ++steps) {
        ir::Node* p = prod(g, src, "Unsqueeze");
        if (!p) p = prod(g, src, "Cast");
        if (!p) break;
        src = p->inputs[0];
    }
    const ir::Value* sv = g.findValue(src);
    if (!sv || !sv->shape || sv->shape->size() != 2 || src == sub->inputs[1]) return false;
    m.maskSource = src;
    m.maskFilter = static_cast<float>(*filter);
    why.clear();
    return true;
}

/// A constant [..., S, S] (leading dims 1) that is `above` strictly above the diagonal and `below` on and
/// under it; `pred(v, above)` tells which class a value is in.
template <typename T, typename Pred> bool isTriangular(const ir::Tensor& t, Pred inAbove) {
    if (t.rank() < 2) return false;
    const int64_t s = t.dim(-2), c = t.dim(-1);
    if (s != c || t.numel() != s * c) return false;
    const T* d = t.data<T>();
    for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < c; ++j)
            if (inAbove(d[i * c + j]) != (j > i)) return false;
    return true;
}

/// Where(causal, fill, s) or Where(!causal, s, fill) with a constant bool condition; returns the scores
/// input.
std::optional<std::string> matchCausalWhere(ir::Graph& g, const ir::Node& where, std::string& why) {
    why = "mask pattern not recognized (Where condition is not a constant causal mask with a large negative "
          "fill)";
    const ir::Tensor* cond = g.constantValue(where.inputs[0]);
    if (!cond || cond->dtype() != ir::DType::Bool) return std::nullopt;
    for (int fillSide = 1; fillSide <= 2; ++fillSide) {
        const auto fill = scalarConst(g, where.inputs[fillSide]);
        if (!fill || *fill > -1e4) continue;
        // fill where cond is true: cond must be true exactly above the diagonal (or below-and-on for the
        // mirror)
        const bool aboveIsTrue = fillSide == 1;
        if (isTriangular<bool>(*cond, [&](bool v) { return v == aboveIsTrue; })) {
            why.clear();
            return where.inputs[fillSide == 1 ? 2 : 1];
        }
    }
    return std::nullopt;
}

bool isCausalAdditive(const ir::Graph& g, const std::string& value) {
    const ir::Tensor* t = constF32(g, value);
    if (!t || t->rank() < 2) return false;
    for (int i = 0; i + 2 < t->rank(); ++i)
        if (t->dim(i) != 1) return false;
    return isTriangular<float>(*t, [](float v) { return v <= -1e4f; }) &&
           isTriangular<float>(*t, [](float v) { return v != 0.f; });
}

/// Walks up from a K/V operand through repeat ops to the projection MatMul: its width, or -1.
int64_t repeatedProjectionWidth(ir::Graph& g, const std::string& value) {
    static const std::set<std::string> kRepeat = {"Transpose", "Reshape", "Expand", "Unsqueeze",
                                                  "Concat",    "Split",   "Tile",   "Squeeze",
                                                  "Gather",    "Slice",   "Add"};
    std::vector<std::string> frontier = {value};
    std::set<std::string> seen;
    for (int steps = 0; steps < 64 && !frontier.empty(); ++steps) {
        const std::string v = frontier.back();
        frontier.pop_back();
        if (!seen.insert(v).second) continue;
        const ir::Value* val = g.findValue(v);
        if (!val || val->producer == ir::kNoNode) continue;
        const ir::Node* n = g.node(val->producer);
        if (!n || !n->domain.empty()) continue;
        if (n->opType == "MatMul") {
            const ir::Tensor* w = constF32(g, n->inputs[1]);
            if (w && w->rank() == 2) return w->dim(1);
            continue;
        }
        if (!kRepeat.count(n->opType)) continue;
        for (const auto& in : n->inputs)
            if (!in.empty() && !g.constantValue(in)) frontier.push_back(in);
    }
    return -1;
}

/// Every value a matched node produces is read only inside the match (except the block's output).
bool closed(const ir::Graph& g, const std::vector<ir::NodeId>& nodes, const std::string& out,
            std::string& why) {
    const std::set<ir::NodeId> set(nodes.begin(), nodes.end());
    for (ir::NodeId id : set) {
        const ir::Node* n = g.node(id);
        for (const auto& o : n->outputs) {
            if (o == out) continue;
            if (isGraphOutput(g, o)) {
                why = "intermediate value '" + o + "' of the attention block is a graph output";
                return false;
            }
            const ir::Value* v = g.findValue(o);
            if (!v) continue;
            for (ir::NodeId c : v->consumers)
                if (!set.count(c)) {
                    why = "intermediate value '" + o + "' of the attention block is also read outside it";
                    return false;
                }
        }
    }
    return true;
}

} // namespace

std::optional<Match> matchAt(ir::Graph& g, ir::Node& softmax, int64_t opset, std::string& why) {
    Match m;
    why.clear();
    const int64_t axis = softmax.attrInt("axis", opset >= 13 ? -1 : 1);
    const int srank = rankOf(g, softmax.inputs[0]);
    ir::Node* pv = singleConsumer(g, softmax.outputs[0]);
    if (!pv || pv->opType != "MatMul" || !pv->domain.empty() || pv->inputs[0] != softmax.outputs[0])
        return std::nullopt; // not attention
    if (axis != -1 && axis != srank - 1) {
        why = "Softmax is not over the last axis";
        return std::nullopt;
    }
    if (srank != 3 && srank != 4) {
        why = "attention scores are neither [B, H, S, T] nor [B*H, S, T]";
        return std::nullopt;
    }
    const bool seqFirst = srank == 3;
    m.nodes = {softmax.id, pv->id};
    // Forward: the context back to [B, S, hidden].
    ir::Node* back = singleConsumer(g, pv->outputs[0]);
    if (!back || back->opType != "Transpose" ||
        !isPerm(back, seqFirst ? std::vector<int64_t>{1, 0, 2} : std::vector<int64_t>{0, 2, 1, 3})) {
        why = seqFirst ? "context transpose (1,0,2) not found" : "context transpose (0,2,1,3) not found";
        return std::nullopt;
    }
    ir::Node* merge = singleConsumer(g, back->outputs[0]);
    const auto mshape =
        merge && merge->opType == "Reshape" ? constInts(g, merge->inputs.at(1)) : std::nullopt;
    if (!mshape || mshape->size() != (seqFirst ? 2u : 3u)) {
        why = seqFirst ? "context reshape to [S*B, hidden] not found"
                       : "context reshape to [B, S, hidden] not found";
        return std::nullopt;
    }
    m.nodes.insert(m.nodes.end(), {back->id, merge->id});
    m.out = merge->outputs[0];
    if (seqFirst) { // output projection, back to [S, B, E], and to batch-first
        ir::Node* proj = singleConsumer(g, merge->outputs[0]);
        ir::Tensor wo;
        std::vector<float> bo;
        std::string projOut;
        if (proj && proj->opType == "Gemm" && proj->domain.empty() && proj->attrInt("transA", 0) == 0 &&
            proj->attrFloat("alpha", 1.f) == 1.f && proj->attrFloat("beta", 1.f) == 1.f &&
            proj->inputs[0] == merge->outputs[0] && constF32(g, proj->inputs[1]) &&
            (!proj->presentInput(2) || constF32(g, proj->inputs[2]))) {
            const ir::Tensor& w = *constF32(g, proj->inputs[1]);
            const bool tb = proj->attrInt("transB", 0) != 0;
            const int64_t in = tb ? w.dim(1) : w.dim(0), outDim = tb ? w.dim(0) : w.dim(1);
            wo = ir::Tensor(ir::DType::F32, {in, outDim});
            for (int64_t r = 0; r < in; ++r)
                for (int64_t c = 0; c < outDim; ++c)
                    wo.data<float>()[r * outDim + c] =
                        tb ? w.data<float>()[c * in + r] : w.data<float>()[r * outDim + c];
            if (proj->presentInput(2)) {
                const ir::Tensor& b = *constF32(g, proj->inputs[2]);
                if (b.numel() != outDim) {
                    why = "output projection bias is not a vector of its width";
                    return std::nullopt;
                }
                bo.assign(b.data<float>(), b.data<float>() + outDim);
            }
            projOut = proj->outputs[0];
            m.nodes.push_back(proj->id);
        } else {
            why = "output projection Gemm of the sequence-first attention not found";
            return std::nullopt;
        }
        ir::Node* rs = singleConsumer(g, projOut);
        const auto rshape = rs && rs->opType == "Reshape" ? constInts(g, rs->inputs.at(1)) : std::nullopt;
        ir::Node* tr = rs ? singleConsumer(g, rs->outputs[0]) : nullptr;
        if (!rshape || rshape->size() != 3 || !tr || tr->opType != "Transpose" || !isPerm(tr, {1, 0, 2})) {
            why = "sequence-first output is not reshaped to [S, B, hidden] and transposed back (1,0,2)";
            return std::nullopt;
        }
        m.nodes.insert(m.nodes.end(), {rs->id, tr->id});
        m.out = tr->outputs[0];
        m.outW = std::move(wo);
        m.outB = std::move(bo);
    }
    // Backward: mask, scale, q k^T.
    std::string s = softmax.inputs[0];
    if (ir::Node* where = prod(g, s, "Where")) {
        const auto scores = matchCausalWhere(g, *where, why);
        if (!scores) return std::nullopt;
        m.causal = true;
        m.nodes.push_back(where->id);
        s = *scores;
    } else if (ir::Node* add = prod(g, s, "Add")) {
        int maskSide = -1;
        for (int i = 0; i < 2 && maskSide < 0; ++i)
            if (isCausalAdditive(g, add->inputs[i])) {
                maskSide = i;
                m.causal = true;
            }
        for (int i = 0; i < 2 && maskSide < 0; ++i)
            if (matchPaddingMask(g, add->inputs[i], m, why)) maskSide = i;
        if (maskSide < 0) return std::nullopt; // why: from matchPaddingMask
        m.nodes.push_back(add->id);
        s = add->inputs[1 - maskSide];
    }
    s = peelScale(g, s, m.scale, m.nodes);
    ir::Node* qk = prod(g, s, "MatMul");
    if (!qk) {
        why = "Q K^T MatMul not found";
        return std::nullopt;
    }
    m.nodes.push_back(qk->id);
    const std::string qHeads = peelScale(g, qk->inputs[0], m.scale, m.nodes, 1);
    const std::string kHeads = peelScale(g, qk->inputs[1], m.scale, m.nodes, 1);
    auto heads = seqFirst ? matchHeads3 : matchHeads4;
    if (!heads(g, qHeads, false, m.q, m.nodes, why)) {
        why = "Q projection: " + why;
        return std::nullopt;
    }
    for (auto [operand, proj, isK] :
         {std::tuple{kHeads, &m.k, true}, std::tuple{pv->inputs[1], &m.v, false}}) {
        std::string whyKv;
        if (heads(g, operand, isK, *proj, m.nodes, whyKv)) continue;
        const int64_t width = repeatedProjectionWidth(g, operand);
        const int64_t qWidth = m.q.heads * m.q.headSize;
        if (width > 0 && width < qWidth && qWidth % width == 0 && width % m.q.headSize == 0) {
            why = "grouped-query attention: " + std::to_string(m.q.heads) + " query heads of " +
                  std::to_string(m.q.headSize) + ", " + std::to_string(width / m.q.headSize) +
                  " K/V heads repeated to match; com.microsoft Attention needs as many K/V heads as query "
                  "heads "
                  "(GroupQueryAttention needs the KV-cache graph layout) — not fused";
        } else {
            why = std::string(isK ? "K" : "V") + " projection: " + whyKv;
        }
        return std::nullopt;
    }
    if (m.q.x != m.k.x || m.q.x != m.v.x) {
        why = "Q, K and V are not projections of the same input (cross-attention is not fused)";
        return std::nullopt;
    }
    if (m.q.heads != m.k.heads || m.q.heads != m.v.heads || m.q.headSize != m.k.headSize ||
        m.q.headSize != m.v.headSize) {
        why = "Q, K and V have different head shapes";
        return std::nullopt;
    }
    if (m.q.b.empty() != m.k.b.empty() || m.q.b.empty() != m.v.b.empty()) {
        why = "only some of Q, K, V have a bias";
        return std::nullopt;
    }
    m.x = m.q.x;
    if (seqFirst) { // the projections read x^T = Transpose(1,0,2)(x)
        ir::Node* xt = prod(g, m.x, "Transpose");
        if (!isPerm(xt, {1, 0, 2})) {
            why = "sequence-first attention input is not a (1,0,2) transpose of a batch-first tensor";
            return std::nullopt;
        }
        m.nodes.push_back(xt->id);
        m.x = xt->inputs[0];
        if (m.outW && m.outW->dim(0) != m.q.heads * m.q.headSize) {
            why = "output projection input width differs from heads * head_size";
            return std::nullopt;
        }
    }
    std::sort(m.nodes.begin(), m.nodes.end());
    m.nodes.erase(std::unique(m.nodes.begin(), m.nodes.end()), m.nodes.end());
    if (!closed(g, m.nodes, m.out, why)) return std::nullopt;
    m.anchor = m.q.matmul;
    return m;
}

} // namespace opstudio::passes::fusion::attention
