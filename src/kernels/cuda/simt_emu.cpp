#include "kernels/cuda/simt_emu.h"

#include <sys/mman.h>

#include <atomic>
#include <memory>
#include <vector>

#include "base/check.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

// A fiber switch without system calls (ucontext's swapcontext makes one per switch, ~3 us in a VM): saves the
// callee-saved registers on the current stack, stores the stack pointer in *save_sp and continues on load_sp.
// (The SSE/x87 control words are not switched: kernels never change them.) A new fiber's stack is laid out so that its first switch "returns" into
// simt_emu_trampoline, which calls r13(r12).
extern "C" void simt_emu_switch(void** save_sp, void* load_sp);
extern "C" void simt_emu_trampoline();
asm(R"(
  .pushsection .text
  .globl simt_emu_switch
  .type simt_emu_switch, @function
simt_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size simt_emu_switch, .-simt_emu_switch
  .globl simt_emu_trampoline
  .type simt_emu_trampoline, @function
simt_emu_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size simt_emu_trampoline, .-simt_emu_trampoline
  .popsection
)");

namespace simt_emu {
namespace {

constexpr size_t kStackBytes = 512 * 1024;

// One CUDA thread: a fiber with its own stack, run by the block's scheduler until it waits at a barrier or ends.
struct Fiber {
  void* sp = nullptr;
  void* stack = nullptr;
  uint3 index;
  enum class State { kReady, kAtBlockBarrier, kAtWarpBarrier, kDone } state = State::kReady;
  ~Fiber() {
    if (stack != nullptr) munmap(stack, kStackBytes);
  }
};

struct WarpSlots {
  double slots[kWarpSlots * 32];
};

// Runs a grid's blocks one after another; within a block, each CUDA thread is a fiber on the calling host thread,
// switched at every barrier. Between two barriers the fibers run in turn, forward in even phases and backward in
// odd ones, so a read of another thread's write that lacks a barrier sees stale data in one of the two orders.
class Scheduler {
 public:
  void run(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
    const unsigned n = block.x * block.y * block.z;
    PODSERVE_CHECK(n >= 1 && n <= 1024) << "simt_emu: a block of " << n << " threads";
    PODSERVE_CHECK(current_ == nullptr) << "simt_emu: a launch from inside a kernel";
    while (fibers_.size() < n) {
      auto f = std::make_unique<Fiber>();
      f->stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      PODSERVE_CHECK(f->stack != MAP_FAILED) << "simt_emu: no memory for a fiber stack";
      fibers_.push_back(std::move(f));
    }
    warps_.resize((n + 31) / 32);
    smem_.assign(smem, 0);
    body_ = &body;
    n_ = n;
    blockDim = block;
    gridDim = grid;
    for (unsigned z = 0; z < grid.z; ++z) {
      for (unsigned y = 0; y < grid.y; ++y) {
        for (unsigned x = 0; x < grid.x; ++x) run_block(uint3{x, y, z}, block);
      }
    }
    body_ = nullptr;
  }

  void block_barrier() { wait(Fiber::State::kAtBlockBarrier); }
  void warp_barrier() { wait(Fiber::State::kAtWarpBarrier); }
  uint8_t* smem() { return smem_.data(); }
  double* warp_slots() { return warps_[current_index_ / 32].slots; }

 private:
  static void entry(Scheduler* self) { self->fiber_main(); }

  // A fresh stack whose first switch enters entry(this) through the trampoline.
  void init_stack(Fiber& f) {
    auto* top = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(f.stack) + kStackBytes - 64) & ~uintptr_t{15});
    uint64_t* sp = top - 8 + 1;  // after the 7 pops and the ret, rsp = top: 16-byte aligned for the call
    sp[0] = 0;                                                       // r15
    sp[1] = 0;                                                       // r14
    sp[2] = reinterpret_cast<uint64_t>(&Scheduler::entry);           // r13: what the trampoline calls
    sp[3] = reinterpret_cast<uint64_t>(this);                        // r12: its argument
    sp[4] = 0;                                                       // rbx
    sp[5] = 0;                                                       // rbp
    sp[6] = reinterpret_cast<uint64_t>(&simt_emu_trampoline);        // return address
    f.sp = sp;
  }

  void fiber_main() {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
    (*body_)();
    current_->state = Fiber::State::kDone;
    switch_to_scheduler();
  }

  void run_block(uint3 block_idx, dim3 block) {
    blockIdx = block_idx;
    for (unsigned i = 0; i < n_; ++i) {
      init_stack(*fibers_[i]);
      fibers_[i]->state = Fiber::State::kReady;
      fibers_[i]->index = uint3{i % block.x, i / block.x % block.y, i / (block.x * block.y)};
    }
    for (unsigned phase = 0;; ++phase) {
      // Run every ready fiber until it waits or ends.
      bool ran = true;
      while (ran) {
        ran = false;
        for (unsigned k = 0; k < n_; ++k) {
          const unsigned i = phase % 2 == 0 ? k : n_ - 1 - k;
          if (fibers_[i]->state != Fiber::State::kReady) continue;
          resume(i, block);
          ran = true;
        }
        ran = release_warps() || ran;
      }
      unsigned done = 0, at_block = 0;
      for (unsigned i = 0; i < n_; ++i) {
        done += fibers_[i]->state == Fiber::State::kDone;
        at_block += fibers_[i]->state == Fiber::State::kAtBlockBarrier;
      }
      if (done == n_) return;
      PODSERVE_CHECK(at_block == n_) << "simt_emu: block (" << block_idx.x << "," << block_idx.y << "," << block_idx.z
                                     << "): " << at_block << " of " << n_ << " threads wait at __syncthreads, " << done
                                     << " have returned (a barrier not reached by every thread)";
      for (unsigned i = 0; i < n_; ++i) fibers_[i]->state = Fiber::State::kReady;
    }
  }

