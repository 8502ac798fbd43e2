#include "sim/cli/predict_command.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "models/gating/trace_proportions.h"
#include "policies/predictors/lstm.h"
#include "policies/predictors/registry.h"
#include "results/prediction_csv.h"
#include "sim/cli/command_line.h"
#include "sim/cli/progress.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

const char* kUsage =
    "usage: moesim predict TRACE.h5 [--predictors sw_avg,arima,lstm,...] [--horizons 1,100,1000]\n"
    "                      [--train OTHER_TRACE.h5] [--csv FILE]\n"
    "Forecasts every expert's load proportion from the trace's history, with the forecast origin\n"
    "sliding along training, and prints the mean absolute error in percentage points, in the\n"
    "transient and the stable phase (as in arXiv 2404.16914).\n";

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The comma-separated integers of `list`, or nothing when an item is not an integer in [min, max].
std::optional<std::vector<int>> parse_ints(const std::string& list, long min, long max) {
  std::vector<int> out;
  for (const auto& item : split(list)) {
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != item.size() || v < min || v > max) return std::nullopt;
    out.push_back(static_cast<int>(v));
  }
  return out;
}

std::vector<int> parse_horizons(const std::string& list) {
  const auto horizons = parse_ints(list, 1, 10'000'000);
  if (!horizons) throw OptionError("--horizons: expected positive step counts, got '" + list + "'");
  if (horizons->empty()) throw OptionError("--horizons: expected at least one horizon");
  return *horizons;
}

