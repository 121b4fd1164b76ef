// windcast's fused LSTM kernels for native TensorFlow, registered through TensorFlow's stable C
// kernel API (tensorflow/c/kernels.h, ops.h) and run by tfjs-node's eager op executor like any
// built-in op. Built by scripts/setup-native.mjs with the machine's g++ against the headers of
// the same tensorflow-cpu wheel the library comes from; src/model/lstm-fast.ts loads it.
//
// The forward (training; inference in fp32 and bf16) and backward passes of an LSTM over a
// whole sequence (sigmoid gates, tanh cell, no peepholes: the maths of tf.layers.lstm / Keras),
// its weight gradients, and the element-wise part of the quantile head's pinball-loss gradient
// (WindcastPinballGrad, src/model/quantile-head.ts).
//
// Why: one training step of windcast's LSTM spends most of its backward pass outside the
// matMuls. Done with TensorFlow ops, every hour of the recurrence is ~9 small kernels (one
// memory pass each, two threads synchronised each time) plus a concat of all hours' gate
// gradients, and each large result is fresh memory that the kernel page-faults in (see
// docs/native-backend.md for the measurements). Here the whole recurrence is one kernel:
//   - rows of the batch are independent through time, so each thread takes blocks of rows and
//     runs all hours for them with no synchronisation, keeping the block in its caches;
//   - per hour and block: one small GEMM for dh_{t-1} (Eigen, built for the CPU's x86-64
//     level) and one fused pass for dc and the four gate gradients, written into the output;
//   - outputs come from a pool of buffers reused across steps (no page faults after warm-up).
// The weight gradients stay large matMuls over all hours in TensorFlow (src/model/lstm-fast.ts).
// The forward op replaces TensorFlow's BlockLSTM the same way: per block of rows, all hours,
// one GEMM per hour and one fused pass for the gates, outputs from the pool.
//
// Op WindcastLstm
//   inputs  x          [T, B, F]   time-major input
//           kernel     [F, 4H]     input kernel, Keras gate order i, f, c, o
//           recurrent  [H, 4H]     recurrent kernel, same order
//           bias       [4H]
//   outputs i, cs, f, o, ci, co, h [T, B, H]: what WindcastLstmGrad needs (the gates after
//           their nonlinearity, the cell state c, tanh(c), and h = o tanh(c)); h_{-1} = c_{-1} = 0.
//
// Op WindcastLstmLast: the same inputs, output h [B, H] of the last hour only, for inference
// (predict, evaluate, validation): nothing but h_T leaves a block's caches. In AVX-512 builds
// with units a multiple of 16, and AVX2 builds with units a multiple of 8, it and WindcastLstm's
// forward run register tiles (lstmTiled, below).
//
// Op WindcastLstmLastBf16: WindcastLstmLast with the weights, inputs and h rounded to bfloat16
// for the products (fp32 sums, gates and cell state), on CPUs with AVX512_BF16; an error elsewhere.
//
// Op WindcastPinballGrad (not an LSTM op: the quantile head's fit, src/model/quantile-head.ts,
// lives beside them to share this library and its build)
//   inputs  raw     [R, H*Q]  the head's pre-activations (lead-major: lead j, level k at j*Q + k)
//           excess  [R, H]    truth - point forecast
//           tau     [Q]       the levels, rising
//           scale   [H]       the width scale per lead (its absolute value is used)
//   output  draw    [R, H*Q]  d(pinball loss)/d(raw), each window-lead's share of the loss not
//                             applied (the caller folds it into the state's rows)
// Maths (m the level nearest 0.5, s = |scale_j|): q - point = raw at m, plus or minus the sums
// of s softplus(raw) outward from it; g_k = 1[excess < q_k - point] - tau_k; draw_m = sum g;
// above m draw_k = s sigmoid(raw_k) sum_{k' >= k} g_k', below -s sigmoid(raw_k) sum_{k' <= k} g_k'.
// It replaces a dozen TensorFlow element-wise ops per step (a memory pass and a thread
// synchronisation each) by one pass per block of rows.
//
// Op WindcastLstmGrad
//   inputs  i, cs, f, o, ci, co   [T, B, H]  WindcastLstm's (or BlockLSTM's) outputs (gates after
//                                            their nonlinearity, cell state, its tanh)
//           recurrent             [H, 4H]    recurrent kernel, Keras gate order i, f, c, o
//           dh                    [B, H]     gradient of the last hour's h (return_sequences
//                                            false) or [T, B, H], of every hour's h
//   output  dgates                [T, B, 4H] gradient of the gate pre-activations, i, f, c, o
// Maths (c_{-1} = 0, sigmoid gates, tanh cell; the same as tf.layers.lstm / Keras):
//   dc_t = dh_t o_t (1 - co_t^2) + dc_{t+1} f_{t+1}
//   dz_i = dc_t ci_t i_t (1 - i_t)      dz_f = dc_t c_{t-1} f_t (1 - f_t)
//   dz_c = dc_t i_t (1 - ci_t^2)        dz_o = dh_t co_t o_t (1 - o_t)
//   dh_{t-1} += dz_t U^T
//
// Op WindcastReleaseBuffers (no inputs; stateful)
//   output  freed_mib  []  MiB freed: the kernels keep their outputs' buffers for the next call
//                          of the same size (BufferPool); this frees the idle ones, e.g. the
//                          training step's once the epochs are over (src/runtime/lstm-kernels.ts)

#include <tensorflow/c/kernels.h>
#include <tensorflow/c/ops.h>
#include <tensorflow/c/tf_status.h>
#include <tensorflow/c/tf_tensor.h>

#include <Eigen/Core>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
// The forward recurrence runs in register tiles (lstmTiled below): 16-lane vectors on AVX-512
// builds, 8-lane on AVX2 + FMA builds (x86-64-v3); other builds use the Eigen path.
#define WINDCAST_TILED 1
#endif

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The same thread count as TensorFlow's intra-op pool (tfjs-node leaves it at its default).
int threadCount() {
  static const int n = [] {
    const char* env = std::getenv("TF_NUM_INTRAOP_THREADS");
    int v = env ? std::atoi(env) : 0;
    if (v <= 0) v = static_cast<int>(std::thread::hardware_concurrency());
    return std::max(v, 1);
  }();
  return n;
}

