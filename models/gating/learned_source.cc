#include "models/gating/learned_source.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "models/gating/capacity.h"
#include "models/gating/source_registry.h"
#include "sim/base/avx2_clones.h"

namespace moesim::gating {

LearnedSource::LearnedSource(const LearnedSourceParams& params, std::unique_ptr<router::Router> router)
    : p_(params),
      router_(router ? std::move(router)
                     : router::make_router(params.shape.topk_groups < params.shape.expert_groups ? params.shape.expert_groups : 1)),
      rng_(params.seed, "gating.learned"),
      rule_(params.routing->make({params.shape, params.capacity_factor})) {
  const int d = p_.d;
  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    std::vector<float> w(static_cast<size_t>(p_.shape.experts) * d), c(static_cast<size_t>(p_.topics) * d);
    for (auto& v : w) v = static_cast<float>(p_.init_scale * rng_.normal());
    for (auto& v : c) v = static_cast<float>(rng_.normal());
    gates_.push_back(std::move(w));
    centers_.push_back(std::move(c));
  }
  for (int t = 0; t < p_.topics; ++t) {
    topic_log_weights_.push_back(-p_.topic_skew * std::log(t + 1.0));
    uniform_cdf_.push_back(static_cast<float>(t + 1) / static_cast<float>(p_.topics));
  }
  uniform_cdf_.back() = 1.0f;
  topic_weights_.resize(p_.topics);
  mix_cdf_.resize(p_.topics);

  const int layers = p_.shape.moe_layers, experts = p_.shape.experts;
  // Group-limited routing ranks only the experts of a token's best groups.
  candidates_ = std::min(rule_->candidates(), p_.shape.topk_groups * (p_.shape.experts / p_.shape.expert_groups));
  // Versions name a gate's contents for the router's caches: unique over every layer.
  for (int l = 0; l < layers; ++l) gate_versions_.push_back(++last_gate_version_);
  probe_candidates_.resize(layers);
  chosen_.resize(layers);
  layer_shares_.assign(layers, std::vector<double>(experts, 1.0 / experts));

  // The probes: drawn once per layer (step 0 of their own key), as the router will draw them.
  probe_topic_.resize(static_cast<size_t>(p_.shape.moe_layers) * p_.probe_tokens);
  probes_per_topic_.assign(static_cast<size_t>(p_.shape.moe_layers) * p_.topics, 0.0);
  probe_noise_.resize(static_cast<size_t>(p_.shape.moe_layers) * p_.probe_tokens * d);
  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    const router::TokenKey key{p_.seed, 0, static_cast<uint32_t>(l)};
    for (int t = 0; t < p_.probe_tokens; ++t) {
      const int topic = router::token_topic(key, static_cast<uint32_t>(t), uniform_cdf_.data(), p_.topics);
      probe_topic_[static_cast<size_t>(l) * p_.probe_tokens + t] = topic;
      probes_per_topic_[static_cast<size_t>(l) * p_.topics + topic] += 1;
      router::token_noise(key, static_cast<uint32_t>(t), d, probe_noise_.data() + (static_cast<size_t>(l) * p_.probe_tokens + t) * d);
    }
  }
}

double LearnedSource::learning_rate(int step) const {
  const double s = step + 1.0, warmup = std::max(1, p_.warmup_steps);
  double schedule;
  if (s < warmup) {
    schedule = s / warmup;
  } else {
    const double progress = std::min(1.0, (s - warmup) / std::max(1.0, p_.decay_steps - warmup));
    schedule = p_.min_lr_ratio + (1.0 - p_.min_lr_ratio) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return p_.lr * schedule;
}

int LearnedSource::learn_batch(int layer) const {
  const double depth = p_.shape.moe_layers > 1 ? 1.0 - static_cast<double>(layer) / (p_.shape.moe_layers - 1) : 1.0;
  return std::max(1, static_cast<int>(std::lround(p_.learn_tokens / (1.0 + p_.layer_volatility * depth))));
}

void LearnedSource::advance(int step) {
  if (step > 0) {
    for (double& w : topic_log_weights_) w += p_.topic_drift * rng_.normal();
  }
  const double top = *std::max_element(topic_log_weights_.begin(), topic_log_weights_.end());
  double sum = 0;
  for (int t = 0; t < p_.topics; ++t) sum += topic_weights_[t] = std::exp(topic_log_weights_[t] - top);
  for (double& w : topic_weights_) w /= sum;

  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    if (!rule_->gated()) {
      layer_shares_[l].assign(p_.shape.experts, 1.0 / p_.shape.experts);  // the gate plays no part
      continue;
    }
    route_probes(l);
    learn(l, step);
  }
}

