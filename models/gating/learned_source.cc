#include "models/gating/learned_source.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace moesim::gating {

LearnedSource::LearnedSource(const LearnedSourceParams& params, std::unique_ptr<router::Router> router)
    : p_(params), router_(router ? std::move(router) : router::make_router()), rng_(params.seed, "gating.learned") {
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

  // The probes: drawn once per layer (step 0 of their own key), as the router will draw them.
  probe_topic_.resize(static_cast<size_t>(p_.shape.moe_layers) * p_.probe_tokens);
  probes_per_topic_.assign(static_cast<size_t>(p_.shape.moe_layers) * p_.topics, 0.0);
  probe_x_.resize(static_cast<size_t>(p_.shape.moe_layers) * p_.probe_tokens * d);
  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    const router::TokenKey key{p_.seed, 0, static_cast<uint32_t>(l)};
    for (int t = 0; t < p_.probe_tokens; ++t) {
      const int topic = router::token_topic(key, static_cast<uint32_t>(t), uniform_cdf_.data(), p_.topics);
      probe_topic_[static_cast<size_t>(l) * p_.probe_tokens + t] = topic;
      probes_per_topic_[static_cast<size_t>(l) * p_.topics + topic] += 1;
      float* x = probe_x_.data() + (static_cast<size_t>(l) * p_.probe_tokens + t) * d;
      for (int j = 0; j < d; j += 8) {
        const router::Philox4 block = router::token_draw(key, static_cast<uint32_t>(t), router::noise_block(j));
        for (int q = j; q < j + 8 && q < d; ++q) {
          x[q] = router::from_bf16_bits(router::to_bf16_bits(router::embedding_value(
              centers_[l][static_cast<size_t>(topic) * d + q], static_cast<float>(p_.noise), router::uniform_noise(block, q))));
        }
      }
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

void LearnedSource::next(int step, RoutingMatrix& out) {
  if (step > 0) {
    for (double& w : topic_log_weights_) w += p_.topic_drift * rng_.normal();
  }
  const double top = *std::max_element(topic_log_weights_.begin(), topic_log_weights_.end());
  double sum = 0;
  for (int t = 0; t < p_.topics; ++t) sum += topic_weights_[t] = std::exp(topic_log_weights_[t] - top);
  for (double& w : topic_weights_) w /= sum;

  for (int l = 0; l < p_.shape.moe_layers; ++l) {
    const router::RouterProblem probes{p_.probe_tokens, 1, p_.d, p_.shape.experts, p_.shape.top_k, p_.topics, gates_[l].data(),
                                       centers_[l].data(), uniform_cdf_.data(), static_cast<float>(p_.noise), 0,
                                       router::TokenKey{p_.seed, 0, static_cast<uint32_t>(l)}};
    router_->route(probes, routed_, /*want_assignments=*/true);
    // Expected shares: each probe stands for its topic's weight, spread over its probes.
    const double* per_topic = probes_per_topic_.data() + static_cast<size_t>(l) * p_.topics;
    shares_.assign(p_.shape.experts, 0.0);
    for (int t = 0; t < p_.probe_tokens; ++t) {
      const int topic = probe_topic_[static_cast<size_t>(l) * p_.probe_tokens + t];
      const double weight = topic_weights_[topic] / per_topic[topic] / p_.shape.top_k;
      for (int q = 0; q < p_.shape.top_k; ++q) shares_[routed_.assignments[static_cast<size_t>(t) * p_.shape.top_k + q]] += weight;
    }
    double total = 0;
    for (double s : shares_) total += s;  // < 1 only if a topic has no probe
    for (double& s : shares_) s /= total;
    cap_shares(shares_, p_.shape.top_k);
    for (int r = 0; r < p_.shape.ranks; ++r) {
      sampler_.sample(shares_, p_.shape.tokens_per_rank, p_.shape.top_k, rng_, out.row(l, r));
      auto dropped = out.dropped_row(l, r);
      std::fill(dropped.begin(), dropped.end(), 0);
    }
    learn(l, step);
  }
}

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
  const router::TokenKey key{p_.seed ^ 0x9E3779B97F4A7C15ull, static_cast<uint32_t>(step), static_cast<uint32_t>(layer)};
  const router::RouterProblem batch{n, 1, d, experts, p_.shape.top_k, p_.topics, gates_[layer].data(), centers_[layer].data(),
                                    mix_cdf_.data(), static_cast<float>(p_.noise), 0, key};
  router_->route(batch, routed_, /*want_assignments=*/true);

  sums_.assign(static_cast<size_t>(experts + 1) * d, 0.0);  // last row: the mean token
  counts_.assign(experts + 1, 0.0);
  std::vector<double> share(experts, 0.0);
  std::vector<float> x(d);
  for (int t = 0; t < n; ++t) {
    const int topic = router::token_topic(key, static_cast<uint32_t>(t), mix_cdf_.data(), p_.topics);
    for (int j = 0; j < d; j += 8) {
      const router::Philox4 block = router::token_draw(key, static_cast<uint32_t>(t), router::noise_block(j));
      for (int q = j; q < j + 8 && q < d; ++q) {
        x[q] = router::from_bf16_bits(router::to_bf16_bits(router::embedding_value(
            centers_[layer][static_cast<size_t>(topic) * d + q], static_cast<float>(p_.noise), router::uniform_noise(block, q))));
      }
    }
    const int first = routed_.assignments[static_cast<size_t>(t) * p_.shape.top_k];
    for (int q = 0; q < p_.shape.top_k; ++q) share[routed_.assignments[static_cast<size_t>(t) * p_.shape.top_k + q]] += 1.0 / (n * p_.shape.top_k);
    for (int row : {first, experts}) {
      counts_[row] += 1;
      for (int j = 0; j < d; ++j) sums_[static_cast<size_t>(row) * d + j] += x[j];
    }
  }
  const double lr = learning_rate(step);
  auto& w = gates_[layer];
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
  os << "learned-gate synthetic gating (router: " << router_->name() << "; d " << p_.d << ", " << p_.topics << " topics, "
     << p_.probe_tokens << " probe tokens per layer)";
  return os.str();
}

}  // namespace moesim::gating
