#include "model/weights.h"

namespace podserve {

std::string dims_string(const GgufTensor& t) {
  std::string s = "{";
  for (size_t i = 0; i < t.dims.size(); ++i) s += (i ? ", " : "") + std::to_string(t.dims[i]);
  return s + "}";
}

Result<kernels::MatrixView> bind_matrix(const GgufFile& file, const std::string& name, int64_t rows, int64_t cols) {
  const GgufTensor* t = file.find_tensor(name);
  if (t == nullptr) return data_loss("model file is missing tensor '" + name + "'");
  if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows) {
    return data_loss("tensor '" + name + "' has shape " + dims_string(*t) + ", expected {" + std::to_string(cols) +
                     ", " + std::to_string(rows) + "}");
  }
  if (!kernels::matmul_supports(t->type)) {
    return unimplemented("tensor '" + name + "' has type " + dtype_name(t->type) + ", which matmul does not support");
  }
  kernels::MatrixView view{t->type, t->data, rows, cols};
  if (view.row_bytes() * static_cast<size_t>(rows) != t->nbytes) {
    return data_loss("tensor '" + name + "' has an unexpected byte size");
  }
  return view;
}

Result<const float*> bind_vector(const GgufFile& file, const std::string& name, int64_t n) {
  const GgufTensor* t = file.find_tensor(name);
  if (t == nullptr) return data_loss("model file is missing tensor '" + name + "'");
  if (t->num_elements() != n) {
    return data_loss("tensor '" + name + "' has shape " + dims_string(*t) + ", expected {" + std::to_string(n) + "}");
  }
  if (t->type != DType::kF32) {
    return unimplemented("tensor '" + name + "' has type " + dtype_name(t->type) + "; norm weights must be F32");
  }
  if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
    return data_loss("tensor '" + name + "' is not aligned");
  }
  return reinterpret_cast<const float*>(t->data);
}

}  // namespace podserve
