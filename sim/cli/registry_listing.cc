#include "sim/cli/registry_listing.h"

#include <sstream>
#include <vector>

#include "hardware/fabric.h"
#include "models/gating/routing/routing_rule.h"
#include "models/gating/source_registry.h"
#include "policies/placement/registry.h"
#include "policies/predictors/registry.h"
#include "sim/network/network_model.h"
#include "sim/step/dispatcher.h"
#include "sim/step/schedule.h"

namespace moesim::cli {
namespace {

struct Row {
  std::string what;     // "gating.source: learned"
  std::string summary;  // the entry's one line
  std::vector<params::KeyDoc> keys;
  std::string prefix;  // where its keys sit: "gating.", "gating.locmoe.", "policies[]."
};

std::vector<Row> rows() {
  std::vector<Row> out;
  for (const auto* e : gating::source_entries()) {
    auto config = e->defaults({});
    out.push_back({"gating.source: " + std::string(e->name), std::string(e->summary), params::docs_of(*config), "gating."});
  }
  for (const auto* e : hardware::fabric_entries()) {
    out.push_back({"cluster.fabric.kind: " + std::string(e->name), std::string(e->summary), {}, "cluster.fabric."});
  }
  for (const auto* e : network::network_model_entries()) {
    out.push_back({"cluster.network.model: " + std::string(e->name), std::string(e->summary), {}, "cluster.network."});
  }
  for (const auto* e : schedule_entries()) {
    std::string summary(e->summary);
    if (e->interleaved) summary += "; needs parallelism.vp > 1";
    out.push_back({"schedule: " + std::string(e->name), summary, {}, ""});
  }
  for (const auto* e : dispatcher_entries()) {
    out.push_back({"dispatch.kernel: " + std::string(e->name), std::string(e->summary), {}, "dispatch."});
  }
  for (const auto* e : gating::routing_entries()) {
    auto config = e->defaults({});
    out.push_back({"gating.routing: " + std::string(e->name), std::string(e->summary), params::docs_of(*config),
                   "gating." + std::string(e->name) + "."});
  }
  for (const auto* e : policies::placement_entries()) {
    auto config = e->defaults({});
    std::string summary(e->summary);
    if (e->forecasts) summary += "; takes a predictor";
    out.push_back({"policies[].placement: " + std::string(e->name), summary, params::docs_of(*config), "policies[]."});
  }
  for (const auto* e : policies::predictor_entries()) {
    auto config = e->defaults();
    std::string summary(e->summary);
    if (!e->in_scenarios) summary += " (moesim predict only)";
    out.push_back({"policies[].predictor: " + std::string(e->name), summary, params::docs_of(*config), "policies[].predictor."});
  }
  return out;
}

// A key whose default comes from the scenario says so in its documentation, "(default: steps)":
// that is the default to show, not the value a scenario-free listing happens to compute.
params::KeyDoc shown(params::KeyDoc k) {
  const auto at = k.doc.find(" (default: ");
  if (at != std::string::npos && k.doc.back() == ')') {
    k.default_value = k.doc.substr(at + 11, k.doc.size() - at - 12);
    k.doc.erase(at);
  }
  return k;
}

// Markdown tables end a cell at every '|'.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string registry_listing(bool markdown) {
  std::ostringstream out;
  if (markdown) {
    out << "| entry | what it is | its keys (default; range) |\n|---|---|---|\n";
    for (const auto& r : rows()) {
      out << "| `" << r.what << "` | " << r.summary << " | ";
      for (size_t i = 0; i < r.keys.size(); ++i) {
        const auto k = shown(r.keys[i]);
        out << (i ? "<br>" : "") << "`" << k.key << "` (" << cell(k.default_value) << "; " << cell(k.accepts) << "): " << cell(k.doc);
      }
      out << (r.keys.empty() ? "none |\n" : " |\n");
    }
    return out.str();
  }
  for (const auto& r : rows()) {
    out << "  " << r.what << ": " << r.summary << "\n";
    for (const auto& key : r.keys) {
      const auto k = shown(key);
      out << "      " << r.prefix << k.key << " (default " << k.default_value << "; " << k.accepts << "): " << k.doc << "\n";
    }
  }
  return out.str();
}

}  // namespace moesim::cli