// Runs fn(block) for every block on up to threadCount() threads (this one included). No C++
// exception may cross TensorFlow's C API or leave a std::thread (either aborts the process):
// a thread that cannot start leaves its blocks to the others, and a block that throws (out of
// memory) stops the work and makes this return false, which the kernel reports as an error.
template <typename Fn>
bool forEachBlock(int64_t blocks, const Fn& fn) {
  const int threads = static_cast<int>(std::min<int64_t>(threadCount(), blocks));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    try {
      for (int64_t b; !failed.load() && (b = next.fetch_add(1)) < blocks;) fn(b);
    } catch (...) {
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < threads; k++) {
    try {
      pool.emplace_back(work);
    } catch (...) {
      break;
    }
  }
  work();
  for (auto& t : pool) t.join();
  return !failed.load();
}

// Marks the kernel failed when forEachBlock did not finish.
void failIfIncomplete(bool complete, TF_OpKernelContext* ctx, TF_Status* status, const char* name) {
  if (complete) return;
  TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, (std::string(name) + ": a worker thread failed (out of memory?)").c_str());
  TF_OpKernelContext_Failure(ctx, status);
}

// Output buffers reused across calls. TensorFlow's CPU allocator hands a tensor this large
// fresh mmap'd memory every time, and first touching it costs about as much as the maths.
// A request takes the smallest idle buffer that holds it, up to kMaxSlack times its size: an
// epoch's short last batch (992 of 4096 windows on the global month) then runs in the full
// batches' buffers instead of adding its own 41 MiB beside them, and inference's outputs of
// a few MiB reuse them too. The kernels write every element of their outputs, so what a
// buffer held before never shows.
class BufferPool {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= bytes * kMaxSlack) {
        void* p = it->second;
        held_ -= it->first;
        free_.erase(it);
        return p;
      }
    }
    void* p = nullptr;
    // 64-byte aligned, so TF_NewTensor uses the buffer instead of copying it.
    if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    capacity_[p] = bytes;
    return p;
  }
  // TensorFlow hands back the length the tensor was made with; the pool files the buffer
  // under the size it was allocated with.
  void give(void* p, size_t) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t bytes = capacity_.at(p);
    if (held_ + bytes > kMaxHeld) {
      capacity_.erase(p);
      std::free(p);
      return;
    }
    free_.emplace(bytes, p);
    held_ += bytes;
  }
  // Frees the idle buffers (those no tensor uses); returns their bytes. Once training is over
  // its step's outputs (7 x [T, batch, H] floats, 168 MiB for 4096 windows of 24 hours and 64
  // units) would otherwise stay with the process, unused.
  size_t release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : free_) {
      capacity_.erase(entry.second);
      std::free(entry.second);
    }
    free_.clear();
    const size_t freed = held_;
    held_ = 0;
    return freed;
  }

 private:
  static constexpr size_t kMaxHeld = size_t(1) << 30;  // a few steps' worth, bounded
  static constexpr size_t kMaxSlack = 8;
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> capacity_;
  size_t held_ = 0;
};

BufferPool& bufferPool() {
  static BufferPool* pool = new BufferPool;  // never destroyed: tensors may outlive statics
  return *pool;
}

void returnToPool(void* data, size_t bytes, void*) { bufferPool().give(data, bytes); }

// Allocates output `index` from the pool; the returned TF_Tensor must be deleted by the caller.
TF_Tensor* pooledOutput(TF_OpKernelContext* ctx, int index, const int64_t* dims, int rank, TF_Status* status) {
  size_t bytes = sizeof(float);
  for (int k = 0; k < rank; k++) bytes *= static_cast<size_t>(dims[k]);
  void* data = bufferPool().take(bytes);
  if (!data) {
    TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "windcast LSTM kernels: out of memory for an output");
    return nullptr;
  }
  TF_Tensor* t = TF_NewTensor(TF_FLOAT, dims, rank, data, bytes, returnToPool, nullptr);
  TF_SetOutput(ctx, index, t, status);
  return t;
}

// Inputs of one call, deleted on every exit path.
struct Inputs {
  std::vector<TF_Tensor*> t;
  ~Inputs() {
    for (TF_Tensor* x : t) if (x) TF_DeleteTensor(x);
  }
  // Fetches the op's first n inputs; false (and the kernel marked failed) when one is missing.
  bool fetch(TF_OpKernelContext* ctx, int n, TF_Status* status) {
    t.assign(n, nullptr);
    for (int k = 0; k < n; k++) {
      TF_GetInput(ctx, k, &t[k], status);
      if (TF_GetCode(status) != TF_OK) {
        TF_OpKernelContext_Failure(ctx, status);
        return false;
      }
    }
    return true;
  }
  const float* data(int k) const { return static_cast<const float*>(TF_TensorData(t[k])); }
};

// Rows of the batch per block: a block's [rows, 4H] gates for one hour stay in L2 between the
// hour's GEMM and its elementwise pass; measured flat from 64 to 2048 rows, so small enough to
// balance the threads.
constexpr int64_t kRows = 128;

bool sameShape(TF_Tensor* a, TF_Tensor* b) {
  if (TF_NumDims(a) != TF_NumDims(b)) return false;
  for (int k = 0; k < TF_NumDims(a); k++) if (TF_Dim(a, k) != TF_Dim(b, k)) return false;
  return true;
}

// One hour of one batch row: dc and the four gate gradients (see the header for the maths).
inline void gateGradRow(int64_t H, const float* __restrict__ i, const float* __restrict__ f, const float* __restrict__ o,
                        const float* __restrict__ ci, const float* __restrict__ co, const float* __restrict__ cPrev,
                        const float* __restrict__ dh, float* __restrict__ dc, float* __restrict__ g) {
  float* __restrict__ gi = g;
  float* __restrict__ gf = g + H;
  float* __restrict__ gc = g + 2 * H;
  float* __restrict__ go = g + 3 * H;
  if (cPrev) {
    for (int64_t j = 0; j < H; j++) {
      const float d = dh[j] * o[j] * (1.f - co[j] * co[j]) + dc[j];
      gi[j] = d * ci[j] * i[j] * (1.f - i[j]);
      gf[j] = d * cPrev[j] * f[j] * (1.f - f[j]);
      gc[j] = d * i[j] * (1.f - ci[j] * ci[j]);
      go[j] = dh[j] * co[j] * o[j] * (1.f - o[j]);
      dc[j] = d * f[j];
    }
  } else {  // the first hour: c_{-1} = 0, so the forget gate gets no gradient
    for (int64_t j = 0; j < H; j++) {
      const float d = dh[j] * o[j] * (1.f - co[j] * co[j]) + dc[j];
      gi[j] = d * ci[j] * i[j] * (1.f - i[j]);
      gf[j] = 0.f;
      gc[j] = d * i[j] * (1.f - ci[j] * ci[j]);
      go[j] = dh[j] * co[j] * o[j] * (1.f - o[j]);
    }
  }
}

