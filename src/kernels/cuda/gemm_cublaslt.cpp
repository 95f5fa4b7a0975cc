// GemmContext over cuBLASLt (device_ops.h): prefill GEMMs on tensor cores, float32 accumulation and output.
// y[n, rows] = x[n, cols] . W[rows, cols]^T is, column-major, D[rows, n] = op(A)[rows, cols] . B[cols, n] with
// A = W read as a [cols, rows] column-major matrix (TRANSA = T, no copy), B = x, D = y (ld = y_stride).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>

#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // NVIDIA's recommendation for Hopper

Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ok_status();
  return internal_error(std::string(what) + ": " + cudaGetErrorString(err));
}

Status cublas_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return ok_status();
  return internal_error(std::string(what) + ": " + cublasLtGetStatusName(st));
}

// The operand type cuBLASLt sees for a weight type: F32 stays float32 (small models), F16 stays fp16, BF16 and
// every quantized type are bf16 (quantized ones dequantized into the weight scratch first).
cudaDataType_t operand_type(DType t) {
  switch (t) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    default: return CUDA_R_16BF;
  }
}

// The largest power of two (up to 256) that divides the address: cuBLASLt's heuristic assumes 256-byte aligned
// operands unless told otherwise.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return a == 0 ? 256u : static_cast<uint32_t>(std::min<uintptr_t>(256, a & (~a + 1)));
}

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