double LearnedSource::probe_weight(int layer, int probe) const {
  const int topic = probe_topic_[static_cast<size_t>(layer) * p_.probe_tokens + probe];
  return topic_weights_[topic] / probes_per_topic_[static_cast<size_t>(layer) * p_.topics + topic];
}

void LearnedSource::route_probes(int l) {
  const router::RouterProblem probes{p_.probe_tokens,
                                     1,
                                     p_.d,
                                     p_.shape.experts,
                                     candidates_,
                                     p_.topics,
                                     gates_[l].data(),
                                     centers_[l].data(),
                                     uniform_cdf_.data(),
                                     static_cast<float>(p_.noise),
                                     0,
                                     router::TokenKey{p_.seed, 0, static_cast<uint32_t>(l)},
                                     p_.shape.expert_groups,
                                     p_.shape.topk_groups,
                                     gate_versions_[l],
                                     probe_noise_.data() + static_cast<size_t>(l) * p_.probe_tokens * p_.d,
                                     probe_topic_.data() + static_cast<size_t>(l) * p_.probe_tokens};
  router_->route(probes, routed_, /*want_assignments=*/true);
  probe_candidates_[l].swap(routed_.assignments);
  if (rule_->placement_aware()) return;  // chosen per sender node, in fill()
  chosen_[l].resize(static_cast<size_t>(p_.probe_tokens) * p_.shape.top_k);
  rule_->choose(ranked_probes(l), chosen_[l], layer_shares_[l]);
}

RankedProbes LearnedSource::ranked_probes(int l) {
  probe_weights_.resize(p_.probe_tokens);
  for (int t = 0; t < p_.probe_tokens; ++t) probe_weights_[t] = probe_weight(l, t);
  return {l, current_step(), candidates_, probe_candidates_[l], probe_weights_};
}

std::vector<double> LearnedSource::visit_shares(int l, const RoutingView& view, const std::vector<int>& bucket, int buckets) const {
  const int k = p_.shape.top_k;
  std::vector<double> visits(buckets, 0.0);
  if (!rule_->gated()) {
    // k distinct experts uniformly at random: P(none of them in b) = C(E - n_b, k) / C(E, k).
    std::vector<int> hosted(buckets, 0);
    for (int e = 0; e < p_.shape.experts; ++e) ++hosted[bucket[view.host(l, e)]];
    for (int b = 0; b < buckets; ++b) {
      double none = 1;
      for (int i = 0; i < k; ++i) none *= std::max(0.0, static_cast<double>(p_.shape.experts - hosted[b] - i)) / (p_.shape.experts - i);
      visits[b] = 1.0 - none;
    }
    return visits;
  }
  std::vector<int> seen(buckets, -1);
  double total = 0;
  for (int t = 0; t < p_.probe_tokens; ++t) {
    const double weight = probe_weight(l, t);
    total += weight;
    for (int q = 0; q < k; ++q) {
      const int b = bucket[view.host(l, chosen_[l][static_cast<size_t>(t) * k + q])];
      if (seen[b] != t) visits[b] += weight;
      seen[b] = t;
    }
  }
  for (double& v : visits) v /= total;
  return visits;
}