// One hour of one batch row: gates from their pre-activations z (i, f, c, o), the new cell
// state and h. Eigen's vectorised logistic and tanh, as TensorFlow's own kernels use.
inline void gateRow(int64_t H, float* __restrict__ z, const float* __restrict__ cPrev, float* __restrict__ i,
                    float* __restrict__ f, float* __restrict__ o, float* __restrict__ ci, float* __restrict__ c,
                    float* __restrict__ co, float* __restrict__ h) {
  using Vec = Eigen::Map<Eigen::ArrayXf>;
  Vec(i, H) = Vec(z, H).logistic();
  Vec(f, H) = Vec(z + H, H).logistic();
  Vec(ci, H) = Vec(z + 2 * H, H).tanh();
  Vec(o, H) = Vec(z + 3 * H, H).logistic();
  if (cPrev) {
    for (int64_t j = 0; j < H; j++) c[j] = f[j] * cPrev[j] + i[j] * ci[j];
  } else {  // c_{-1} = 0
    for (int64_t j = 0; j < H; j++) c[j] = i[j] * ci[j];
  }
  Vec(co, H) = Vec(c, H).tanh();
  for (int64_t j = 0; j < H; j++) h[j] = o[j] * co[j];
}

// ---- The forward recurrence in register tiles (AVX-512 or AVX2 builds, units a multiple of the lanes) ----
//
// With Eigen, each hour of lstmForward below is two GEMMs into a [rows, 4H] gate buffer and a
// pass over it. Here the gate pre-activations of a tile of kTileRows rows x 16 units (the 4
// gates' 16 columns each) are summed in 4 * kTileRows vector registers over all F + H inputs and
// turned into c and h at once: z never goes to memory, the weights of 16 units (the columns of
// all 4 gates, packed side by side once per call) stay in L1 across the tiles of a block, and
// h = 0 at the first hour skips the recurrent half. The training forward (WindcastLstm) and
// inference (WindcastLstmLast) share it, so inference gives training's last h exactly; the
// same maths as the Eigen path in another summation order (agreeing to float rounding, tests).
//
// bf16 (WindcastLstmLastBf16, CPUs with AVX512_BF16, inference only): the weights and each
// hour's inputs and h are rounded to bfloat16 and the sums taken with vdpbf16ps, two products
// per lane and instruction with fp32 accumulation (twice the fp32 multiply rate); c, the gates
// and the output stay fp32. Used for forecasts only when asked (runtime.inferencePrecision).
//
// AVX2 builds (no AVX-512: e.g. AMD Zen 2/3, most Intel client parts) run the same tiles on
// 8-lane vectors: a chunk is 8 units, and with 16 vector registers a tile is 3 rows (12 sums,
// 3 broadcasts and one weight vector at a time). On a 2-core Zen 3 the global forecast's model
// took 11.7 s in tiles against 14.2 s on the Eigen path (two GEMMs per hour into a gate buffer,
// then a pass over it), training the same (BENCHMARKS.md, "AMD EPYC Zen 3"). bf16 stays
// AVX-512 only.
#if defined(WINDCAST_TILED)
#if defined(__AVX512F__)
using VecF = __m512;
constexpr int kLanes = 16;
constexpr int kTileRows = 6;
inline VecF vLoad(const float* p) { return _mm512_load_ps(p); }
inline VecF vLoadU(const float* p) { return _mm512_loadu_ps(p); }
inline void vStore(float* p, VecF v) { _mm512_store_ps(p, v); }
inline void vStoreU(float* p, VecF v) { _mm512_storeu_ps(p, v); }
inline VecF vSet1(float v) { return _mm512_set1_ps(v); }
inline VecF vFma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline VecF vMul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
#else
using VecF = __m256;
constexpr int kLanes = 8;
constexpr int kTileRows = 3;
inline VecF vLoad(const float* p) { return _mm256_load_ps(p); }
inline VecF vLoadU(const float* p) { return _mm256_loadu_ps(p); }
inline void vStore(float* p, VecF v) { _mm256_store_ps(p, v); }
inline void vStoreU(float* p, VecF v) { _mm256_storeu_ps(p, v); }
inline VecF vSet1(float v) { return _mm256_set1_ps(v); }
inline VecF vFma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline VecF vMul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
#endif
// Floats of one packed weight row: 4 gates x kLanes units.
constexpr int kPackedRow = 4 * kLanes;

// Rounds to the nearest bfloat16, ties to even (NaN stays NaN).
inline uint16_t toBf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// fp32 weights for the tiles: [H/kLanes chunks][F + H inputs][4 gates][kLanes units].
void packWeights(const float* K, const float* U, int64_t F, int64_t H, float* out) {
  const int64_t H4 = 4 * H, rows = F + H;
  for (int64_t j = 0; j < H / kLanes; j++)
    for (int64_t k = 0; k < rows; k++) {
      const float* src = k < F ? K + k * H4 : U + (k - F) * H4;
      for (int g = 0; g < 4; g++) std::memcpy(out + ((j * rows + k) * 4 + g) * kLanes, src + g * H + j * kLanes, kLanes * sizeof(float));
    }
}

#if defined(__AVX512F__)

// bf16 weights: [H/16][Fp/2 + H/2 input pairs][4 gates][16 units][2], Fp = F rounded up to even
// (the pad input is zero).
void packWeightsBf16(const float* K, const float* U, int64_t F, int64_t H, uint16_t* out) {
  const int64_t H4 = 4 * H, Fp = F + (F & 1), pairs = (Fp + H) / 2;
  auto weight = [&](int64_t k, int64_t col) -> float {
    if (k < F) return K[k * H4 + col];
    if (k < Fp) return 0.f;
    return U[(k - Fp) * H4 + col];
  };
  for (int64_t j = 0; j < H / 16; j++)
    for (int64_t p = 0; p < pairs; p++)
      for (int g = 0; g < 4; g++)
        for (int l = 0; l < 16; l++) {
          const int64_t col = g * H + j * 16 + l;
          uint16_t* dst = out + (((j * pairs + p) * 4 + g) * 16 + l) * 2;
          dst[0] = toBf16(weight(2 * p, col));
          dst[1] = toBf16(weight(2 * p + 1, col));
        }
}

#endif  // __AVX512F__ (bf16 packing)

// Where a tile's results go: row 0 of the tile, unit 0 (the chunk's offset is added per tile);
// every array has a row stride of H. cPrev is null at the first hour (c_{-1} = 0), and may be c
// itself (inference updates c in place). i, f, o, ci, co: the gates after their nonlinearity,
// written only when training needs them for the backward pass (else null); co = tanh(c).
struct TileOut {
  const float* cPrev;
  float* c;
  float* h;
  float *i, *f, *o, *ci, *co;
};

