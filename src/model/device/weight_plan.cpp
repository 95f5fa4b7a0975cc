#include "model/device/weight_plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "model/device/bump_arena.h"

namespace podserve {
namespace {

class Planner {
 public:
  explicit Planner(WeightPlan& plan) : plan_(plan) {}

  // Starts a group of tensors placed back to back (its start aligned).
  void align() { offset_ = BumpArena::align_up(offset_); }

  Result<DeviceMatrix> matrix(const kernels::MatrixView& m) {
    if (m.data == nullptr && m.rows == 0) return DeviceMatrix{};
    if (!device_reads(m.type)) {
      return unimplemented(std::string("weights of type ") + dtype_name(m.type) + " are not supported on the GPU");
    }
    if (m.rows <= 0 || m.cols <= 0 || m.cols % dtype_block_size(m.type) != 0) {
      return invalid_argument("a weight matrix has an unusable shape");
    }
    DeviceMatrix d{m.type, m.rows, m.cols};
    if (m.data != nullptr) {
      const auto key = std::make_pair(m.data, m.row_bytes() * static_cast<size_t>(m.rows));
      auto it = placed_.find(key);
      if (it != placed_.end() && it->second.type == m.type && it->second.rows == m.rows) return it->second;
    }
    d.offset = offset_;
    offset_ += d.bytes();
    if (m.data != nullptr) {
      plan_.uploads.push_back({m.data, d.offset, d.bytes()});
      placed_[{m.data, d.bytes()}] = d;
    }
    return d;
  }

  // bf16 twins for the given matrices, back to back, in that order.
  void twins(std::initializer_list<DeviceMatrix*> ms) {
    bool any = false;
    for (DeviceMatrix* m : ms) any = any || (m->present() && needs_bf16_twin(m->type) && m->bf16_offset == kNoOffset);
    if (!any) return;
    align();
    for (DeviceMatrix* m : ms) {
      if (!m->present() || !needs_bf16_twin(m->type)) continue;
      auto it = twin_of_.find(m->offset);
      if (it != twin_of_.end()) {  // a shared matrix (tied embeddings): one twin
        m->bf16_offset = it->second;
        continue;
      }
      m->bf16_offset = offset_;
      const size_t bytes = static_cast<size_t>(m->rows) * m->cols * 2;
      offset_ += bytes;
      plan_.bf16_twin_bytes += bytes;
      plan_.twins.push_back({m->type, m->rows, m->cols, m->offset, m->bf16_offset});
      twin_of_[m->offset] = m->bf16_offset;
    }
  }

  DeviceVector vector(const std::vector<float>& v) {
    if (v.empty()) return {};
    DeviceVector d{offset_, static_cast<int64_t>(v.size())};
    offset_ += v.size() * sizeof(float);
    plan_.uploads.push_back({reinterpret_cast<const uint8_t*>(v.data()), d.offset, v.size() * sizeof(float)});
    return d;
  }

  size_t end() const { return offset_; }

 private:
  static bool device_reads(DType t) { return t != DType::kQ8_1; }