class CublasLtGemm final : public GemmContext {
 public:
  ~CublasLtGemm() override {
    for (auto& [key, p] : plans_) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.d);
      cublasLtMatmulDescDestroy(p.desc);
    }
    if (handle_ != nullptr) cublasLtDestroy(handle_);
    cudaFree(workspace_);
    cudaFree(act_);
    cudaFree(weight_);
  }

  Status init(int64_t max_tokens, int64_t max_cols, int64_t max_weight_elems) {
    max_act_elems_ = max_tokens * max_cols;
    max_weight_elems_ = max_weight_elems;
    PODSERVE_RETURN_IF_ERROR(cublas_status(cublasLtCreate(&handle_), "cublasLtCreate"));
    PODSERVE_RETURN_IF_ERROR(cuda_status(cudaMalloc(&workspace_, kWorkspaceBytes), "cudaMalloc(cuBLASLt workspace)"));
    PODSERVE_RETURN_IF_ERROR(cuda_status(cudaMalloc(&act_, static_cast<size_t>(max_act_elems_) * 2 + 16),
                                         "cudaMalloc(GEMM activation scratch)"));
    if (max_weight_elems_ > 0) {
      PODSERVE_RETURN_IF_ERROR(cuda_status(cudaMalloc(&weight_, static_cast<size_t>(max_weight_elems_) * 2),
                                           "cudaMalloc(GEMM weight scratch)"));
    }
    return ok_status();
  }

  Status warm_up(const MatrixView& w, int64_t n) override {
    const Plan* plan = nullptr;
    return plan_for(w, n, w.cols, w.rows, {256, 256, 256}, &plan);  // contiguous, cudaMalloc'd x and y
  }

  Status gemm(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
              int64_t y_stride, Stream stream) override {
    if (n <= 0) return ok_status();
    if (!device_supports(w.type)) return invalid_argument(std::string("gemm: weight type ") + dtype_name(w.type));
    const void* a = w.data;
    const void* b = x;
    int64_t ldb = x_stride;
    if (w.type != DType::kF32) {  // x rounded to the weights' 16-bit type, contiguous
      if (n * w.cols > max_act_elems_) return out_of_range("gemm: more activations than the context was sized for");
      const bool fp16 = operand_type(w.type) == CUDA_R_16F;
      const int64_t rows = x_stride == w.cols ? 1 : n, len = x_stride == w.cols ? n * w.cols : w.cols;
      for (int64_t t = 0; t < rows; ++t) {
        const float* xt = x + t * x_stride;
        uint16_t* at = act_ + t * w.cols;
        PODSERVE_RETURN_IF_ERROR(fp16 ? to_fp16(xt, at, len, stream) : to_bf16(xt, at, len, stream));
      }
      b = act_;
      ldb = w.cols;
    }
    if (w.type != DType::kF32 && w.type != DType::kF16 && w.type != DType::kBF16) {
      if (w.rows * w.cols > max_weight_elems_) {
        return out_of_range("gemm: a quantized weight larger than the context's weight scratch");
      }
      PODSERVE_RETURN_IF_ERROR(dequantize_bf16(w, weight_, stream));
      a = weight_;
    }
    const Plan* plan = nullptr;
    PODSERVE_RETURN_IF_ERROR(plan_for(w, n, ldb, y_stride, {alignment_of(a), alignment_of(b), alignment_of(y)}, &plan));
    const float alpha = 1.0f, beta = 0.0f;
    PODSERVE_RETURN_IF_ERROR(cublas_status(
        cublasLtMatmul(handle_, plan->desc, &alpha, a, plan->a, b, plan->b, &beta, y, plan->d, y, plan->d, &plan->algo,
                       workspace_, kWorkspaceBytes, stream),
        "cublasLtMatmul"));
    if (bias != nullptr) PODSERVE_RETURN_IF_ERROR(add_bias(y, y_stride, bias, n, w.rows, stream));
    return ok_status();
  }

  size_t device_bytes() const override {
    return kWorkspaceBytes + static_cast<size_t>(max_act_elems_) * 2 + static_cast<size_t>(max_weight_elems_) * 2;
  }

 private:
  // The descriptors and the heuristic's best algorithm for one (type, shape, strides), made once.
  Status plan_for(const MatrixView& w, int64_t n, int64_t ldb, int64_t ldd, std::array<uint32_t, 3> align,
                  const Plan** out) {
    const cudaDataType_t t = operand_type(w.type);
    const auto key = std::make_tuple(static_cast<int>(t), w.rows, w.cols, n, ldb, ldd, align);
    auto it = plans_.find(key);
    if (it != plans_.end()) {
      *out = &it->second;
      return ok_status();
    }
    Plan p;
    PODSERVE_RETURN_IF_ERROR(cublas_status(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                                           "cublasLtMatmulDescCreate"));
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa);
    cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb);
    PODSERVE_RETURN_IF_ERROR(cublas_status(
        cublasLtMatrixLayoutCreate(&p.a, t, static_cast<uint64_t>(w.cols), static_cast<uint64_t>(w.rows), w.cols),
        "cublasLtMatrixLayoutCreate(A)"));
    PODSERVE_RETURN_IF_ERROR(cublas_status(
        cublasLtMatrixLayoutCreate(&p.b, t, static_cast<uint64_t>(w.cols), static_cast<uint64_t>(n), ldb),
        "cublasLtMatrixLayoutCreate(B)"));
    PODSERVE_RETURN_IF_ERROR(cublas_status(
        cublasLtMatrixLayoutCreate(&p.d, CUDA_R_32F, static_cast<uint64_t>(w.rows), static_cast<uint64_t>(n), ldd),
        "cublasLtMatrixLayoutCreate(D)"));
    cublasLtMatmulPreference_t pref = nullptr;
    PODSERVE_RETURN_IF_ERROR(cublas_status(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate"));
    const size_t ws = kWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align[0], sizeof align[0]);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align[1], sizeof align[1]);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align[2], sizeof align[2]);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align[2], sizeof align[2]);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.a, p.b, p.d, p.d, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.d);
      cublasLtMatmulDescDestroy(p.desc);
      return internal_error("cuBLASLt has no algorithm for a " + std::to_string(w.rows) + " x " +
                            std::to_string(w.cols) + " " + dtype_name(w.type) + " GEMM over " + std::to_string(n) +
                            " tokens" + (st != CUBLAS_STATUS_SUCCESS ? std::string(": ") + cublasLtGetStatusName(st) : ""));
    }
    p.algo = result.algo;
    it = plans_.emplace(key, p).first;
    *out = &it->second;
    return ok_status();
  }

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  uint16_t* act_ = nullptr;
  uint16_t* weight_ = nullptr;
  int64_t max_act_elems_ = 0;
  int64_t max_weight_elems_ = 0;
  std::map<std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, std::array<uint32_t, 3>>, Plan> plans_;
};

}  // namespace

Result<std::unique_ptr<GemmContext>> GemmContext::create(int64_t max_tokens, int64_t max_cols, int64_t max_weight_elems,
                                                         Stream stream) {
  (void)stream;
  if (max_tokens <= 0 || max_cols <= 0 || max_weight_elems < 0) return invalid_argument("GemmContext: bad sizes");
  auto ctx = std::make_unique<CublasLtGemm>();
  PODSERVE_RETURN_IF_ERROR(ctx->init(max_tokens, max_cols, max_weight_elems));
  return std::unique_ptr<GemmContext>(std::move(ctx));
}

Status matmul(GemmContext* ctx, const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias,
              float* y, int64_t y_stride, Stream stream) {
  if (n <= kGemvMaxTokens) return gemv(w, x, x_stride, n, bias, y, y_stride, stream);
  if (ctx == nullptr) return invalid_argument("matmul: more than kGemvMaxTokens tokens need a GemmContext");
  return ctx->gemm(w, x, x_stride, n, bias, y, y_stride, stream);
}

}  // namespace podserve::kernels::cuda