// c and h (and, training, the gates) of R rows x kLanes units from pre-activations z[R][4][kLanes].
template <int R>
inline void tileGates(const VecF (&z)[R][4], const TileOut& out, int64_t H, int64_t j) {
  using Vec = Eigen::Map<Eigen::Array<float, kLanes, 1>>;
  alignas(64) float buf[4][kLanes], tc[kLanes];
  const int64_t u = j * kLanes;
  for (int r = 0; r < R; r++) {
    const int64_t at = r * H + u;
    for (int g = 0; g < 4; g++) vStore(buf[g], z[r][g]);
    Vec zi(buf[0]), zf(buf[1]), zc(buf[2]), zo(buf[3]);
    zi = zi.logistic();
    zf = zf.logistic();
    zc = zc.tanh();
    zo = zo.logistic();
    const VecF i = vLoad(buf[0]), f = vLoad(buf[1]), ci = vLoad(buf[2]), o = vLoad(buf[3]);
    const VecF cNew = out.cPrev ? vFma(f, vLoadU(out.cPrev + at), vMul(i, ci)) : vMul(i, ci);
    vStoreU(out.c + at, cNew);
    vStore(tc, cNew);
    Vec tanhC(tc);
    tanhC = tanhC.tanh();
    const VecF co = vLoad(tc);
    vStoreU(out.h + at, vMul(o, co));
    if (out.i) {
      vStoreU(out.i + at, i);
      vStoreU(out.f + at, f);
      vStoreU(out.o + at, o);
      vStoreU(out.ci + at, ci);
      vStoreU(out.co + at, co);
    }
  }
}

// z[R][4] += R rows of a (stride lda) times n packed weight rows wk. The R broadcasts are made
// first and each gate's weights loaded once: on AVX2 that is 4R sums + R broadcasts + 1 weight
// vector, 16 registers at R = 3.
template <int R>
__attribute__((always_inline)) inline void accumulateFp32(VecF (&z)[R][4], const float* __restrict__ a, int64_t lda, int64_t n,
                                                         const float* __restrict__ wk) {
  for (int64_t k = 0; k < n; k++, wk += kPackedRow) {
    VecF av[R];
    for (int r = 0; r < R; r++) av[r] = vSet1(a[r * lda + k]);
    for (int g = 0; g < 4; g++) {
      const VecF w = vLoad(wk + g * kLanes);
      for (int r = 0; r < R; r++) z[r][g] = vFma(av[r], w, z[r][g]);
    }
  }
}

// One tile, fp32: R rows of x (stride F) and of hPrev (stride H, or none at the first hour).
// Not inlined: inlined six times into the block loop, GCC spilled z to the stack (2.2x slower);
// as a function of its own, like tileBf16, it keeps the 24 sums in registers.
template <int R>
__attribute__((noinline)) void tileFp32(const float* __restrict__ x, int64_t F, const float* __restrict__ hPrev, int64_t H, const float* __restrict__ w,
              const float* __restrict__ bias, const TileOut& out, int64_t j) {
  VecF z[R][4];
  for (int g = 0; g < 4; g++) {
    const VecF b = vLoadU(bias + g * H + j * kLanes);
    for (int r = 0; r < R; r++) z[r][g] = b;
  }
  accumulateFp32<R>(z, x, F, F, w);
  if (hPrev) accumulateFp32<R>(z, hPrev, H, H, w + F * kPackedRow);
  tileGates<R>(z, out, H, j);
}

#if defined(__AVX512F__)

// z[R][4] += the bf16 pairs of R rows of a (stride lda) times packed weights wp. (A function of
// its own: GCC does not give a lambda its enclosing function's target attribute.)
template <int R>
__attribute__((target("avx512bf16"), always_inline)) inline void accumulateBf16(__m512 (&z)[R][4], const uint16_t* __restrict__ a, int64_t lda, int64_t pairs,
                                                                 const uint16_t* __restrict__ wp) {
  for (int64_t p = 0; p < pairs; p++, wp += 128) {
    const __m512bh w0 = (__m512bh)_mm512_load_si512(wp), w1 = (__m512bh)_mm512_load_si512(wp + 32),
                   w2 = (__m512bh)_mm512_load_si512(wp + 64), w3 = (__m512bh)_mm512_load_si512(wp + 96);
    for (int r = 0; r < R; r++) {
      uint32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, 4);
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
      z[r][0] = _mm512_dpbf16_ps(z[r][0], av, w0);
      z[r][1] = _mm512_dpbf16_ps(z[r][1], av, w1);
      z[r][2] = _mm512_dpbf16_ps(z[r][2], av, w2);
      z[r][3] = _mm512_dpbf16_ps(z[r][3], av, w3);
    }
  }
}

// One tile, bf16: rows of xb (bf16, stride Fp) and hb (bf16, stride H), read as input pairs.
template <int R>
__attribute__((target("avx512bf16"))) void tileBf16(const uint16_t* __restrict__ xb, int64_t Fp, const uint16_t* __restrict__ hb, int64_t H,
                                                   const uint16_t* __restrict__ w, const float* __restrict__ bias, const TileOut& out, int64_t j) {
  __m512 z[R][4];
  for (int g = 0; g < 4; g++) {
    const __m512 b = _mm512_loadu_ps(bias + g * H + j * 16);
    for (int r = 0; r < R; r++) z[r][g] = b;
  }
  accumulateBf16<R>(z, xb, Fp, Fp / 2, w);
  if (hb) accumulateBf16<R>(z, hb, H, H / 2, w + (Fp / 2) * 128);
  tileGates<R>(z, out, H, j);
}

bool cpuHasBf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}
#endif  // __AVX512F__ (bf16 tiles)

// Runs tile<R> with R = rows (1..kTileRows) known at compile time.
template <typename Tile>
void withTileRows(int64_t rows, const Tile& tile) {
  switch (rows) {
#if defined(__AVX512F__)
    case 6: tile(std::integral_constant<int, 6>{}); break;
    case 5: tile(std::integral_constant<int, 5>{}); break;
    case 4: tile(std::integral_constant<int, 4>{}); break;
#endif
    case 3: tile(std::integral_constant<int, 3>{}); break;
    case 2: tile(std::integral_constant<int, 2>{}); break;
    default: tile(std::integral_constant<int, 1>{}); break;
  }
}

