#include <boost/program_options.hpp>

#include <iostream>

#include "models/gating/trace_csv.h"
#include "models/gating/trace_import.h"
#include "models/gating/trace_tables.h"
#include "models/gating/trace_torch.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/trace_commands.h"
#include "sim/cli/usage_error.h"

namespace po = boost::program_options;

namespace moesim::cli {

const char* const kTraceImportFormats =
    "formats:\n"
    "  csv      one CSV with the header step,layer,expert,tokens in any order, rank and microbatch\n"
    "           optional; counts may be integral floats (5.0); the steps are the logged training steps\n"
    "  tables   one text file per logged iteration and rank (--pattern, default\n"
    "           table_iter{step}_rank{rank}.log), a line per MoE layer with a bracketed list of counts\n"
    "           per micro-batch: [[5.0, 0.0, ...], [...]]\n"
    "  sglang   SGLang's expert distribution recorder dumps, stat mode (expert_distribution_recorder_*.pt):\n"
    "           each forward pass a record, dense layers dropped\n"
    "  hf-router-logits\n"
    "           Hugging Face router logits saved with torch.save(outputs.router_logits, ...), a file per\n"
    "           logged step (--pattern, default router_logits_step{step}.pt, {rank} optional); needs --top-k\n";

int trace_import(const std::vector<std::string>& args) {
  po::options_description o("moesim trace import options");
  o.add_options()("help,h", "show this help")("out", po::value<std::string>()->value_name("TRACE.h5"), "trace to write (required)")(
      "top-k", po::value<int64_t>()->value_name("K"), "experts per token: checked against every total, recorded")(
      "tokens-per-step", po::value<int64_t>()->value_name("T"), "tokens of one training step, all ranks: checked with --top-k, recorded")(
      "stride", po::value<int64_t>()->value_name("N"), "training steps between records (default: the records' own spacing)")(
      "pattern", po::value<std::string>()->value_name("NAME"), "tables, hf-router-logits: file names, with {step} and {rank}")(
      "model", po::value<std::string>()->value_name("NAME"), "model name to record");
  po::options_description all = o;
  all.add_options()("format", po::value<std::string>())("input", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("format", 1).add("input", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: moesim trace import FORMAT INPUT... --out TRACE.h5 [options]\n\n" << kTraceImportFormats << "\n" << o;
    return 0;
  }
  if (!vm.count("format") || !vm.count("input") || !vm.count("out"))
    throw UsageError("`moesim trace import` needs a format (csv, tables, sglang or hf-router-logits), its inputs and --out TRACE.h5");
  const std::string format = vm["format"].as<std::string>(), out = vm["out"].as<std::string>();
  const auto inputs = vm["input"].as<std::vector<std::string>>();
  gating::ImportOptions options;
  const auto positive = [&](const char* name, int64_t max) -> int64_t {
    if (!vm.count(name)) return 0;
    const int64_t v = vm[name].as<int64_t>();
    if (v < 1 || v > max)
      throw OptionError("--" + std::string(name) + " must be from 1 to " + std::to_string(max) + ", got " + std::to_string(v));
    return v;
  };
  options.top_k = static_cast<int>(positive("top-k", 65536));
  options.tokens_per_step = positive("tokens-per-step", int64_t{1} << 40);
  options.stride = static_cast<int>(positive("stride", 1 << 24));
  if (vm.count("model")) options.model = vm["model"].as<std::string>();

  if (vm.count("pattern") && format != "tables" && format != "hf-router-logits")
    throw OptionError("--pattern names the files of tables and hf-router-logits, not of " + format);
  const auto pattern = [&](const char* fallback) { return vm.count("pattern") ? vm["pattern"].as<std::string>() : std::string(fallback); };
  const bool known = format == "csv" || format == "tables" || format == "sglang" || format == "hf-router-logits";
  if (!known) throw OptionError("unknown trace format '" + format + "' (csv, tables, sglang or hf-router-logits)");
  if (format == "csv" && inputs.size() != 1) throw UsageError("`moesim trace import csv` takes one CSV file");
  if (format == "hf-router-logits" && !options.top_k) throw OptionError("hf-router-logits needs --top-k: the experts each token takes");
  require_output_file("--out", out, files::Target::kFile, inputs);
  gating::ImportedCounts counts;
  if (format == "csv") {
    counts = gating::read_csv_counts(inputs[0], gating::CsvSteps::kAsLogged);
  } else if (format == "tables") {
    counts = gating::read_count_tables(inputs, pattern(gating::kDefaultTablePattern));
  } else if (format == "sglang") {
    counts = gating::read_sglang_dumps(inputs);
  } else {
    counts = gating::read_router_logits(inputs, pattern(gating::kDefaultRouterLogitsPattern), options.top_k);
  }
  gating::write_imported_trace(counts, options, out);
  std::printf("imported %d records to %s\n\n", static_cast<int>(counts.steps.size()), out.c_str());
  print_trace(out);
  return 0;
}

}  // namespace moesim::cli
