// AVX-VNNI build of the K-quant GEMM (vpmaddubsw + vpdpwssd). Callers check cpu::has_avx_vnni().
#define PODSERVE_GEMM_K_VNNI 1
#define PODSERVE_GEMM_K_ENTRY gemm_k_rows_avxvnni
#include "kernels/cpu/quant_gemm_k_impl.inc"