// The whole recurrence for rows [0, B) in register tiles. Training (act non-null: the 7 outputs
// i, cs, f, o, ci, co, h, each [T, B, H]): every hour's activations are written for the backward
// pass, and h_{t-1}, c_{t-1} are read back from them. Inference (act null): c and h live in the
// block's own buffers and only the last h goes to out [B, H]; bf16 only here.
bool lstmTiled(const float* X, const float* K, const float* U, const float* bias, int64_t T, int64_t B, int64_t F, int64_t H,
               float* const* act, float* out, bool bf16) {
  static_assert(kTileRows == 6 || kTileRows == 3, "withTileRows dispatches 1..6 rows (AVX-512) or 1..3 (AVX2)");
  const int64_t Fp = F + (F & 1), chunks = H / kLanes;
  std::vector<float, Eigen::aligned_allocator<float>> w32;
  std::vector<uint16_t, Eigen::aligned_allocator<uint16_t>> w16;
  if (bf16) {
#if defined(__AVX512F__)
    w16.resize(chunks * ((Fp + H) / 2) * 128);
    packWeightsBf16(K, U, F, H, w16.data());
#else
    return false;  // not reached: lstmForward refuses bf16 without AVX-512
#endif
  } else {
    w32.resize(chunks * (F + H) * kPackedRow);
    packWeights(K, U, F, H, w32.data());
  }
  const bool training = act != nullptr;
  return forEachBlock((B + kRows - 1) / kRows, [&](int64_t block) {
    const int64_t r0 = block * kRows, n = std::min(B, r0 + kRows) - r0;
    std::vector<float> c(training ? 0 : n * H), hbuf(training ? 0 : 2 * n * H);
    std::vector<uint16_t> xb(bf16 ? n * Fp : 0, 0), hb(bf16 ? n * H : 0);
    for (int64_t t = 0; t < T; t++) {
      const float* x = X + (t * B + r0) * F;
      const int64_t now = (t * B + r0) * H, before = ((t - 1) * B + r0) * H;
      const float* hPrev = t == 0 ? nullptr : training ? act[6] + before : hbuf.data() + ((t - 1) & 1) * n * H;
      TileOut o{};
      if (training) {
        o = {t > 0 ? act[1] + before : nullptr, act[1] + now, act[6] + now, act[0] + now, act[2] + now, act[3] + now, act[4] + now, act[5] + now};
      } else {
        o.cPrev = t > 0 ? c.data() : nullptr;
        o.c = c.data();
        o.h = t == T - 1 ? out + r0 * H : hbuf.data() + (t & 1) * n * H;
      }
#if defined(__AVX512F__)
      if (bf16) {
        for (int64_t r = 0; r < n; r++)
          for (int64_t k = 0; k < F; k++) xb[r * Fp + k] = toBf16(x[r * F + k]);
        if (hPrev) for (int64_t e = 0; e < n * H; e++) hb[e] = toBf16(hPrev[e]);
      }
#endif
      for (int64_t j = 0; j < chunks; j++) {
        for (int64_t r = 0; r < n; r += kTileRows) {
          TileOut tileOut = o;
          for (float** p : {&tileOut.c, &tileOut.h, &tileOut.i, &tileOut.f, &tileOut.o, &tileOut.ci, &tileOut.co}) if (*p) *p += r * H;
          if (tileOut.cPrev) tileOut.cPrev += r * H;
          withTileRows(std::min<int64_t>(kTileRows, n - r), [&](auto rows) {
            constexpr int R = decltype(rows)::value;
#if defined(__AVX512F__)
            if (bf16) {
              tileBf16<R>(xb.data() + r * Fp, Fp, hPrev ? hb.data() + r * H : nullptr, H, w16.data() + j * ((Fp + H) / 2) * 128, bias, tileOut, j);
              return;
            }
#endif
            tileFp32<R>(x + r * F, F, hPrev ? hPrev + r * H : nullptr, H, w32.data() + j * (F + H) * kPackedRow, bias, tileOut, j);
          });
        }
      }
    }
  });
}
#endif  // WINDCAST_TILED

// The forward pass of WindcastLstm (training: every hour's activations are outputs, for the
// backward pass) and WindcastLstmLast (inference: only the last hour's h; the activations of
// a block live in its own small buffers, in cache, and never go to memory).
void lstmForward(TF_OpKernelContext* ctx, bool training, bool bf16 = false) {
  const char* name = training ? "WindcastLstm" : bf16 ? "WindcastLstmLastBf16" : "WindcastLstmLast";
  TF_Status* status = TF_NewStatus();
  auto fail = [&](const std::string& message) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, (std::string(name) + ": " + message).c_str());
    TF_OpKernelContext_Failure(ctx, status);
  };
  Inputs in;
  if (!in.fetch(ctx, 4, status)) {
    TF_DeleteStatus(status);
    return;
  }
  TF_Tensor* out[7] = {};
  do {
    if (TF_NumDims(in.t[0]) != 3) { fail("x must be [hours, batch, features]"); break; }
    const int64_t T = TF_Dim(in.t[0], 0), B = TF_Dim(in.t[0], 1), F = TF_Dim(in.t[0], 2);
    if (TF_NumDims(in.t[2]) != 2 || TF_Dim(in.t[2], 1) != 4 * TF_Dim(in.t[2], 0)) {
      fail("recurrent kernel must be [units, 4 * units]");
      break;
    }
    const int64_t H = TF_Dim(in.t[2], 0), H4 = 4 * H;
    if (TF_NumDims(in.t[1]) != 2 || TF_Dim(in.t[1], 0) != F || TF_Dim(in.t[1], 1) != H4) {
      fail("kernel must be [features, 4 * units]");
      break;
    }
    if (TF_NumDims(in.t[3]) != 1 || TF_Dim(in.t[3], 0) != H4) { fail("bias must be [4 * units]"); break; }
    if (!training && T == 0) { fail("x must have at least one hour"); break; }
    const int64_t dims[3] = {T, B, H};
    const int64_t lastDims[2] = {B, H};
    float* o[7] = {};
    for (int k = 0; k < (training ? 7 : 1) && TF_GetCode(status) == TF_OK; k++) {
      out[k] = training ? pooledOutput(ctx, k, dims, 3, status) : pooledOutput(ctx, k, lastDims, 2, status);
      if (out[k]) o[k] = static_cast<float*>(TF_TensorData(out[k]));
    }
    if (TF_GetCode(status) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, status);
      break;
    }
    if (T == 0 || B == 0 || H == 0) break;
    const float *X = in.data(0), *K = in.data(1), *U = in.data(2), *bias = in.data(3);
    if (bf16) {
#if defined(__AVX512F__)
      if (H % 16 != 0) { fail("bf16 needs units a multiple of 16"); break; }
#else
      fail("bf16 needs an AVX-512 build");
      break;
#endif
    }