  // Releases each warp whose live threads all wait at the warp barrier; true if any was released.
  bool release_warps() {
    bool any = false;
    for (unsigned w = 0; w * 32 < n_; ++w) {
      const unsigned end = std::min(n_, 32 * (w + 1));
      unsigned waiting = 0, done = 0;
      for (unsigned i = 32 * w; i < end; ++i) {
        waiting += fibers_[i]->state == Fiber::State::kAtWarpBarrier;
        done += fibers_[i]->state == Fiber::State::kDone;
      }
      if (waiting == 0) continue;
      PODSERVE_CHECK(done == 0) << "simt_emu: a warp collective after some lanes of the warp returned";
      if (waiting < end - 32 * w) continue;
      for (unsigned i = 32 * w; i < end; ++i) fibers_[i]->state = Fiber::State::kReady;
      any = true;
    }
    return any;
  }

  void resume(unsigned i, dim3 block) {
    current_ = fibers_[i].get();
    current_index_ = i;
    threadIdx = current_->index;
#if defined(__SANITIZE_ADDRESS__)
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, current_->stack, kStackBytes);
#endif
    simt_emu_switch(&scheduler_sp_, current_->sp);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    current_ = nullptr;
  }

  void wait(Fiber::State state) {
    PODSERVE_CHECK(current_ != nullptr) << "simt_emu: a barrier outside a kernel";
    current_->state = state;
    switch_to_scheduler();
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  }

  void switch_to_scheduler() {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(current_->state == Fiber::State::kDone ? nullptr : &fake_, nullptr, 0);
#endif
    simt_emu_switch(&current_->sp, scheduler_sp_);
  }

  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::vector<WarpSlots> warps_;
  std::vector<uint8_t> smem_;
  const std::function<void()>* body_ = nullptr;
  unsigned n_ = 0;
  void* scheduler_sp_ = nullptr;
  Fiber* current_ = nullptr;
  unsigned current_index_ = 0;
  void* fake_ = nullptr;
};

Scheduler& scheduler() {
  static Scheduler s;
  return s;
}

}  // namespace

void run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  static std::atomic<bool> busy{false};
  PODSERVE_CHECK(!busy.exchange(true)) << "simt_emu: two launches at once (the emulator runs one at a time)";
  scheduler().run(grid, block, smem, body);
  busy.store(false);
}

void misaligned_access(const void* p, size_t alignment) {
  PODSERVE_CHECK(false) << "simt_emu: a " << alignment << "-byte access at " << p
                        << " is misaligned (a GPU faults here): block " << blockIdx.x << "," << blockIdx.y << ","
                        << blockIdx.z << " thread " << threadIdx.x << "," << threadIdx.y << "," << threadIdx.z;
}

uint8_t* dynamic_smem() { return scheduler().smem(); }

void syncwarp() { scheduler().warp_barrier(); }

double* warp_slots() { return scheduler().warp_slots(); }

void mma_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], bool bf16) {
  double* slots = warp_slots();
  const int me = lane();
  for (int i = 0; i < 4; ++i) slots[i * 32 + me] = a[i];
  for (int i = 0; i < 2; ++i) slots[(4 + i) * 32 + me] = b[i];
  syncwarp();
  auto value = [&](int reg, int l, int half) {
    const auto word = static_cast<uint32_t>(slots[reg * 32 + l]);
    const auto bits = static_cast<uint16_t>(half ? word >> 16 : word & 0xFFFFu);
    return bf16 ? podserve::bf16_to_float(bits) : podserve::fp16_to_float(bits);
  };
  // This lane's outputs need rows g and g + 8 of A and columns 2t, 2t + 1 of B. A(r, k) is in lane
  // 4 * (r % 8) + (k % 8) / 2, register (r >= 8) + 2 * (k >= 8), half k % 2; B(k, n) in lane 4 * n + (k % 8) / 2,
  // register 4 + (k >= 8), half k % 2.
  const int g = me / 4, t = me % 4;
  float a_rows[2][16], b_cols[2][16];
  for (int k = 0; k < 16; ++k) {
    const int l_off = (k % 8) / 2, half = k % 2;
    for (int h = 0; h < 2; ++h) {
      a_rows[h][k] = value(h + 2 * (k >= 8), 4 * g + l_off, half);
      b_cols[h][k] = value(4 + (k >= 8), 4 * (2 * t + h) + l_off, half);
    }
  }
  syncwarp();
  for (int i = 0; i < 4; ++i) {
    double sum = 0.0;
    for (int k = 0; k < 16; ++k) sum += static_cast<double>(a_rows[i / 2][k]) * b_cols[i % 2][k];
    d[i] = static_cast<float>(sum + c[i]);
  }
}

}  // namespace simt_emu

void __syncthreads() { simt_emu::scheduler().block_barrier(); }
