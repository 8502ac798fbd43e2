// `moesim trace info`: what a trace holds and lacks, its steps, and how its expert loads behave
// over training (imbalance, phases, the busiest experts).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "models/gating/load_statistics.h"
#include "models/gating/trace_h5.h"
#include "policies/predictors/phase.h"
#include "sim/cli/trace_commands.h"
#include "sim/cli/usage_error.h"

namespace moesim::cli {
namespace {

// Per-expert totals of every record, [record][layer * experts + expert].
std::vector<std::vector<int64_t>> all_counts(const gating::TraceReader& reader) {
  std::vector<std::vector<int64_t>> out;
  for (int s = 0; s < reader.info().steps; ++s) out.push_back(reader.read_expert_counts(s));
  return out;
}

// Proportions [layer][record][expert] (0 in a layer without tokens).
std::vector<std::vector<std::vector<double>>> proportions(const gating::TraceInfo& info, const std::vector<std::vector<int64_t>>& counts) {
  std::vector<std::vector<std::vector<double>>> out(info.moe_layers);
  for (const auto& step : counts) {
    for (int l = 0; l < info.moe_layers; ++l) {
      const auto first = step.begin() + static_cast<std::ptrdiff_t>(l) * info.experts;
      const double total = static_cast<double>(std::accumulate(first, first + info.experts, int64_t{0}));
      std::vector<double> row(info.experts, 0.0);
      for (int e = 0; e < info.experts; ++e) row[e] = total > 0 ? static_cast<double>(first[e]) / total : 0.0;
      out[l].push_back(std::move(row));
    }
  }
  return out;
}

// A row of block characters, one per bucket of records, scaled between the series' min and max.
std::string sparkline(const std::vector<double>& series, int width) {
  static const char* kLevels[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const int n = static_cast<int>(series.size());
  width = std::min(width, n);
  std::vector<double> bucket(width, 0.0);
  for (int b = 0; b < width; ++b) {
    const int from = b * n / width, to = (b + 1) * n / width;
    for (int i = from; i < to; ++i) bucket[b] += series[i] / (to - from);
  }
  const auto [lo, hi] = std::minmax_element(bucket.begin(), bucket.end());
  std::string out;
  for (double v : bucket) {
    const int level = *hi > *lo ? static_cast<int>((v - *lo) / (*hi - *lo) * 7.999) : 0;
    out += kLevels[level];
  }
  return out;
}

// Max/mean over `groups` equal groups of consecutive experts (groups = experts: per expert), per
// record, averaged over the MoE layers that have tokens.
std::vector<double> imbalance(const gating::TraceInfo& info, const std::vector<std::vector<int64_t>>& counts, int groups) {
  const int per_group = info.experts / groups;
  std::vector<double> out;
  std::vector<int64_t> load(groups);
  for (const auto& step : counts) {
    double sum = 0;
    int layers = 0;
    for (int l = 0; l < info.moe_layers; ++l) {
      std::fill(load.begin(), load.end(), 0);
      for (int e = 0; e < info.experts; ++e) load[e / per_group] += step[static_cast<size_t>(l) * info.experts + e];
      const int64_t total = std::accumulate(load.begin(), load.end(), int64_t{0});
      if (total == 0) continue;
      sum += static_cast<double>(*std::max_element(load.begin(), load.end())) * groups / static_cast<double>(total);
      ++layers;
    }
    out.push_back(layers > 0 ? sum / layers : 0.0);
  }
  return out;
}

void print_series(const char* name, const std::vector<double>& series) {
  const auto [lo, hi] = std::minmax_element(series.begin(), series.end());
  std::printf("    %-10s %s  first %.2f, last %.2f, min %.2f, max %.2f\n", name, sparkline(series, 60).c_str(), series.front(),
              series.back(), *lo, *hi);
}

std::string step_range(const gating::TraceInfo& info) {
  const int64_t last = info.first_step + static_cast<int64_t>(info.steps - 1) * info.stride;
  std::string s = "training steps " + std::to_string(info.first_step) + " to " + std::to_string(last);
  return s + (info.stride == 1 ? ", every step"
                               : ", one record every " + std::to_string(info.stride) + " (stride " + std::to_string(info.stride) + ")");
}

void print_provenance(const gating::TraceInfo& info) {
  std::printf("  shape      %d records x %d MoE layers x %d experts\n", info.steps, info.moe_layers, info.experts);
  std::printf("  steps      %s\n", step_range(info).c_str());
  std::printf("  holds      %s\n",
              info.ranks > 0 ? ("per-rank counts for " + std::to_string(info.ranks) + " source ranks, and per-expert totals").c_str()
                             : "per-expert totals");
  std::vector<std::string> lacks = {"token pairs: which experts a token chooses together (affinity placement learns nothing from it)"};
  if (info.ranks == 0) lacks.push_back("per-rank counts (replay splits totals over ranks by each expert's share)");
  lacks.push_back("micro-batches (summed per record)");
  lacks.push_back("tokens dropped over capacity (counts are routed assignments)");
  for (size_t i = 0; i < lacks.size(); ++i) std::printf("  %-10s %s\n", i == 0 ? "lacks" : "", lacks[i].c_str());
  std::string recorded = info.model.empty() ? "model unknown" : "model " + info.model;
  recorded += info.top_k > 0 ? ", top-" + std::to_string(info.top_k) : ", top-k unknown";
  recorded += info.tokens_per_step > 0 ? ", " + std::to_string(info.tokens_per_step) + " tokens per step" : ", tokens per step unknown";
  if (!info.scenario.empty()) recorded += ", seed " + std::to_string(info.seed);
  std::printf("  recorded   %s\n", recorded.c_str());
  if (!info.generator.empty()) std::printf("  generator  %s\n", info.generator.c_str());
}

void print_phases(const gating::TraceInfo& info, const std::vector<std::vector<std::vector<double>>>& prop) {
  // Windows of 100 records need at least 1,000 to fit in a tenth; shorter traces use windows of
  // a tenth, and below 50 records the statistic says nothing.
  const int tenth = info.steps / 10, window = std::min(100, tenth);
  if (info.steps < 50) {
    std::printf("\n  (%d records: too few for the phase statistics, which compare the first and last tenth)\n", info.steps);
    return;
  }
  std::vector<std::vector<float>> flat(info.steps);
  for (int s = 0; s < info.steps; ++s)
    for (int l = 0; l < info.moe_layers; ++l)
      for (int e = 0; e < info.experts; ++e) flat[s].push_back(static_cast<float>(prop[l][s][e]));
  const double threshold = 0.1;
  const auto phases = policies::detect_phases(flat, {info.moe_layers, info.experts}, {window, threshold});
  std::printf("\n  variance of load proportion in windows of %d records (the prediction paper's statistic), and the phase\n", window);
  std::printf("  boundary (stable once the windowed variance stays below %.0f %% of its peak, as `moesim predict` finds it):\n",
              100 * threshold);
  std::printf("    MoE layer   first tenth    last tenth   first/last   stable from\n");
  for (int l = 0; l < info.moe_layers; ++l) {
    const double early = gating::windowed_variance(prop[l], 0, tenth, window);
    const double late = gating::windowed_variance(prop[l], info.steps - tenth, info.steps, window);
    const int from = phases[l].stable_from;
    const std::string stable = from < 0 ? "never" : "step " + std::to_string(info.first_step + static_cast<int64_t>(from) * info.stride);
    const std::string ratio = late > 0 ? [&] {
      char b[32];
      std::snprintf(b, sizeof b, "%.1fx", early / late);
      return std::string(b);
    }()
                                       : "n/a";
    std::printf("    %9d   %11.3g   %11.3g   %10s   %s\n", l, early, late, ratio.c_str(), stable.c_str());
  }
}

}  // namespace

void print_trace(const std::string& path, int ep) {
  const gating::TraceReader reader(path);
  const auto& info = reader.info();
  if (ep > 0 && info.experts % ep != 0)
    throw OptionError("--ep " + std::to_string(ep) + " does not divide the trace's " + std::to_string(info.experts) + " experts");
  if (ep == 0 && info.ranks > 0 && info.experts % info.ranks == 0) ep = info.ranks;
  std::printf("trace %s\n", path.c_str());
  print_provenance(info);
  const auto counts = all_counts(reader);
  const auto prop = proportions(info, counts);

  std::printf("\n  imbalance over training (max/mean load per record, mean over MoE layers):\n");
  print_series("experts", imbalance(info, counts, info.experts));
  if (ep > 0) {
    print_series(("GPUs, EP" + std::to_string(ep)).c_str(), imbalance(info, counts, ep));
    std::printf("    (EP%d with %d consecutive experts per GPU, as static placement puts them%s)\n", ep, info.experts / ep,
                info.ranks == ep ? "; the trace's ranks" : "");
  } else {
    std::printf("    (GPUs: give --ep N for the imbalance of N GPUs under static placement)\n");
  }
  print_phases(info, prop);

  // The four experts of layer 0 with the largest mean share.
  const int show = std::min(4, info.experts);
  std::vector<double> mean(info.experts, 0.0);
  for (const auto& row : prop[0])
    for (int e = 0; e < info.experts; ++e) mean[e] += row[e] / info.steps;
  std::vector<int> order(info.experts);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + show, order.end(), [&](int a, int b) { return mean[a] > mean[b]; });
  std::printf("\n  load share over training, MoE layer 0, busiest experts (each line scaled to its own range):\n");
  for (int i = 0; i < show; ++i) {
    const int e = order[i];
    std::vector<double> series;
    for (const auto& row : prop[0]) series.push_back(row[e]);
    std::printf("    expert %3d  %s  %5.2f%% .. %5.2f%%\n", e, sparkline(series, 60).c_str(),
                100 * *std::min_element(series.begin(), series.end()), 100 * *std::max_element(series.begin(), series.end()));
  }
}

}  // namespace moesim::cli