#if defined(WINDCAST_TILED)
    // Training and inference both in tiles, so inference gives training's last h exactly.
    if (H % kLanes == 0) {
      failIfIncomplete(lstmTiled(X, K, U, bias, T, B, F, H, training ? o : nullptr, training ? nullptr : o[0], bf16), ctx, status, name);
      break;
    }
#endif
    const bool complete = forEachBlock((B + kRows - 1) / kRows, [&](int64_t block) {
      const int64_t r0 = block * kRows, n = std::min(B, r0 + kRows) - r0;
      RowMajor z(n, H4);
      Eigen::Map<const RowMajor> kernel(K, F, H4), recurrent(U, H, H4);
      Eigen::Map<const Eigen::RowVectorXf> b(bias, H4);
      // Inference: [n, H] slots of the block's own buffer per output (i, c, f, o, ci, co, h in
      // output order); c and h get two, for this hour and the last, alternating.
      constexpr int kSlot[7] = {0, 5, 1, 2, 3, 4, 7};  // c: 5 and 6, h: 7 and 8
      std::vector<float> scratch(training ? 0 : 9 * n * H);
      auto slot = [&](int k, int64_t t) { return kSlot[k] + (k == 1 || k == 6 ? static_cast<int>(t & 1) : 0); };
      for (int64_t t = 0; t < T; t++) {
        // Where hour t's activations of row r go: the outputs, or the block's buffer.
        auto at = [&](int k, int64_t r) -> float* {
          return training ? o[k] + (t * B + r0 + r) * H : scratch.data() + (slot(k, t) * n + r) * H;
        };
        auto prev = [&](int k, int64_t r) -> const float* {
          return training ? o[k] + ((t - 1) * B + r0 + r) * H : scratch.data() + (slot(k, t - 1) * n + r) * H;
        };
        z.noalias() = Eigen::Map<const RowMajor>(X + (t * B + r0) * F, n, F) * kernel;
        if (t > 0) z.noalias() += Eigen::Map<const RowMajor>(prev(6, 0), n, H) * recurrent;
        z.rowwise() += b;
        for (int64_t r = 0; r < n; r++) {
          gateRow(H, z.data() + r * H4, t > 0 ? prev(1, r) : nullptr, at(0, r), at(2, r), at(3, r), at(4, r), at(1, r), at(5, r), at(6, r));
        }
      }
      if (!training) std::memcpy(o[0] + r0 * H, scratch.data() + slot(6, T - 1) * n * H, n * H * sizeof(float));
    });
    failIfIncomplete(complete, ctx, status, name);
  } while (false);
  for (TF_Tensor* t : out) if (t) TF_DeleteTensor(t);
  TF_DeleteStatus(status);
}

void lstmCompute(void*, TF_OpKernelContext* ctx) { lstmForward(ctx, true); }
void lstmLastCompute(void*, TF_OpKernelContext* ctx) { lstmForward(ctx, false); }
void lstmLastBf16Compute(void*, TF_OpKernelContext* ctx) {
#if defined(__AVX512F__)
  if (cpuHasBf16()) {
    lstmForward(ctx, false, true);
    return;
  }
#endif
  TF_Status* status = TF_NewStatus();
  TF_SetStatus(status, TF_UNIMPLEMENTED, "WindcastLstmLastBf16: this CPU or build has no AVX512_BF16");
  TF_OpKernelContext_Failure(ctx, status);
  TF_DeleteStatus(status);
}

// The activations the two backward ops read, checked: WindcastLstm's i, cs, f, o, ci, co
// [T, B, H], the recurrent kernel [H, 4H] and dh: [T, B, H] (every hour's h reached the loss)
// or [B, H] (the last hour's).
struct GradActivations {
  const float *I, *C, *F, *O, *CI, *CO, *U, *DH;
  int64_t T, B, H;
  bool sequence;
};

// Checks inputs 0..7 of a backward op (also `alsoActivationShaped`, e.g. h, against the
// activations' shape; `lastHourOnly`: dh must be [B, H]) and fills a; else the error message.
std::string checkGradInputs(const Inputs& in, std::initializer_list<int> alsoActivationShaped, bool lastHourOnly, GradActivations& a) {
  if (TF_NumDims(in.t[0]) != 3) return "activations must be [hours, batch, units]";
  bool same = true;
  for (int k = 1; k < 6; k++) same = same && sameShape(in.t[0], in.t[k]);
  for (int k : alsoActivationShaped) same = same && sameShape(in.t[0], in.t[k]);
  if (!same) return alsoActivationShaped.size() ? "the six activation tensors and h must have one shape" : "the six activation tensors must have one shape";
  const int64_t T = TF_Dim(in.t[0], 0), B = TF_Dim(in.t[0], 1), H = TF_Dim(in.t[0], 2);
  if (TF_NumDims(in.t[6]) != 2 || TF_Dim(in.t[6], 0) != H || TF_Dim(in.t[6], 1) != 4 * H) return "recurrent kernel must be [units, 4 * units]";
  const bool sequence = !lastHourOnly && TF_NumDims(in.t[7]) == 3;
  if (sequence ? !sameShape(in.t[7], in.t[0]) : (TF_NumDims(in.t[7]) != 2 || TF_Dim(in.t[7], 0) != B || TF_Dim(in.t[7], 1) != H)) {
    return lastHourOnly ? "dh must be [batch, units] (the last hour's)" : "dh must be [batch, units] or [hours, batch, units]";
  }
  a = {in.data(0), in.data(1), in.data(2), in.data(3), in.data(4), in.data(5), in.data(6), in.data(7), T, B, H, sequence};
  return "";
}

// The gate-gradient recurrence of rows [r0, r0 + n), hours T-1 down to 0 (the maths: the
// header). Hour t's [n, 4H] gate gradients go to gates(t); dh_t comes from gates(t + 1), which
// must still hold hour t + 1's when hour t starts (one buffer reused for every hour does).
// hourDone(t, gates(t)) runs once an hour's gradients are complete.
template <typename Gates, typename HourDone>
void gateGradBlock(const GradActivations& a, int64_t r0, int64_t n, const Gates& gates, const HourDone& hourDone) {
  const int64_t B = a.B, H = a.H, H4 = 4 * H;
  RowMajor dh(n, H);
  std::vector<float> dc(n * H, 0.f);
  Eigen::Map<const RowMajor> recurrent(a.U, H, H4);
  for (int64_t t = a.T - 1; t >= 0; t--) {
    const float* dhFromAbove = a.sequence ? a.DH + (t * B + r0) * H : (t == a.T - 1 ? a.DH + r0 * H : nullptr);
    if (t == a.T - 1) {
      dh = Eigen::Map<const RowMajor>(dhFromAbove, n, H);
    } else {
      dh.noalias() = Eigen::Map<const RowMajor>(gates(t + 1), n, H4) * recurrent.transpose();
      if (dhFromAbove) dh += Eigen::Map<const RowMajor>(dhFromAbove, n, H);
    }
    float* g = gates(t);
    for (int64_t r = 0; r < n; r++) {
      const int64_t at = (t * B + r0 + r) * H;
      gateGradRow(H, a.I + at, a.F + at, a.O + at, a.CI + at, a.CO + at, t > 0 ? a.C + at - B * H : nullptr, dh.data() + r * H,
                  dc.data() + r * H, g + r * H4);
    }
    hourDone(t, g);
  }
}

