#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cuda/router.h"
#include "sim/base/avx2_clones.h"
#include "sim/base/cache_aligned.h"

namespace moesim::router {

void check_problem(const RouterProblem& p) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("router problem: ") + what);
  };
  require(p.tokens > 0 && p.ranks > 0 && p.tokens % p.ranks == 0, "tokens must be a positive multiple of ranks");
  require(p.d_model > 0 && p.experts > 0 && p.topics > 0, "d_model, experts and topics must be positive");
  require(p.top_k >= 1 && p.top_k <= p.experts && p.top_k <= 16, "top_k must be in [1, min(experts, 16)]");
  require(p.gate && p.centers && p.topic_cdf, "gate, centers and topic_cdf are required");
  require(p.capacity >= 0, "capacity must be non-negative");
  require(p.expert_groups >= 1 && p.experts % p.expert_groups == 0, "expert_groups must divide experts");
  require(p.topk_groups >= 1 && p.topk_groups <= p.expert_groups, "topk_groups must be in [1, expert_groups]");
  require(static_cast<int64_t>(p.topk_groups) * (p.experts / p.expert_groups) >= p.top_k, "topk_groups groups must hold top_k experts");
}

void allowed_experts(const RouterProblem& p, const float* logits, std::vector<uint8_t>& allowed) {
  allowed.assign(p.experts, 1);
  if (!p.grouped()) return;
  const int size = p.experts / p.expert_groups;
  auto sigmoid = [](float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); };
  thread_local std::vector<double> score;  // called per token: reuse, do not allocate
  score.resize(p.expert_groups);
  for (int g = 0; g < p.expert_groups; ++g) {
    double first = 0, second = 0;  // affinities are in (0, 1)
    for (int e = g * size; e < (g + 1) * size; ++e) {
      const double a = sigmoid(logits[e]);
      if (a > first) {
        second = first;
        first = a;
      } else {
        second = std::max(second, a);
      }
    }
    score[g] = first + (size > 1 ? second : 0);
  }
  for (int g = 0; g < p.expert_groups; ++g) {
    int better = 0;  // groups ranked above g
    for (int h = 0; h < p.expert_groups; ++h) better += score[h] > score[g] || (score[h] == score[g] && h < g);
    if (better >= p.topk_groups) std::fill_n(allowed.begin() + g * size, size, uint8_t{0});
  }
}

void apply_capacity(const RouterProblem& p, RouterResult& out) {
  out.dropped.assign(out.counts.size(), 0);
  if (p.capacity <= 0) return;
  for (size_t i = 0; i < out.counts.size(); ++i) {
    if (out.counts[i] > p.capacity) {
      out.dropped[i] = out.counts[i] - static_cast<int32_t>(p.capacity);
      out.counts[i] = static_cast<int32_t>(p.capacity);
    }
  }
}

namespace {

// Eight fixed partial sums: a deterministic order that the compiler can vectorize.
float dot(const float* x, const float* w, int d) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= d; j += 8)
    for (int q = 0; q < 8; ++q) partial[q] += x[j + q] * w[j + q];
  for (; j < d; ++j) partial[j % 8] += x[j] * w[j];
  return ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
}

using Lanes = float __attribute__((vector_size(32)));
using Quad = float __attribute__((vector_size(16)));

