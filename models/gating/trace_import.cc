#include "models/gating/trace_import.h"

#include <charconv>
#include <cmath>
#include <numeric>

#include "models/gating/routing_matrix.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

// "step 20, MoE layer 3, rank 1 (FILE: line 4)"
std::string where(const ImportedCounts& c, int record, int layer, int rank) {
  std::string s = "step " + std::to_string(c.steps[record]) + ", MoE layer " + std::to_string(layer);
  if (c.ranks > 0) s += ", rank " + std::to_string(rank);
  const std::string from = c.locate ? c.locate(record, layer, rank) : "";
  return from.empty() ? s : s + " (" + from + ")";
}

int64_t row_total(const ImportedCounts& c, int record, int layer, int rank) {
  int64_t total = 0;
  for (int e = 0; e < c.experts; ++e) total += c.at(record, layer, rank, e);
  return total;
}

void check_counts(const ImportedCounts& c, const ImportOptions& o) {
  const std::string& src = c.source;
  if (o.top_k > c.experts)
    throw TraceError(src, "--top-k",
                     "top-" + std::to_string(o.top_k) + " of " + std::to_string(c.experts) + " experts is more than there are");
  for (int s = 0; s < static_cast<int>(c.steps.size()); ++s) {
    for (int r = 0; r < c.rows(); ++r) {
      const int64_t first = row_total(c, s, 0, r);
      for (int l = 0; l < c.layers; ++l) {
        const int64_t total = l == 0 ? first : row_total(c, s, l, r);
        if (total != first) {
          throw TraceError(src, "",
                           where(c, s, l, r) + " routes " + with_commas(total) + " assignments where MoE layer 0 routes " +
                               with_commas(first) +
                               ": every MoE layer routes each of its tokens top-k times (a missing, extra or misplaced count?)");
        }
        if (o.top_k > 0 && total % o.top_k != 0) {
          throw TraceError(src, "",
                           where(c, s, l, r) + " routes " + with_commas(total) + " assignments, not a multiple of --top-k " +
                               std::to_string(o.top_k) + ": each token takes top-k of them");
        }
      }
    }
    for (int l = 0; l < c.layers; ++l) {
      int64_t layer_total = 0;
      for (int e = 0; e < c.experts; ++e) {
        int64_t expert_total = 0;
        for (int r = 0; r < c.rows(); ++r) expert_total += c.at(s, l, r, e);
        if (expert_total > INT32_MAX)
          throw TraceError(
              src, "",
              where(c, s, l, 0) + ": expert " + std::to_string(e) + " has " + with_commas(expert_total) + " assignments, over 2^31");
        layer_total += expert_total;
      }
      if (o.top_k > 0 && o.tokens_per_step > 0 && layer_total != o.tokens_per_step * o.top_k) {
        throw TraceError(src, "",
                         "step " + std::to_string(c.steps[s]) + ", MoE layer " + std::to_string(l) + " routes " + with_commas(layer_total) +
                             " assignments where --tokens-per-step " + with_commas(o.tokens_per_step) + " x --top-k " +
                             std::to_string(o.top_k) + " = " + with_commas(o.tokens_per_step * o.top_k) + ": is every rank's file there?");
      }
    }
  }
}

}  // namespace

bool parse_whole_number(const char* first, const char* last, int64_t& out) {
  auto [end, ec] = std::from_chars(first, last, out);
  if (ec == std::errc() && end == last && first != last) return true;
  double d = 0;
  auto [dend, dec] = std::from_chars(first, last, d);
  if (dec != std::errc() || dend != last || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) return false;
  out = static_cast<int64_t>(d);
  return true;
}

void ImportedCounts::resize(int record_count, int layer_count, int rank_count, int expert_count) {
  layers = layer_count;
  ranks = rank_count;
  experts = expert_count;
  counts.assign(static_cast<size_t>(record_count) * layers * rows() * experts, 0);
}

int record_stride(const std::vector<int64_t>& steps, int stated, const std::string& source) {
  if (steps.empty()) throw TraceError(source, "", "no records");
  int64_t stride = stated;
  if (stride == 0) {
    for (size_t i = 1; i < steps.size(); ++i) stride = std::gcd(stride, steps[i] - steps[i - 1]);
    if (stride == 0) stride = 1;
  }
  if (stride > (int64_t{1} << 24))
    throw TraceError(source, "", "records " + std::to_string(stride) + " training steps apart: expected at most 2^24");
  for (size_t i = 1; i < steps.size(); ++i) {
    if (steps[i] - steps[i - 1] != stride) {
      throw TraceError(source, "",
                       "records at training steps " + std::to_string(steps[i - 1]) + " and " + std::to_string(steps[i]) +
                           (stated ? " where --stride " + std::to_string(stated) + " says every " + std::to_string(stated) + " steps"
                                   : " break the spacing of " + std::to_string(stride) + " steps the others have") +
                           ": is a record missing?");
    }
  }
  return static_cast<int>(stride);
}

void write_imported_trace(const ImportedCounts& c, const ImportOptions& o, const std::string& h5_path) {
  TraceInfo info;
  info.steps = static_cast<int>(c.steps.size());
  info.moe_layers = c.layers;
  info.ranks = c.ranks;
  info.experts = c.experts;
  info.top_k = o.top_k;
  info.tokens_per_step = o.tokens_per_step;
  info.model = o.model;
  info.generator = c.generator;
  info.stride = record_stride(c.steps, o.stride, c.source);
  info.first_step = c.steps.front();
  check_counts(c, o);

  TraceWriter writer(h5_path, info);
  if (c.ranks > 0) {
    RoutingMatrix routing(c.layers, c.ranks, c.experts);
    for (int s = 0; s < info.steps; ++s) {
      for (int l = 0; l < c.layers; ++l)
        for (int r = 0; r < c.ranks; ++r) {
          auto row = routing.row(l, r);
          for (int e = 0; e < c.experts; ++e) row[e] = static_cast<int32_t>(c.at(s, l, r, e));
        }
      writer.write_step(routing);
    }
  } else {
    std::vector<int32_t> totals(static_cast<size_t>(c.layers) * c.experts);
    for (int s = 0; s < info.steps; ++s) {
      for (int l = 0; l < c.layers; ++l)
        for (int e = 0; e < c.experts; ++e) totals[static_cast<size_t>(l) * c.experts + e] = static_cast<int32_t>(c.at(s, l, 0, e));
      writer.write_step_totals(totals);
    }
  }
  writer.finish();
}

}  // namespace moesim::gating
