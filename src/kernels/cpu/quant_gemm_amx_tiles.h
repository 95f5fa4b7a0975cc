// AMX tile configuration shared by the AMX GEMM kernels (quant_gemm_amx.cpp, quant_gemm_amx_decode.cpp,
// quant_gemm_k_amx.cpp). Include only from files compiled with -mamx-tile.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace podserve::kernels::gemm::amx {

// The 64-byte operand of ldtilecfg, palette 1; unset tiles stay 0 x 0 (unused).
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};

  void set(int tile, int n_rows, int bytes_per_row) {
    rows[tile] = static_cast<uint8_t>(n_rows);
    colsb[tile] = static_cast<uint16_t>(bytes_per_row);
  }
};

// Makes cfg the tile configuration of this thread. GCC 12 does not count ldtilecfg as a read of cfg and can drop
// the stores that filled it (it did with a run-time row count: every tile instruction then faults); the empty
// asm makes them visible.
inline void load_tile_config(const TileConfig& cfg) {
  asm volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

// The Q4/Q8 kernels' layout: two sets of tiles (one block's product runs while the previous one is scaled),
// tiles 0, 1 = C (`rows` x 16 int32), 2, 3 = A (`rows` x 32 bytes), 4, 5 = B (8 x 64 bytes: 16 columns x 4 bytes).
// Which operand holds weights and which activations is the kernel's choice.
inline void load_double_buffered_tiles(int rows) {
  TileConfig cfg;
  for (int set = 0; set < 2; ++set) {
    cfg.set(0 + set, rows, 64);
    cfg.set(2 + set, rows, 32);
    cfg.set(4 + set, 8, 64);
  }
  load_tile_config(cfg);
}

}  // namespace podserve::kernels::gemm::amx