void LearnedSource::fill_sends(int l, const RoutingView& view, RoutingMatrix& out) const {
  const int k = p_.shape.top_k, ep = view.ep;
  std::vector<int> gpu_bucket(ep);
  std::iota(gpu_bucket.begin(), gpu_bucket.end(), 0);
  const std::vector<double> gpu_visits = k > 1 ? visit_shares(l, view, gpu_bucket, ep) : std::vector<double>();
  // EP ranks grouped by node, nodes numbered by first appearance in the EP group; groups laid
  // out alike share the node shares.
  std::vector<int> node_bucket, previous;
  std::vector<double> node_visits;
  int nodes = 0;
  for (int r = 0; r < p_.shape.ranks; ++r) {
    if (r % ep == 0) {  // a new EP group
      node_bucket.assign(ep, -1);
      nodes = 0;
      for (int j = 0; j < ep; ++j) {
        for (int i = 0; i < j && node_bucket[j] < 0; ++i)
          if (view.node_of_rank[r + i] == view.node_of_rank[r + j]) node_bucket[j] = node_bucket[i];
        if (node_bucket[j] < 0) node_bucket[j] = nodes++;
      }
      if (k > 1 && node_bucket != previous) node_visits = visit_shares(l, view, node_bucket, nodes);
      previous = node_bucket;
    }

    auto sends = out.sends_row(l, r);
    auto node_sends = out.node_sends_row(l, r);
    const double tokens = static_cast<double>(p_.shape.tokens_per_rank);
    if (k == 1) {  // a token has one destination: sends are the counts per host
      std::fill(sends.begin(), sends.end(), 0);
      const auto row = out.row(l, r);
      for (int e = 0; e < p_.shape.experts; ++e) sends[view.host(l, e)] += row[e];
      std::vector<int32_t> per_node(nodes, 0);
      for (int j = 0; j < ep; ++j) per_node[node_bucket[j]] += sends[j];
      for (int j = 0; j < ep; ++j) node_sends[j] = per_node[node_bucket[j]];
      continue;
    }
    for (int j = 0; j < ep; ++j) {
      sends[j] = static_cast<int32_t>(std::lround(gpu_visits[j] * tokens));
      node_sends[j] = static_cast<int32_t>(std::lround(node_visits[node_bucket[j]] * tokens));
    }
  }
}

void LearnedSource::fill_coactivation(RoutingMatrix& out) {
  const int experts = p_.shape.experts, k = p_.shape.top_k;
  const size_t per_layer = static_cast<size_t>(experts) * experts;
  if (pair_shares_step_ != current_step()) {
    pair_shares_step_ = current_step();
    pair_shares_.assign(per_layer * p_.shape.moe_layers, 0.0);
    for (int l = 0; l < p_.shape.moe_layers && k > 1; ++l) {
      double* pairs = pair_shares_.data() + l * per_layer;
      if (!rule_->gated()) {
        // k distinct experts uniformly at random: every pair equally likely.
        const double share = static_cast<double>(k) * (k - 1) / (static_cast<double>(experts) * (experts - 1));
        for (int e = 0; e < experts; ++e) {
          for (int f = 0; f < experts; ++f) pairs[static_cast<size_t>(e) * experts + f] = e == f ? 0.0 : share;
        }
        continue;
      }
      double total = 0;
      for (int t = 0; t < p_.probe_tokens; ++t) {
        const double weight = probe_weight(l, t);
        total += weight;
        const int32_t* pick = chosen_[l].data() + static_cast<size_t>(t) * k;
        for (int a = 0; a < k; ++a) {
          for (int b = 0; b < k; ++b) {
            if (a != b) pairs[static_cast<size_t>(pick[a]) * experts + pick[b]] += weight;
          }
        }
      }
      for (size_t i = 0; i < per_layer; ++i) pairs[i] /= total;
    }
  }
  std::copy(pair_shares_.begin(), pair_shares_.end(), out.coactivation().begin());
}

void LearnedSource::fill(const RoutingView& view, RoutingMatrix& out) {
  if (placement_aware() && !view.has_placement()) throw std::invalid_argument(rule_->describe() + " needs the placement");
  // The same draws for every placement of a step: policies compared see the same noise.
  Rng rng(p_.seed, "gating.learned.sampling", static_cast<uint64_t>(current_step()));
  if (view.has_placement())
    out.resize_sends(view.ep);
  else
    out.clear_sends();
  out.clear_drops();
  std::map<std::pair<int, int>, std::vector<double>> node_shares;  // locmoe: (EP group, node) -> shares
  std::vector<uint8_t> local(p_.shape.experts);
  loads_.assign(static_cast<size_t>(p_.shape.moe_layers) * p_.shape.experts, 0);
  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    node_shares.clear();
    const std::vector<double>* prepared = nullptr;
    for (int r = 0; r < p_.shape.ranks; ++r) {
      const std::vector<double>* rank_shares = &layer_shares_[l];
      if (rule_->placement_aware()) {
        const int group = r / view.ep, node = view.node_of_rank[r];
        auto [it, added] = node_shares.try_emplace({group, node});
        if (added) {
          for (int e = 0; e < p_.shape.experts; ++e) {
            local[e] = 0;
            for (int h : view.hosts[l][e]) local[e] |= view.node_of_rank[group * view.ep + h] == node;
          }
          rule_->local_shares(ranked_probes(l), local, it->second);
        }
        rank_shares = &it->second;
      }
      if (rank_shares != prepared) sampler_.prepare(*rank_shares, p_.shape.tokens_per_rank, p_.shape.top_k);
      prepared = rank_shares;
      const std::span<int32_t> row = out.row(l, r);
      sampler_.sample(rng, row, std::span<int64_t>(loads_.data() + static_cast<size_t>(l) * p_.shape.experts, p_.shape.experts));
    }
    if (view.has_placement()) fill_sends(l, view, out);
  }
  if (out.has_coactivation()) fill_coactivation(out);
  out.set_expert_loads(loads_);
}