std::string pp(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

struct TrainedOn {
  std::shared_ptr<const policies::TrainedLstm> model;
  std::string report;  // how training went, for the table's header
};

// A trace's load shares, held whole as floats, plus the predictors' histories and forecasts
// (about twice as much again): refused from the header before any of it is read.
void require_trace_memory(const std::string& path, const MemoryLimit& limit) {
  const gating::TraceInfo info = gating::TraceReader(path).info();
  const double bytes = 3.0 * info.steps * info.moe_layers * info.experts * sizeof(float);
  require_memory({{bytes,
                   "load shares, " + std::to_string(info.steps) + " steps x " + std::to_string(info.moe_layers) + " MoE layers x " +
                       std::to_string(info.experts) + " experts",
                   "the trace's steps"}},
                 1, limit, "predicting on " + path);
}

gating::Between between_of(const po::variables_map& vm) {
  const std::string b = vm["between"].as<std::string>();
  for (size_t i = 0; i < std::size(gating::kBetweenNames); ++i)
    if (gating::kBetweenNames[i] == b) return static_cast<gating::Between>(i);
  throw OptionError("--between: expected hold or linear, got '" + b + "'");
}

// Trains the lstm on the --train trace.
TrainedOn train(const po::variables_map& vm, bool show_progress) {
  policies::LstmTraining training;
  training.hidden = vm["lstm-hidden"].as<int>();
  training.iterations = vm["lstm-iterations"].as<int>();
  if (training.hidden < 1 || training.hidden > 1024) {
    throw OptionError("--lstm-hidden: expected 1 to 1024 units, got " + std::to_string(training.hidden));
  }
  if (training.iterations < 1)
    throw OptionError("--lstm-iterations: expected a positive count, got " + std::to_string(training.iterations));
  const std::string path = vm["train"].as<std::string>();
  require_trace_memory(path, memory_limit(vm));
  gating::TraceProportions trace = gating::load_proportions(path);
  gating::expand_to_training_steps(trace, between_of(vm));
  const policies::SeriesShape shape{trace.info.moe_layers, trace.info.experts};
  std::shared_ptr<const policies::TrainedLstm> model;
  {
    Progress progress(show_progress, "Adam steps, lstm");
    try {
      model = policies::train_lstm(trace.steps, shape, training, [&](int done, int total) { progress(done, total); });
    } catch (const std::invalid_argument& e) {
      throw OptionError("--train " + path + ": " + e.what());
    }
  }
  const char* format =
      "lstm: %d hidden units, trained on %s (%d steps x %d MoE layers x %d experts) for %d Adam steps;\n"
      "      loss on held windows %.4g untrained (= last value), %.4g trained\n";
  std::string report(512 + path.size(), '\0');
  report.resize(
      static_cast<size_t>(std::snprintf(report.data(), report.size(), format, training.hidden, path.c_str(), trace.info.steps, shape.layers,
                                        shape.experts, training.iterations, model->loss_before, model->loss_after)));
  return {model, report};
}

std::string label(const std::string& predictor) { return predictor == "oracle" ? "oracle (upper bound)" : predictor; }

std::string joined_names() {
  std::string list;
  for (const auto& name : policies::predictor_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

// Every predictor with its settings, for --help: from the registry, so never out of date.
std::string predictor_listing() {
  std::ostringstream out;
  out << "predictors (--param NAME.KEY=VALUE sets a key):\n";
  for (const policies::PredictorEntry* entry : policies::predictor_entries()) {
    out << "  " << entry->name << ": " << entry->summary << "\n";
    auto config = entry->defaults();
    for (const auto& doc : params::docs_of(*config)) {
      out << "      " << entry->name << "." << doc.key << " (default " << doc.default_value << "; " << doc.accepts << "): " << doc.doc
          << "\n";
    }
  }
  return out.str();
}

// The configuration of each named predictor: its defaults, then --window, --arima and --param.
std::vector<std::unique_ptr<policies::PredictorConfig>> predictor_configs(const std::vector<std::string>& names,
                                                                          const po::variables_map& vm) {
  std::vector<std::unique_ptr<policies::PredictorConfig>> configs;
  for (const auto& name : names) {
    if (!policies::find_predictor(name)) {
      throw OptionError("--predictors: unknown predictor '" + name + "' (expected one of: " + joined_names() + ")");
    }
    configs.push_back(policies::default_predictor(name));
  }
  auto set = [&](const std::string& option, const std::string& name, const std::string& key, const std::string& value) {
    bool named = false;
    for (auto& config : configs) {
      if (config->name() != name) continue;
      named = true;
      try {
        if (!params::assign(*config, key, value)) throw std::invalid_argument(name + " has no setting '" + key + "'");
      } catch (const std::invalid_argument& e) {
        throw OptionError(option + ": " + name + "." + key + ": " + e.what());
      }
    }
    return named;
  };
  const std::string window = std::to_string(vm["window"].as<int>());
  for (auto& config : configs) params::assign(*config, "window", window);  // every predictor with a window
  const std::string arima = vm["arima"].as<std::string>();
  const auto pdq = parse_ints(arima, 0, 20);
  if (!pdq || pdq->size() != 3 || (*pdq)[1] > 2) {
    throw OptionError("--arima: expected p,d,q with p, q in 0..20 and d in 0..2, got '" + arima + "'");
  }
  for (int i = 0; i < 3; ++i) set("--arima", "arima", std::string(1, "pdq"[i]), std::to_string((*pdq)[i]));
  if (vm.count("param")) {
    for (const auto& text : vm["param"].as<std::vector<std::string>>()) {
      const auto dot = text.find('.'), eq = text.find('=');
      if (dot == std::string::npos || eq == std::string::npos || dot > eq) {
        throw OptionError("--param: expected NAME.KEY=VALUE, got '" + text + "'");
      }
      const std::string name = text.substr(0, dot);
      if (!set("--param", name, text.substr(dot + 1, eq - dot - 1), text.substr(eq + 1))) {
        throw OptionError("--param: " + name + " is not among --predictors (" + vm["predictors"].as<std::string>() + ")");
      }
    }
  }
  return configs;
}

po::options_description predict_options() {
  po::options_description o("moesim predict options");
  auto add = o.add_options();
  add("help,h", "show this help");
  add("predictors", po::value<std::string>()->default_value("last_value,sw_avg,ema,holt,arima,oracle"),
      ("comma-separated, of: " + joined_names() +
       " (oracle is the upper bound: it reads the future); lstm joins the default list when --train is given")
          .c_str());
  add("horizons", po::value<std::string>()->default_value("1,100,1000"), "comma-separated training steps ahead");
  add("stride", po::value<int>()->default_value(100), "training steps between forecast origins");
  add("between", po::value<std::string>()->default_value("hold"),
      "a trace logged every N steps: hold each record for N steps or blend (linear) the two around a step");
  add("window", po::value<int>()->default_value(100), "window of sw_avg and median, in steps");
  add("arima", po::value<std::string>()->default_value("5,1,5"), "ARIMA order p,d,q");
  add("param", po::value<std::vector<std::string>>()->composing(),
      "a predictor's setting, NAME.KEY=VALUE (repeatable), e.g. ema.alpha=0.1");
  add("train", po::value<std::string>(), "trace of another run that the lstm learns from");
  add("lstm-hidden", po::value<int>()->default_value(16), "lstm hidden units");
  add("lstm-iterations", po::value<int>()->default_value(1000), "lstm training: Adam steps");
  add("phase-window", po::value<int>()->default_value(100), "window of the phase detector's variance");
  add("phase-threshold", po::value<double>()->default_value(0.1, "0.1"),
      "stable once the windowed variance stays below this share of its peak");
  add("csv", po::value<std::string>(), "write every origin's error per layer (for plots) to this CSV");
  add("quiet,q", "no progress bar");
  o.add(memory_options());
  return o;
}

void print_phases(const std::vector<policies::LayerPhase>& phases, int phase_window, double threshold) {
  std::printf("phases (variance of load proportion over %d-step windows; stable once it stays below %.0f %% of its peak):\n", phase_window,
              100 * threshold);
  for (size_t l = 0; l < phases.size(); ++l) {
    if (phases[l].stable_from >= 0)
      std::printf("  MoE layer %2zu  stable from step %d\n", l, phases[l].stable_from);
    else
      std::printf("  MoE layer %2zu  never settles\n", l);
  }
}

void print_errors(const std::vector<results::PredictorEvaluation>& evaluations, int longest, int layers) {
  std::printf("\nmean absolute error of the predicted load proportion, percentage points:\n");
  std::printf("  %-22s %8s %10s %10s %10s\n", "predictor", "horizon", "transient", "stable", "all");
  for (const auto& e : evaluations) {
    for (const auto& h : e.evaluation.horizons) {
      std::printf("  %-22s %8d %10s %10s %10s\n", label(e.predictor).c_str(), h.horizon, pp(h.transient).c_str(), pp(h.stable).c_str(),
                  pp(h.overall).c_str());
    }
  }
  std::printf("\nper MoE layer, horizon %d (all origins):\n  %-22s", longest, "predictor");
  for (int l = 0; l < layers; ++l) std::printf(" %7s%-2d", "layer ", l);
  std::printf("\n");
  for (const auto& e : evaluations) {
    const auto& h =
        *std::find_if(e.evaluation.horizons.begin(), e.evaluation.horizons.end(), [&](const auto& x) { return x.horizon == longest; });
    std::printf("  %-22s", label(e.predictor).c_str());
    for (double v : h.per_layer) std::printf(" %9s", pp(v).c_str());
    std::printf("\n");
  }
}

// On a trace logged every `every` training steps, forecasts are scored on recorded steps: the
// horizons and the spacing of origins must land on them.
void require_record_multiples(const std::vector<int>& horizons, int stride, int every) {
  for (int h : horizons)
    if (h % every)
      throw OptionError("--horizons: the trace records every " + std::to_string(every) + " training steps, so horizons are multiples of " +
                        std::to_string(every) + ", got " + std::to_string(h));
  if (stride % every)
    throw OptionError("--stride: the trace records every " + std::to_string(every) + " training steps, so origins are multiples of " +
                      std::to_string(every) + " apart, got " + std::to_string(stride));
}

// Why a trace is too short for the options, and which of them to change.
std::string short_trace_advice(const std::string& path, int steps, int window, int phase_window, int longest) {
  const int history = std::max(window, phase_window), need = history + longest;
  std::string advice = path + " has " + std::to_string(steps) + " steps: " + std::to_string(history) + " steps of history (--window " +
                       std::to_string(window) + ", --phase-window " + std::to_string(phase_window) + ") and the longest horizon (" +
                       std::to_string(longest) + " steps, --horizons) need " + std::to_string(need) + ": ";
  if (steps - history >= 1) advice += "give horizons of at most " + std::to_string(steps - history) + " steps, ";
  if (steps - longest >= 2)
    advice +=
        "shorten --window and --phase-window to at most " + std::to_string(steps - longest) + " steps (the phase window at least 2), ";
  if (steps - history < 1 && steps - longest < 2 && steps >= 3) {
    const int w = std::max(2, steps / 2), h = steps - w;
    advice += "shorten both, the windows and the longest horizon adding up to at most " + std::to_string(steps) + " (e.g. --window " +
              std::to_string(w) + " --phase-window " + std::to_string(w) + " --horizons 1," + std::to_string(h) + "), ";
  }
  return advice + "or record a trace of at least " + std::to_string(need) + " steps (moesim trace generate SCENARIO --steps " +
         std::to_string(need) + " --out FILE.h5)";
}

}  // namespace

int cmd_predict(const std::vector<std::string>& args) {
  const po::options_description o = predict_options();
  const po::variables_map vm = parse_with_file(args, o, "trace");
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << o << "\n" << predictor_listing();
    return 0;
  }
  if (!vm.count("trace")) throw UsageError("`moesim predict` needs a trace file");
  auto names = split(vm["predictors"].as<std::string>());
  if (names.empty()) throw OptionError("--predictors: expected at least one predictor");
  if (vm["predictors"].defaulted() && vm.count("train")) names.insert(std::find(names.begin(), names.end(), "oracle"), "lstm");
  const bool lstm = std::find(names.begin(), names.end(), "lstm") != names.end();
  if (lstm && !vm.count("train")) {
    throw OptionError("--predictors: lstm needs --train OTHER_TRACE.h5, a trace of another run to learn from");
  }
  const auto horizons = parse_horizons(vm["horizons"].as<std::string>());
  const int stride = vm["stride"].as<int>(), window = vm["window"].as<int>(), phase_window = vm["phase-window"].as<int>();
  if (stride < 1) throw OptionError("--stride: expected a positive step count, got " + std::to_string(stride));
  if (window < 1) throw OptionError("--window: expected a positive step count, got " + std::to_string(window));
  if (phase_window < 2) throw OptionError("--phase-window: expected at least 2 steps, got " + std::to_string(phase_window));
  const double threshold = vm["phase-threshold"].as<double>();
  if (!(threshold > 0 && threshold < 1))
    throw OptionError("--phase-threshold: expected a share in (0, 1), got " + std::to_string(threshold));

  const std::string path = vm["trace"].as<std::string>();
  // Every output is checked before the work that would fill it.
  if (vm.count("csv")) {
    std::vector<std::string> inputs = {path};
    if (vm.count("train")) inputs.push_back(vm["train"].as<std::string>());
    require_output_file("--csv", vm["csv"].as<std::string>(), files::Target::kStream, inputs);
  }
  require_trace_memory(path, memory_limit(vm));
  gating::TraceProportions trace = gating::load_proportions(path);
  // A trace logged every N training steps is filled in between and scored on its records only.
  const int every = trace.info.stride;
  gating::expand_to_training_steps(trace, between_of(vm));
  const policies::SeriesShape shape{trace.info.moe_layers, trace.info.experts};
  const int steps = static_cast<int>(trace.steps.size());
  const int longest = *std::max_element(horizons.begin(), horizons.end());
  if (every > 1) require_record_multiples(horizons, stride, every);
  // The first forecast comes after a full window of history, on a recorded step.
  const int first_origin = (std::max(window, phase_window) - 1 + every - 1) / every * every;
  if (steps < first_origin + 1 + longest) throw OptionError(short_trace_advice(path, steps, window, phase_window, longest));
  const auto configs = predictor_configs(names, vm);

  // Trained before anything is printed: a bad training trace is an error with no partial table.
  TrainedOn trained;
  policies::PredictorInputs inputs{&trace.steps, nullptr};
  if (lstm) inputs.lstm = (trained = train(vm, !vm.count("quiet"))).model;

  const auto phases = policies::detect_phases(trace.steps, shape, {phase_window, threshold});
  std::printf("moesim predict %s: %d steps x %d MoE layers x %d experts, forecast origins every %d steps from step %d\n", path.c_str(),
              steps, shape.layers, shape.experts, stride, first_origin);
  if (every > 1)
    std::printf("(a record every %d training steps, %s between records; forecasts are scored on recorded steps only)\n", every,
                between_of(vm) == gating::Between::kHold ? "held" : "blended linearly");
  print_phases(phases, phase_window, threshold);

  if (lstm) std::printf("\n%s", trained.report.c_str());
  policies::EvaluationOptions options{horizons, stride, first_origin, every};
  std::vector<results::PredictorEvaluation> evaluations;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto predictor = configs[i]->make(shape, inputs);
    Progress progress(!vm.count("quiet"), "origins, " + names[i]);
    evaluations.push_back({names[i], policies::evaluate(*predictor, trace.steps, shape, phases, options,
                                                        [&](int done, int total) { progress(done, total); })});
  }

  print_errors(evaluations, longest, shape.layers);
  if (vm.count("csv")) {
    const std::string csv = vm["csv"].as<std::string>();
    try {
      files::write_file_atomically(csv, results::prediction_errors_csv(evaluations, phases), files::Target::kStream);
    } catch (const files::FileError& e) {
      throw OptionError(std::string("--csv: ") + e.what());
    }
    std::printf("\nwrote %s\n", csv.c_str());
  }
  return 0;
}

}  // namespace moesim::cli