void lstmGradCompute(void*, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  auto fail = [&](const std::string& message) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, ("WindcastLstmGrad: " + message).c_str());
    TF_OpKernelContext_Failure(ctx, status);
  };
  Inputs in;
  if (!in.fetch(ctx, 8, status)) {
    TF_DeleteStatus(status);
    return;
  }
  TF_Tensor* out = nullptr;
  do {
    GradActivations a{};
    const std::string problem = checkGradInputs(in, {}, false, a);
    if (!problem.empty()) { fail(problem); break; }
    const int64_t T = a.T, B = a.B, H4 = 4 * a.H;
    const int64_t dims[3] = {T, B, H4};
    out = pooledOutput(ctx, 0, dims, 3, status);
    if (TF_GetCode(status) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, status);
      break;
    }
    if (T == 0 || B == 0 || a.H == 0) break;
    float* G = static_cast<float*>(TF_TensorData(out));
    const bool complete = forEachBlock((B + kRows - 1) / kRows, [&](int64_t block) {
      const int64_t r0 = block * kRows, n = std::min(B, r0 + kRows) - r0;
      gateGradBlock(a, r0, n, [&](int64_t t) { return G + (t * B + r0) * H4; }, [](int64_t, const float*) {});
    });
    failIfIncomplete(complete, ctx, status, "WindcastLstmGrad");
  } while (false);
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(status);
}

// WindcastLstmGradWeights: WindcastLstmGrad's recurrence with the weight gradients summed as it
// goes, for a layer whose input gradient is not needed (the first layer's input is data). Each
// block keeps its hour's gate gradients in its own buffer (in cache) and adds
// [x_t, h_{t-1}, 1]^T dz_t to its own [F + H + 1, 4H] sum; the blocks' sums are then added in
// block order, so the result does not depend on which thread ran which block. Nothing of size
// [T, batch, 4H] is written: the split path writes dz for all hours and reads it back twice in
// TensorFlow's MatMuls with a reduction over T * batch rows, which these cores run slowly.
// Extra inputs: x [T, B, F] (the layer's time-major input) and h [T, B, H] (WindcastLstm's h).
// Output: dW [F + H + 1, 4H] = the kernel's gradient (rows 0..F-1), the recurrent kernel's
// (F..F+H-1) and the bias's (the last row).
void lstmGradWeightsCompute(void*, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  auto fail = [&](const std::string& message) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, ("WindcastLstmGradWeights: " + message).c_str());
    TF_OpKernelContext_Failure(ctx, status);
  };
  Inputs in;
  if (!in.fetch(ctx, 10, status)) {
    TF_DeleteStatus(status);
    return;
  }
  TF_Tensor* out = nullptr;
  do {
    GradActivations a{};
    const std::string problem = checkGradInputs(in, {9}, true, a);
    if (!problem.empty()) { fail(problem); break; }
    const int64_t T = a.T, B = a.B, H = a.H, H4 = 4 * H;
    if (TF_NumDims(in.t[8]) != 3 || TF_Dim(in.t[8], 0) != T || TF_Dim(in.t[8], 1) != B) { fail("x must be [hours, batch, features]"); break; }
    const int64_t Fx = TF_Dim(in.t[8], 2), rows = Fx + H + 1;
    const int64_t dims[2] = {rows, H4};
    out = pooledOutput(ctx, 0, dims, 2, status);
    if (TF_GetCode(status) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, status);
      break;
    }
    float* DW = static_cast<float*>(TF_TensorData(out));
    std::fill(DW, DW + rows * H4, 0.f);
    if (T == 0 || B == 0 || H == 0) break;
    const float *X = in.data(8), *Hs = in.data(9);
    const int64_t blocks = (B + kRows - 1) / kRows;
    std::vector<RowMajor> sums(blocks);
    const bool complete = forEachBlock(blocks, [&](int64_t block) {
      const int64_t r0 = block * kRows, n = std::min(B, r0 + kRows) - r0;
      RowMajor& sum = sums[block];
      sum = RowMajor::Zero(rows, H4);
      RowMajor g(n, H4), inputs(n, rows);
      inputs.col(rows - 1).setOnes();
      gateGradBlock(a, r0, n, [&](int64_t) { return g.data(); }, [&](int64_t t, const float*) {
        inputs.leftCols(Fx) = Eigen::Map<const RowMajor>(X + (t * B + r0) * Fx, n, Fx);
        if (t > 0) inputs.middleCols(Fx, H) = Eigen::Map<const RowMajor>(Hs + ((t - 1) * B + r0) * H, n, H);
        else inputs.middleCols(Fx, H).setZero();  // h_{-1} = 0
        sum.noalias() += inputs.transpose() * g;
      });
    });
    if (complete) {
      Eigen::Map<RowMajor> total(DW, rows, H4);
      for (const RowMajor& sum : sums) total += sum;
    }
    failIfIncomplete(complete, ctx, status, "WindcastLstmGradWeights");
  } while (false);
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(status);
}