namespace {

// The token's embedding x = center + noise * u (cuda/token_embedding.h) added to two rows
// of sums in double: its first expert's and the mean token's. Cloned for AVX2, where it is four
// doubles a step; each element's additions keep their order, so the sums are the same.
MOESIM_AVX2_CLONES
void add_embedding(const float* __restrict u, const float* __restrict center, float noise, int d, double* __restrict expert_row,
                   double* __restrict mean_row) {
  for (int j = 0; j < d; ++j) {
    const float x = center[j] + noise * u[j];
    expert_row[j] += x;
    mean_row[j] += x;
  }
}

}  // namespace

void LearnedSource::learn(int layer, int step) {
  // A fresh minibatch from the current topic mix (its own key): the gradient noise of real
  // training, which shrinks with the learning rate.
  const int d = p_.d, experts = p_.shape.experts, n = learn_batch(layer);
  double acc = 0;
  for (int t = 0; t < p_.topics; ++t) {
    acc += topic_weights_[t];
    mix_cdf_[t] = static_cast<float>(acc);
  }
  mix_cdf_.back() = 1.0f;
  mix_guide_.build(mix_cdf_);
  const router::TokenKey key{p_.seed ^ 0x9E3779B97F4A7C15ull, static_cast<uint32_t>(step), static_cast<uint32_t>(layer)};
  // The batch's topics and noise, drawn once for the router and for the gradient below.
  learn_noise_.resize(static_cast<size_t>(n) * d);
  learn_topics_.resize(n);
  for (int t = 0; t < n; ++t) {
    learn_topics_[t] = mix_guide_.topic(router::topic_uniform(key, static_cast<uint32_t>(t)));
    router::token_noise(key, static_cast<uint32_t>(t), d, learn_noise_.data() + static_cast<size_t>(t) * d);
  }
  const router::RouterProblem batch{n,
                                    1,
                                    d,
                                    experts,
                                    p_.shape.top_k,
                                    p_.topics,
                                    gates_[layer].data(),
                                    centers_[layer].data(),
                                    mix_cdf_.data(),
                                    static_cast<float>(p_.noise),
                                    0,
                                    key,
                                    p_.shape.expert_groups,
                                    p_.shape.topk_groups,
                                    gate_versions_[layer],
                                    learn_noise_.data(),
                                    learn_topics_.data()};
  router_->route(batch, routed_, /*want_assignments=*/true);

  sums_.assign(static_cast<size_t>(experts + 1) * d, 0.0);  // last row: the mean token
  counts_.assign(experts + 1, 0.0);
  std::vector<double> share(experts, 0.0);
  for (int t = 0; t < n; ++t) {
    const int first = routed_.assignments[static_cast<size_t>(t) * p_.shape.top_k];
    for (int q = 0; q < p_.shape.top_k; ++q)
      share[routed_.assignments[static_cast<size_t>(t) * p_.shape.top_k + q]] += 1.0 / (n * p_.shape.top_k);
    counts_[first] += 1;
    counts_[experts] += 1;
    add_embedding(learn_noise_.data() + static_cast<size_t>(t) * d, centers_[layer].data() + static_cast<size_t>(learn_topics_[t]) * d,
                  static_cast<float>(p_.noise), d, sums_.data() + static_cast<size_t>(first) * d,
                  sums_.data() + static_cast<size_t>(experts) * d);
  }
  const double lr = learning_rate(step);
  auto& w = gates_[layer];
  gate_versions_[layer] = ++last_gate_version_;
  for (int e = 0; e < experts; ++e) {
    const int row = counts_[e] > 0 ? e : experts;  // an expert with no tokens looks at the mean token
    const double imbalance = p_.aux * experts * (share[e] - 1.0 / experts);
    const double pull = counts_[e] > 0 ? p_.pull : 0.0;
    for (int j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(e) * d + j;
      const double m = sums_[static_cast<size_t>(row) * d + j] / counts_[row];
      w[i] += static_cast<float>(lr * (pull * (m - w[i]) - imbalance * m));
    }
  }
}

