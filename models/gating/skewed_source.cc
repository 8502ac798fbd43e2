#include "models/gating/skewed_source.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include "models/gating/source_registry.h"
#include "sim/base/parallel.h"

namespace moesim::gating {

SkewedSource::SkewedSource(const SkewedSourceParams& params) : p_(params), rng_(params.seed, "gating.skewed"), sampling_rng_(rng_) {
  if (find_routing(p_.routing->name())->per_token) {
    throw std::invalid_argument(std::string(p_.routing->name()) + " routing acts on gate scores, which the skewed source does not have");
  }
  gated_ = p_.routing->make({p_.shape, 1.0})->gated();
  base_log_.assign(p_.shape.moe_layers, std::vector<double>(p_.shape.experts, 0.0));
  for (auto& layer : base_log_) {
    std::vector<int> order(p_.shape.experts);
    std::iota(order.begin(), order.end(), 0);
    for (int i = p_.shape.experts - 1; i > 0; --i) std::swap(order[i], order[rng_.below(i + 1)]);
    for (int rank = 0; rank < p_.shape.experts; ++rank) {
      double w = 1.0;
      switch (p_.distribution) {
        case SkewDistribution::kUniform: w = 1.0; break;
        case SkewDistribution::kZipf: w = std::pow(rank + 1.0, -p_.zipf_s); break;
        case SkewDistribution::kDirichlet: w = std::max(rng_.gamma(p_.dirichlet_alpha), 1e-300); break;
      }
      layer[order[rank]] = std::log(w);
    }
  }
  log_ = base_log_;
  shares_.assign(p_.shape.moe_layers, std::vector<double>(p_.shape.experts, 0.0));
  update_shares();
}

void SkewedSource::update_shares() {
  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    const auto& x = log_[l];
    auto& s = shares_[l];
    const double top = *std::max_element(x.begin(), x.end());
    double sum = 0;
    for (int e = 0; e < p_.shape.experts; ++e) sum += s[e] = std::exp(x[e] - top);
    for (double& v : s) v /= sum;
    cap_shares(s, p_.shape.top_k);
  }
}

void SkewedSource::advance(int step) {
  if (step > 0) {
    for (int l = 0; l < p_.shape.moe_layers; ++l) {
      for (int e = 0; e < p_.shape.experts; ++e) {
        double& x = log_[l][e];
        x += p_.reversion * (base_log_[l][e] - x) + p_.drift * rng_.normal();
      }
    }
    update_shares();
  }
  sampling_rng_ = rng_;
  sampled_ = false;
}

void SkewedSource::fill(const RoutingView&, RoutingMatrix& out) {
  const int layers = p_.shape.moe_layers, ranks = p_.shape.ranks;
  const size_t experts = p_.shape.experts;
  const std::vector<double> uniform(experts, 1.0 / static_cast<double>(experts));
  loads_.assign(layers * experts, 0);
  std::vector<std::span<int32_t>> layer_rows;
  for (int l = 0; l < layers; ++l) layer_rows.push_back(out.layer_rows(l));
  // Whole layers to each thread, each sampled from its own place in the one stream (as many rows
  // in as come before it), so the rows are the same however many threads sample them. A thread
  // costs tens of microseconds to start: it takes a million counts or more.
  const int64_t counts = int64_t{layers} * ranks * static_cast<int64_t>(experts);
  const int parts = static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(p_.threads, counts >> 20), 1, layers));
  samplers_.resize(parts);
  Rng end = sampling_rng_;
  parallel_for(parts, parts, [&](size_t part) {
    const int first = static_cast<int>(layers * part / parts), last = static_cast<int>(layers * (part + 1) / parts);
    Rng rng = sampling_rng_;
    RankSampler::skip(rng, int64_t{first} * ranks);
    RankSampler& sampler = samplers_[part];
    for (int l = first; l < last; ++l) {
      // A hash router ignores popularity: every expert is equally likely.
      sampler.prepare(gated_ ? shares_[l] : uniform, p_.shape.tokens_per_rank, p_.shape.top_k);
      const std::span<int64_t> layer_loads(loads_.data() + l * experts, experts);
      for (int r = 0; r < ranks; ++r) {
        const std::span<int32_t> row = layer_rows[l].subspan(r * experts, experts);
        sampler.sample(rng, row, layer_loads);
      }
    }
    if (last == layers) end = rng;
  });
  // Token counts only, as a source that does not see single tokens gives.
  out.clear_sends();
  out.clear_drops();
  out.clear_coactivation();
  out.set_expert_loads(loads_);
  if (!sampled_) rng_ = end;
  sampled_ = true;
}

std::string SkewedSource::describe() const {
  std::ostringstream os;
  os << "skewed synthetic gating (";
  switch (p_.distribution) {
    case SkewDistribution::kUniform: os << "uniform"; break;
    case SkewDistribution::kZipf: os << "zipf s=" << p_.zipf_s; break;
    case SkewDistribution::kDirichlet: os << "dirichlet alpha=" << p_.dirichlet_alpha; break;
  }
  os << ", drift " << p_.drift << ", " << p_.routing->name() << " routing)";
  return os.str();
}

void SkewedSourceParams::describe(params::Visitor& v) {
  params::enumeration(v, "distribution", distribution, kSkewDistributionNames, "the popularity of experts");
  v.real("zipf_s", zipf_s, {0, 10}, "zipf: the exponent");
  v.real("dirichlet_alpha", dirichlet_alpha, {0, 1e6, false}, "dirichlet: the concentration");
  v.real("drift", drift, {0, 10}, "per-step noise of log popularity");
  v.real("reversion", reversion, {0, 1}, "per-step pull of log popularity back to its start");
}

const SourceEntry& source_entry_skewed() {
  using Config = SourceConfigOf<SkewedSourceParams>;
  static const SourceEntry entry{
      .name = "skewed",
      .summary = "a seeded Zipf or Dirichlet popularity per layer, drifting",
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>(
            "skewed", SkewedSourceParams{},
            Config::Hooks{.make = [](const SkewedSourceParams& p, const SourceContext& c) -> std::unique_ptr<Source> {
              SkewedSourceParams params = p;
              params.shape = c.shape;
              params.seed = c.seed;
              params.routing = c.routing;
              params.threads = c.threads;
              return std::make_unique<SkewedSource>(params);
            }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
