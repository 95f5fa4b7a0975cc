// AVX-VNNI build of the quantized GEMM (vpdpbusd dot products). Callers check cpu::has_avx_vnni().
#define PODSERVE_GEMM_VNNI 1
#define PODSERVE_GEMM_ENTRY gemm_rows_avxvnni
#include "kernels/cpu/quant_gemm_impl.inc"
