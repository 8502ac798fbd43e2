#include "policies/predictors/registry.h"

#include <stdexcept>

#include "sim/base/registry.h"

namespace moesim::policies {

const PredictorEntry* find_predictor(std::string_view name) { return registry::find(predictor_entries(), name); }

std::vector<std::string> predictor_names() { return registry::names(predictor_entries()); }

std::unique_ptr<PredictorConfig> default_predictor(std::string_view name) {
  if (const PredictorEntry* entry = find_predictor(name)) return entry->defaults();
  std::string known;
  for (const auto& n : predictor_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown predictor '" + std::string(name) + "' (expected one of: " + known + ")");
}

std::unique_ptr<Predictor> make_predictor(std::string_view name, const SeriesShape& shape, const PredictorInputs& inputs,
                                          const std::vector<params::KeyValue>& settings) {
  auto config = default_predictor(name);
  for (const auto& [key, value] : settings) {
    if (!params::assign(*config, key, value)) {
      throw std::invalid_argument(std::string(name) + " has no setting '" + key + "'");
    }
  }
  return config->make(shape, inputs);
}

}  // namespace moesim::policies