  WeightPlan& plan_;
  size_t offset_ = 0;
  std::map<std::pair<const uint8_t*, size_t>, DeviceMatrix> placed_;
  std::map<size_t, size_t> twin_of_;
};

bool same_layout(const DeviceMatrix& a, const DeviceMatrix& b) { return a.type == b.type && a.cols == b.cols; }

}  // namespace

bool needs_bf16_twin(DType type) { return type != DType::kF32 && type != DType::kF16 && type != DType::kBF16; }

Result<WeightPlan> plan_device_weights(const DecoderWeights& w) {
  WeightPlan plan;
  Planner p(plan);
  p.align();
  PODSERVE_ASSIGN_OR_RETURN(plan.embedding, p.matrix(w.embedding));
  p.align();
  PODSERVE_ASSIGN_OR_RETURN(plan.output, p.matrix(w.output));
  p.align();
  plan.final_norm = p.vector(w.final_norm);
  plan.layers.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const DecoderLayer& l = w.layers[i];
    DeviceLayer& d = plan.layers[i];
    d.sliding = l.sliding;
    p.align();
    PODSERVE_ASSIGN_OR_RETURN(d.wq, p.matrix(l.wq));
    PODSERVE_ASSIGN_OR_RETURN(d.wk, p.matrix(l.wk));
    PODSERVE_ASSIGN_OR_RETURN(d.wv, p.matrix(l.wv));
    d.qkv_adjacent = same_layout(d.wq, d.wk) && same_layout(d.wq, d.wv) && d.wk.offset == d.wq.offset + d.wq.bytes() &&
                     d.wv.offset == d.wk.offset + d.wk.bytes() && l.bq.empty() == l.bk.empty() &&
                     l.bq.empty() == l.bv.empty();
    p.align();
    d.bq = p.vector(l.bq);
    d.bk = p.vector(l.bk);
    d.bv = p.vector(l.bv);
    p.align();
    PODSERVE_ASSIGN_OR_RETURN(d.wo, p.matrix(l.wo));
    p.align();
    PODSERVE_ASSIGN_OR_RETURN(d.gate, p.matrix(l.gate));
    PODSERVE_ASSIGN_OR_RETURN(d.up, p.matrix(l.up));
    d.gate_up_adjacent = d.gate.present() && same_layout(d.gate, d.up) && d.up.offset == d.gate.offset + d.gate.bytes();
    p.align();
    PODSERVE_ASSIGN_OR_RETURN(d.down, p.matrix(l.down));
    p.align();
    PODSERVE_ASSIGN_OR_RETURN(d.router, p.matrix(l.router));
    d.experts.resize(l.experts.size());
    for (size_t e = 0; e < l.experts.size(); ++e) {
      p.align();
      PODSERVE_ASSIGN_OR_RETURN(d.experts[e].gate, p.matrix(l.experts[e].gate));
      PODSERVE_ASSIGN_OR_RETURN(d.experts[e].up, p.matrix(l.experts[e].up));
      PODSERVE_ASSIGN_OR_RETURN(d.experts[e].down, p.matrix(l.experts[e].down));
    }
    p.align();
    d.attn_norm = p.vector(l.attn_norm);
    d.post_attn_norm = p.vector(l.post_attn_norm);
    d.ffn_norm = p.vector(l.ffn_norm);
    d.post_ffn_norm = p.vector(l.post_ffn_norm);
    d.q_norm = p.vector(l.q_norm);
    d.k_norm = p.vector(l.k_norm);
    d.b_gate = p.vector(l.b_gate);
    d.b_up = p.vector(l.b_up);
    d.b_down = p.vector(l.b_down);
    d.bo = p.vector(l.bo);
  }
  // Twins after all stored weights, grouped as the matmuls read them.
  p.align();
  plan.stored_bytes = p.end();
  // The embedding is gathered from its stored type: only the output matrix (tied or not) needs a twin.
  p.twins({&plan.output});
  for (DeviceLayer& d : plan.layers) {
    p.twins({&d.wq, &d.wk, &d.wv});
    p.twins({&d.wo});
    p.twins({&d.gate, &d.up});
    p.twins({&d.down});
    p.twins({&d.router});
    for (DeviceExpert& e : d.experts) p.twins({&e.gate, &e.up, &e.down});
  }
  plan.total_bytes = BumpArena::align_up(p.end());
  std::sort(plan.uploads.begin(), plan.uploads.end(),
            [](const WeightUpload& a, const WeightUpload& b) { return a.offset < b.offset; });
  for (const WeightUpload& u : plan.uploads) plan.upload_bytes += u.bytes;
  return plan;
}

void drop_bf16_twins(WeightPlan& plan) {
  auto drop = [](DeviceMatrix& m) { m.bf16_offset = kNoOffset; };
  drop(plan.embedding);
  drop(plan.output);
  for (DeviceLayer& l : plan.layers) {
    for (DeviceMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down, &l.router}) drop(*m);
    for (DeviceExpert& e : l.experts) {
      drop(e.gate);
      drop(e.up);
      drop(e.down);
    }
  }
  plan.twins.clear();
  plan.bf16_twin_bytes = 0;
  plan.total_bytes = plan.stored_bytes;
}

}  // namespace podserve