std::string LearnedSource::describe() const {
  std::ostringstream os;
  if (!rule_->gated()) {
    // Content-blind routing: naming the router would suggest a gate that plays no part.
    os << "synthetic gating, " << rule_->describe() << " (content-blind: the learned gate neither routes nor learns)";
    return os.str();
  }
  os << "learned-gate synthetic gating, " << rule_->describe();
  os << " (router: " << router_->name() << "; d " << p_.d << ", " << p_.topics << " topics, " << p_.probe_tokens
     << " probe tokens per layer)";
  return os.str();
}

void LearnedSourceParams::describe(params::Visitor& v) {
  v.count("d", d, 1, 4096, "dimension of the token space");
  v.count("topics", topics, 1, 4096, "topics tokens are drawn from");
  v.real("topic_skew", topic_skew, {0, 10}, "Zipf exponent of the initial topic weights");
  v.real("topic_drift", topic_drift, {0, 10}, "per-step noise of log topic weights");
  v.real("noise", noise, {0, 100}, "half-width of a token's noise around its topic's centre");
  v.real("init_scale", init_scale, {0, 100}, "standard deviation of the initial gate weights");
  v.real("lr", lr, {0, 100}, "peak learning rate of the gate");
  v.count("warmup_steps", warmup_steps, 0, 100'000'000, "steps of learning-rate warm-up");
  v.count("decay_steps", decay_steps, 1, 100'000'000, "the cosine decay ends here (default: steps)");
  v.real("min_lr_ratio", min_lr_ratio, {0, 1}, "the learning rate at the end of the decay, over its peak");
  v.real("pull", pull, {0, 100}, "how strongly an expert's gate moves toward its tokens (specialization)");
  v.real("aux", aux, {0, 100}, "auxiliary load-balancing coefficient");
  v.real("layer_volatility", layer_volatility, {0, 1000}, "the first MoE layer learns from a (1 + v) times smaller minibatch");
  v.count("probe_tokens", probe_tokens, 1, 1 << 24, "fixed tokens per layer that measure the loads");
  v.count("learn_tokens", learn_tokens, 1, 1 << 24, "fresh tokens per layer and step that the gate learns from");
}

namespace {

std::unique_ptr<Source> make_learned(const LearnedSourceParams& p, const SourceContext& c) {
  LearnedSourceParams params = p;
  params.shape = c.shape;
  params.seed = c.seed;
  params.routing = c.routing;
  params.capacity_factor = c.capacity_factor;
  return std::make_unique<LearnedSource>(params);
}

std::optional<SourceMemory> learned_memory(const LearnedSourceParams& p, const SourceContext& c, double copies) {
  // Each probe keeps its topic, ranked candidates and chosen experts per layer (int32 each), and
  // its noise (d floats).
  const double experts = c.shape.experts, layers = c.shape.moe_layers;
  const double candidates = c.routing ? c.routing->make({c.shape, c.capacity_factor})->candidates() : c.shape.top_k;
  const double per_probe = 4 * (1 + candidates + c.shape.top_k + p.d);
  char what[160];
  std::snprintf(what, sizeof what, "learned gate, %.0f sources x %.0f MoE layers x %d probe tokens", copies, layers, p.probe_tokens);
  return SourceMemory{copies * layers * (p.probe_tokens * per_probe + (p.topics + experts) * p.d * 4.0 + experts * experts * 8), what,
                      "gating.probe_tokens"};
}

}  // namespace

const SourceEntry& source_entry_learned() {
  using Config = SourceConfigOf<LearnedSourceParams>;
  static const SourceEntry entry{
      .name = "learned",
      .summary = "a gate that learns: loads go from fluctuating to stable",
      .gate_scores = true,
      .token_destinations = true,
      .defaults = [](const SourceDefaults& d) -> std::unique_ptr<SourceConfig> {
        LearnedSourceParams params;
        params.decay_steps = d.steps;
        return std::make_unique<Config>("learned", params, Config::Hooks{.make = make_learned, .memory = learned_memory});
      },
  };
  return entry;
}

}  // namespace moesim::gating