// dot()'s sum tree for four rows' partial sums at once: lane pairs, then pairs of pairs, then the
// halves. Each shuffle stays within a 128-bit half (one cheap vshufps): rows a and b give
// [a01 a23 b01 b23 | a45 a67 b45 b67], those with c and d [a0123 b0123 c0123 d0123 | a4567 ...].
[[gnu::always_inline]] inline Quad sum_four(const Lanes (&partial)[4]) {
  const Lanes ab = __builtin_shufflevector(partial[0], partial[1], 0, 2, 8, 10, 4, 6, 12, 14) +
                   __builtin_shufflevector(partial[0], partial[1], 1, 3, 9, 11, 5, 7, 13, 15);
  const Lanes cd = __builtin_shufflevector(partial[2], partial[3], 0, 2, 8, 10, 4, 6, 12, 14) +
                   __builtin_shufflevector(partial[2], partial[3], 1, 3, 9, 11, 5, 7, 13, 15);
  const Lanes quads =
      __builtin_shufflevector(ab, cd, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(ab, cd, 1, 3, 9, 11, 5, 7, 13, 15);
  return __builtin_shufflevector(quads, quads, 0, 1, 2, 3) + __builtin_shufflevector(quads, quads, 4, 5, 6, 7);
}

// Rows r .. r + 3 of w against kTokens tokens x[i] into out[i] + r: a row's load serves every
// token, and 4 * kTokens sums are in flight (four alone leave the adds waiting on each other's
// latency). Each sum keeps dot()'s partial sums in dot()'s order (bit-identical results). The
// eight partial sums are one 8-lane vector (GCC and Clang vector extensions: two SSE registers, or
// one AVX register where the CPU has AVX2); each lane multiplies then adds, as dot() does, never
// fused (-ffp-contract=off). Always inlined into dots(), so it is compiled for dots()'s target.
template <int kTokens>
[[gnu::always_inline]] inline void dot_four_rows(const float* const* x, const float* w, int d, int r, float* const* out) {
  constexpr int kBlock = 4;
  const float* wr = w + static_cast<size_t>(r) * d;
  Lanes partial[kTokens][kBlock] = {};
  for (int j = 0; j < d; j += 8) {
    Lanes xj[kTokens], wj;  // unaligned loads
    for (int i = 0; i < kTokens; ++i) __builtin_memcpy(&xj[i], x[i] + j, sizeof xj[i]);
    for (int b = 0; b < kBlock; ++b) {
      __builtin_memcpy(&wj, wr + static_cast<size_t>(b) * d + j, sizeof wj);
      for (int i = 0; i < kTokens; ++i) partial[i][b] += xj[i] * wj;
    }
  }
  for (int i = 0; i < kTokens; ++i) {
    const Quad sums = sum_four(partial[i]);
    __builtin_memcpy(out[i] + r, &sums, sizeof sums);
  }
}

// dot(x[i], w[r]) for each of `tokens` (1 or 2) tokens x[i] and the `rows` rows of w (each d long)
// into out[i], four rows at a time.
MOESIM_AVX2_CLONES
void dots(const float* const* x, int tokens, const float* w, int d, int rows, float* const* out) {
  int r = 0;
  for (; r + 4 <= rows && d % 8 == 0; r += 4) {
    if (tokens == 2)
      dot_four_rows<2>(x, w, d, r, out);
    else
      dot_four_rows<1>(x, w, d, r, out);
  }
  for (; r < rows; ++r) {
    for (int i = 0; i < tokens; ++i) out[i][r] = dot(x[i], w + static_cast<size_t>(r) * d, d);
  }
}

// The same for one token.
void dots(const float* x, const float* w, int d, int rows, float* out) { dots(&x, 1, w, d, rows, &out); }

// The k best of `logits` (those `allowed`, where given), best first, by insertion; strict
// comparison keeps the lower index first on ties.
void top_k(const float* logits, const uint8_t* allowed, int count, int k, int* best) {
  int found = 0;
  for (int e = 0; e < count; ++e) {
    if (allowed && !allowed[e]) continue;
    if (found == k && !(logits[e] > logits[best[k - 1]])) continue;  // the common case, decided at once
    int pos = found < k ? found : k;
    while (pos > 0 && logits[e] > logits[best[pos - 1]]) --pos;
    for (int q = (found < k ? found : k - 1); q > pos; --q) best[q] = best[q - 1];
    best[pos] = e;
    if (found < k) ++found;
  }
}

// top_k() for k = 1: the first of the largest. Eight lanes each keep the first of their own
// largest (lane q sees e = q, q + 8, ...), so no comparison waits on the one before; the lanes are
// then merged, the lower index winning ties, which is the scalar scan's answer.
using LaneIndex = int32_t __attribute__((vector_size(32)));

MOESIM_AVX2_CLONES
int arg_max(const float* logits, int count) {
  int best = 0, e = 1;
  float value = logits[0];
  if (count >= 16) {
    Lanes values;
    __builtin_memcpy(&values, logits, sizeof values);
    LaneIndex index = {0, 1, 2, 3, 4, 5, 6, 7}, at = index;
    for (e = 8; e + 8 <= count; e += 8) {
      Lanes next;
      __builtin_memcpy(&next, logits + e, sizeof next);
      at += 8;
      const LaneIndex better = next > values;
      values = better ? next : values;
      index = better ? at : index;
    }
    value = values[0];
    best = index[0];
    for (int q = 1; q < 8; ++q) {
      if (values[q] > value || (values[q] == value && index[q] < best)) {
        value = values[q];
        best = index[q];
      }
    }
  }
  for (; e < count; ++e) {
    const bool better = logits[e] > value;
    best = better ? e : best;
    value = better ? logits[e] : value;
  }
  return best;
}

class CpuRouter final : public Router {
 public:
  void route(const RouterProblem& p, RouterResult& out, bool want_assignments) override {
    check_problem(p);
    const int d = p.d_model, e_count = p.experts, k = p.top_k;
    const Derived derived{p.gate, p.centers, p.gate_version, d, e_count, p.topics};
    if (p.gate_version == 0 || !(derived == derived_)) {
      gate_.resize(static_cast<size_t>(e_count) * d);
      for (size_t i = 0; i < gate_.size(); ++i) gate_[i] = from_bf16_bits(to_bf16_bits(p.gate[i]));
      center_logits_.resize(static_cast<size_t>(p.topics) * e_count);
      for (int c = 0; c < p.topics; ++c)
        dots(p.centers + static_cast<size_t>(c) * d, gate_.data(), d, e_count, center_logits_.data() + static_cast<size_t>(c) * e_count);
      derived_ = derived;
    }
    u_.resize(2 * static_cast<size_t>(d));
    logits_.resize(2 * static_cast<size_t>(e_count));
    out.counts.assign(static_cast<size_t>(p.ranks) * e_count, 0);
    if (want_assignments) out.assignments.assign(static_cast<size_t>(p.tokens) * k, 0);
    const int per_rank = p.tokens / p.ranks;
    const bool grouped = p.grouped();

    // Two tokens at a time: dots() shares each gate row's load between them.
    for (int first = 0; first < p.tokens; first += 2) {
      const int pair = std::min(2, p.tokens - first);
      const float* u[2];
      float* logits[2] = {logits_.data(), logits_.data() + e_count};
      for (int i = 0; i < pair; ++i) {
        const int t = first + i;
        float* own = u_.data() + static_cast<size_t>(i) * d;
        u[i] = p.token_noise ? p.token_noise + static_cast<size_t>(t) * d : own;
        if (!p.token_noise) token_noise(p.key, static_cast<uint32_t>(t), d, own);
      }
      dots(u, pair, gate_.data(), d, e_count, logits);
      for (int i = 0; i < pair; ++i) {
        const int t = first + i;
        const int topic = p.token_topics ? p.token_topics[t] : token_topic(p.key, static_cast<uint32_t>(t), p.topic_cdf, p.topics);
        const float* center_part = center_logits_.data() + static_cast<size_t>(topic) * e_count;
        float* row = logits[i];
        for (int e = 0; e < e_count; ++e) row[e] = combine_logit(center_part[e], p.noise, row[e]);
        int best[16];
        if (grouped) {
          allowed_experts(p, row, allowed_);
          top_k(row, allowed_.data(), e_count, k, best);
        } else if (k == 1) {
          best[0] = arg_max(row, e_count);
        } else {
          top_k(row, nullptr, e_count, k, best);
        }
        int32_t* counts = out.counts.data() + static_cast<size_t>(t / per_rank) * e_count;
        for (int q = 0; q < k; ++q) {
          ++counts[best[q]];
          if (want_assignments) out.assignments[static_cast<size_t>(t) * k + q] = best[q];
        }
      }
    }
    apply_capacity(p, out);
  }
  std::string name() const override { return "CPU reference"; }

 private:
  // What gate_ and center_logits_ were derived from.
  struct Derived {
    const float* gate = nullptr;
    const float* centers = nullptr;
    uint64_t version = 0;
    int d = 0, experts = 0, topics = 0;
    bool operator==(const Derived&) const = default;
  };
  Derived derived_;
  CacheAlignedVector<float> gate_, center_logits_, u_, logits_;
  std::vector<uint8_t> allowed_;
};

}  // namespace

std::unique_ptr<Router> make_cpu_router() { return std::make_unique<CpuRouter>(); }

}  // namespace moesim::router