// WindcastPinballGrad (see the header). Per block of rows: softplus and sigmoid of the whole
// block with Eigen's vectorised exp and log1p (from one exp(-|x|)), then per window and lead
// the Q levels outward from the centre and back.
void pinballGradCompute(void*, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  auto fail = [&](const std::string& message) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, ("WindcastPinballGrad: " + message).c_str());
    TF_OpKernelContext_Failure(ctx, status);
  };
  Inputs in;
  if (!in.fetch(ctx, 4, status)) {
    TF_DeleteStatus(status);
    return;
  }
  TF_Tensor* out = nullptr;
  do {
    TF_Tensor *raw = in.t[0], *excess = in.t[1], *tauT = in.t[2], *scaleT = in.t[3];
    if (TF_NumDims(raw) != 2 || TF_NumDims(excess) != 2 || TF_NumDims(tauT) != 1 || TF_NumDims(scaleT) != 1) { fail("expected raw [rows, leads*levels], excess [rows, leads], tau [levels], scale [leads]"); break; }
    const int64_t R = TF_Dim(raw, 0), HQ = TF_Dim(raw, 1), H = TF_Dim(scaleT, 0), Q = TF_Dim(tauT, 0);
    if (Q < 1 || TF_Dim(excess, 0) != R || TF_Dim(excess, 1) != H || HQ != H * Q) { fail("shapes disagree: raw must be [rows, leads*levels], excess [rows, leads]"); break; }
    const int64_t dims[2] = {R, HQ};
    out = pooledOutput(ctx, 0, dims, 2, status);
    if (TF_GetCode(status) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, status);
      break;
    }
    if (R == 0 || H == 0) break;
    const float *X = in.data(0), *E = in.data(1), *tau = in.data(2), *scale = in.data(3);
    float* D = static_cast<float*>(TF_TensorData(out));
    // The central level: the first one nearest 0.5 (centralLevel in quantile-head.ts).
    int64_t m = 0;
    for (int64_t k = 1; k < Q; k++) if (std::abs(tau[k] - 0.5f) < std::abs(tau[m] - 0.5f)) m = k;
    const int64_t blocks = (R + kRows - 1) / kRows;
    const bool complete = forEachBlock(blocks, [&](int64_t block) {
      const int64_t r0 = block * kRows, n = std::min(R, r0 + kRows) - r0, size = n * HQ;
      Eigen::Map<const Eigen::ArrayXf> x(X + r0 * HQ, size);
      const Eigen::ArrayXf e = (-x.abs()).exp();
      const Eigen::ArrayXf inv = (e + 1.f).inverse();
      const Eigen::ArrayXf softplus = x.max(0.f) + e.log1p();
      const Eigen::ArrayXf sigmoid = (x >= 0.f).select(inv, e * inv);
      std::vector<float> q(Q), g(Q);
      for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < H; j++) {
          const int64_t at = i * HQ + j * Q;
          const float s = std::abs(scale[j]), y = E[(r0 + i) * H + j];
          q[m] = x[at + m];
          for (int64_t k = m + 1; k < Q; k++) q[k] = q[k - 1] + s * softplus[at + k];
          for (int64_t k = m - 1; k >= 0; k--) q[k] = q[k + 1] - s * softplus[at + k];
          float total = 0.f;
          for (int64_t k = 0; k < Q; k++) total += (g[k] = (y < q[k] ? 1.f : 0.f) - tau[k]);
          float* d = D + (r0 + i) * HQ + j * Q;
          d[m] = total;
          float above = 0.f, below = 0.f;
          for (int64_t k = Q - 1; k > m; k--) d[k] = s * sigmoid[at + k] * (above += g[k]);
          for (int64_t k = 0; k < m; k++) d[k] = -s * sigmoid[at + k] * (below += g[k]);
        }
      }
    });
    failIfIncomplete(complete, ctx, status, "WindcastPinballGrad");
  } while (false);
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(status);
}

// Op WindcastReleaseBuffers: no inputs; frees the kernels' idle output buffers (BufferPool) and
// outputs the MiB freed, a float scalar. Stateful: it must run every time it is asked.
void releaseBuffersCompute(void*, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  const size_t freed = bufferPool().release();
  TF_Tensor* out = TF_AllocateOutput(ctx, 0, TF_FLOAT, nullptr, 0, sizeof(float), status);
  if (TF_GetCode(status) == TF_OK) *static_cast<float*>(TF_TensorData(out)) = static_cast<float>(static_cast<double>(freed) / (1 << 20));
  else TF_OpKernelContext_Failure(ctx, status);
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(status);
}

void* noState(TF_OpKernelConstruction*) { return nullptr; }
void deleteNoState(void*) {}

bool registerOp(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
                void (*compute)(void*, TF_OpKernelContext*), TF_Status* status, bool stateful = false) {
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* input : inputs) TF_OpDefinitionBuilderAddInput(op, input);
  for (const char* output : outputs) TF_OpDefinitionBuilderAddOutput(op, output);
  if (stateful) TF_OpDefinitionBuilderSetIsStateful(op, true);
  TF_RegisterOpDefinition(op, status);
  if (TF_GetCode(status) != TF_OK) return false;
  TF_RegisterKernelBuilder(name, TF_NewKernelBuilder(name, "CPU", noState, compute, deleteNoState), status);
  return TF_GetCode(status) == TF_OK;
}

// Registers the ops and their CPU kernels; returns an empty string or what went wrong.
std::string registerOps() {
  TF_Status* status = TF_NewStatus();
  std::string error;
  const bool ok =
      registerOp("WindcastLstm", {"x: float", "kernel: float", "recurrent: float", "bias: float"},
                 {"i: float", "cs: float", "f: float", "o: float", "ci: float", "co: float", "h: float"}, lstmCompute, status) &&
      registerOp("WindcastLstmLast", {"x: float", "kernel: float", "recurrent: float", "bias: float"}, {"h: float"}, lstmLastCompute, status) &&
      registerOp("WindcastLstmLastBf16", {"x: float", "kernel: float", "recurrent: float", "bias: float"}, {"h: float"}, lstmLastBf16Compute, status) &&
      registerOp("WindcastLstmGrad",
                 {"i: float", "cs: float", "f: float", "o: float", "ci: float", "co: float", "recurrent: float", "dh: float"},
                 {"dgates: float"}, lstmGradCompute, status) &&
      registerOp("WindcastLstmGradWeights",
                 {"i: float", "cs: float", "f: float", "o: float", "ci: float", "co: float", "recurrent: float", "dh: float", "x: float", "h: float"},
                 {"dw: float"}, lstmGradWeightsCompute, status) &&
      registerOp("WindcastPinballGrad", {"raw: float", "excess: float", "tau: float", "scale: float"}, {"draw: float"}, pinballGradCompute, status) &&
      registerOp("WindcastReleaseBuffers", {}, {"freed_mib: float"}, releaseBuffersCompute, status, true);
  if (!ok) error = TF_Message(status);
  TF_DeleteStatus(status);
  return error;
}

}  // namespace

// Loaded with Node's require(): Node calls this N-API entry point once, after dlopen. It needs
// no N-API functions (no Node headers to build against): it registers the ops with the
// TensorFlow library tfjs-node already loaded and hands back `exports` untouched. If
// registration fails the op simply does not exist, which src/model/lstm-fast.ts detects and reports.
// Node calls it once per environment (main thread, each worker), so registration runs once.
extern "C" __attribute__((visibility("default"))) void* napi_register_module_v1(void*, void* exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string error = registerOps();
    if (!error.empty()) std::fprintf(stderr, "windcast: fused LSTM kernels not registered: %s\n", error.c_str());
  });
  return exports;
}
