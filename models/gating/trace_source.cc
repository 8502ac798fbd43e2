#include "models/gating/trace_source.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/gating/source_registry.h"

namespace moesim::gating {

namespace {
bool exact_replay(const TraceInfo& info, const GatingShape& shape) { return info.ranks > 0 && info.ranks == shape.ranks; }
}  // namespace

void check_trace_fits(const std::string& path, const TraceInfo& info, const GatingShape& s, int steps) {
  const std::string dataset = info.ranks > 0 ? "/rank_counts" : "/expert_counts";
  auto require = [&](bool ok, const std::string& message) {
    if (!ok) throw TraceError(path, dataset, message);
  };
  require(info.moe_layers == s.moe_layers,
          "has " + std::to_string(info.moe_layers) + " MoE layers, the model has " + std::to_string(s.moe_layers));
  require(info.experts == s.experts,
          "has " + std::to_string(info.experts) + " experts per layer, the model has " + std::to_string(s.experts));
  const int needed = records_needed(steps, info.stride);
  if (info.stride == 1) {
    require(info.steps >= steps, "has " + std::to_string(info.steps) + " steps, the scenario asks for " + std::to_string(steps));
  } else {
    require(info.steps >= needed, "has " + std::to_string(info.steps) + " records, one every " + std::to_string(info.stride) +
                                      " training steps; the scenario's " + std::to_string(steps) + " steps need " + std::to_string(needed));
  }
  require(info.top_k == 0 || info.top_k == s.top_k,
          "was recorded with top_k " + std::to_string(info.top_k) + ", the scenario has model.top_k " + std::to_string(s.top_k));
  if (exact_replay(info, s) && info.tokens_per_step > 0) {
    require(info.tokens_per_step == s.tokens_per_rank * s.ranks, "was recorded with tokens_per_step " +
                                                                     std::to_string(info.tokens_per_step) + ", the scenario has " +
                                                                     std::to_string(s.tokens_per_rank * s.ranks));
  }
  if (info.ranks > 0 && info.ranks != s.ranks && !info.scenario.empty()) {
    // Per-rank counts for another DP degree cannot be replayed exactly; totals still can be.
    require(false, "has per-rank counts for " + std::to_string(info.ranks) + " ranks, the scenario has dp = " + std::to_string(s.ranks));
  }
}

TraceSource::TraceSource(const std::string& path, const GatingShape& shape, int steps, Between between)
    : path_(path),
      shape_(shape),
      reader_(path),
      exact_(exact_replay(reader_.info(), shape)),
      between_(between),
      routing_(shape.moe_layers, shape.ranks, shape.experts) {
  check_trace_fits(path, reader_.info(), shape, steps);
}

void TraceSource::fill(const RoutingView&, RoutingMatrix& out) { out = routing_; }

void TraceSource::read_exact(int index, RoutingMatrix& out) const {
  reader_.read_rank_counts(index, out);
  // Every token of a rank makes top_k assignments: anything else is not this scenario's gating.
  const int64_t expected = shape_.tokens_per_rank * shape_.top_k;
  for (int l = 0; l < shape_.moe_layers; ++l) {
    for (int r = 0; r < shape_.ranks; ++r) {
      const auto row = out.row(l, r);
      const int64_t sum = std::accumulate(row.begin(), row.end(), int64_t{0});
      if (sum != expected) {
        const auto& info = reader_.info();
        const std::string at = info.stride == 1 ? "step " + std::to_string(index)
                                                : "record " + std::to_string(index) + " (training step " +
                                                      std::to_string(info.first_step + int64_t{index} * info.stride) + ")";
        throw TraceError(path_, "/rank_counts",
                         at + ", MoE layer " + std::to_string(l) + ", rank " + std::to_string(r) + " routes " + std::to_string(sum) +
                             " token assignments; the scenario routes " + std::to_string(shape_.tokens_per_rank) +
                             " tokens per rank x top_k " + std::to_string(shape_.top_k) + " = " + std::to_string(expected));
      }
    }
  }
}

const TraceSource::Record& TraceSource::record(int index) {
  for (const Record& r : records_)
    if (r.index == index) return r;
  Record& slot = records_[0].index < records_[1].index ? records_[0] : records_[1];  // the older one
  slot.index = index;
  if (exact_) {
    slot.ranks.resize(shape_.moe_layers, shape_.ranks, shape_.experts);
    read_exact(index, slot.ranks);
  } else {
    slot.totals = reader_.read_expert_counts(index);
  }
  return slot;
}

void TraceSource::round_to(const std::vector<double>& values, int64_t total, int rotate, std::span<int32_t> out) {
  int64_t given = 0;
  remainders_.clear();
  for (int e = 0; e < shape_.experts; ++e) {
    out[e] = static_cast<int32_t>(std::floor(values[e]));
    given += out[e];
    // Rotate ties by rank so that leftover tokens do not always land on the same experts.
    remainders_.emplace_back(values[e] - out[e], (e + rotate) % shape_.experts);
  }
  std::stable_sort(remainders_.begin(), remainders_.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; given < total; ++i, ++given) {
    const int e = (remainders_[i % remainders_.size()].second - rotate % shape_.experts + shape_.experts) % shape_.experts;
    ++out[e];
  }
}

void TraceSource::split_totals(const std::vector<double>& totals, int step) {
  const int64_t assignments = shape_.tokens_per_rank * shape_.top_k;
  std::vector<double> values(shape_.experts);
  for (int l = 0; l < shape_.moe_layers; ++l) {
    const auto first = totals.begin() + static_cast<std::ptrdiff_t>(l) * shape_.experts;
    double sum = 0;
    for (auto it = first; it != first + shape_.experts; ++it) sum += *it;
    if (sum <= 0)
      throw TraceError(path_, "/expert_counts", "MoE layer " + std::to_string(l) + " has no tokens at step " + std::to_string(step));
    shares_.assign(shape_.experts, 0.0);
    for (int e = 0; e < shape_.experts; ++e) shares_[e] = first[e] / sum;
    cap_shares(shares_, shape_.top_k);
    for (int e = 0; e < shape_.experts; ++e) values[e] = static_cast<double>(assignments) * shares_[e];
    for (int r = 0; r < shape_.ranks; ++r) round_to(values, assignments, r, routing_.row(l, r));
  }
}

void TraceSource::advance(int step) {
  const RecordPosition p = record_at(step, reader_.info().stride, reader_.info().steps, between_);
  if (p.after == p.before && exact_) {
    // Read straight into the step's matrix; a held record is not read again.
    if (routing_record_ != p.before) read_exact(p.before, routing_);
    routing_record_ = p.before;
    return;
  }
  routing_record_ = -1;
  const Record& before = record(p.before);
  if (p.after == p.before) {
    blend_.assign(before.totals.begin(), before.totals.end());
    split_totals(blend_, step);
    return;
  }
  const Record& after = record(p.after);
  const double w = p.weight;
  if (exact_) {
    const int64_t expected = shape_.tokens_per_rank * shape_.top_k;
    std::vector<double> values(shape_.experts);
    for (int l = 0; l < shape_.moe_layers; ++l)
      for (int r = 0; r < shape_.ranks; ++r) {
        const auto a = before.ranks.row(l, r), b = after.ranks.row(l, r);
        for (int e = 0; e < shape_.experts; ++e) values[e] = (1 - w) * a[e] + w * b[e];
        round_to(values, expected, r, routing_.row(l, r));
      }
    return;
  }
  blend_.resize(before.totals.size());
  for (size_t i = 0; i < blend_.size(); ++i)
    blend_[i] = (1 - w) * static_cast<double>(before.totals[i]) + w * static_cast<double>(after.totals[i]);
  split_totals(blend_, step);
}

std::string TraceSource::describe() const {
  const int stride = reader_.info().stride;
  return "trace replay of " + path_ + (exact_ ? " (exact, per-rank counts" : " (per-expert totals, split over ranks") +
         (stride == 1 ? std::string(")")
                      : ", a record every " + std::to_string(stride) + " training steps, " +
                            (between_ == Between::kHold ? "held between records)" : "blended linearly between records)"));
}

namespace {

struct TraceParams {
  std::string path;
  Between between = Between::kHold;
  void describe(params::Visitor& v) {
    v.text("path", path, "the trace to replay (HDF5 or CSV, models/gating/README.md)");
    params::enumeration(v, "between", between, kBetweenNames,
                        "a trace logged every N training steps: hold each record for N steps, or blend the two around a step");
  }
};

// Opens the trace now, so that a bad one is reported before anything runs.
std::optional<SourceProblem> check_trace(const TraceParams& p, const SourceContext& c) {
  try {
    const TraceReader reader(p.path);
    check_trace_fits(p.path, reader.info(), c.shape, c.steps);
  } catch (const TraceError& e) {
    return SourceProblem{"path", std::string("bad trace: ") + e.what()};
  }
  return std::nullopt;
}

}  // namespace

const SourceEntry& source_entry_trace() {
  using Config = SourceConfigOf<TraceParams>;
  static const SourceEntry entry{
      .name = "trace",
      .summary = "replay of a recorded trace",
      .replays = true,
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>("trace", TraceParams{},
                                        Config::Hooks{.make = [](const TraceParams& p, const SourceContext& c) -> std::unique_ptr<Source> {
                                                        return std::make_unique<TraceSource>(p.path, c.shape, c.steps, p.between);
                                                      },
                                                      .check = check_trace,
                                                      .inputs = [](const TraceParams& p) { return std::vector<std::string>{p.path}; }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
