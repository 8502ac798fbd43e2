// Parsing a command's options plus the one file it works on, given without an option name
// (`moesim run SCENARIO`, `moesim predict TRACE`).
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "sim/base/parallel.h"
#include "sim/cli/usage_error.h"

namespace moesim::cli {

// `visible` are the options --help shows; the file is stored under `file_key`.
inline boost::program_options::variables_map parse_with_file(const std::vector<std::string>& args,
                                                             const boost::program_options::options_description& visible,
                                                             const char* file_key) {
  namespace po = boost::program_options;
  po::options_description all = visible;
  all.add_options()(file_key, po::value<std::string>());
  po::positional_options_description positional;
  positional.add(file_key, 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  return vm;
}

// A count of threads or runs at once, `--NAME N`: N, at least 1, or the cores the process may run on.
inline int cores_option(const boost::program_options::variables_map& vm, const std::string& name) {
  const int n = vm.count(name) ? vm[name].as<int>() : available_cores();
  if (n < 1) throw OptionError("--" + name + " " + std::to_string(n) + ": expected at least 1");
  return n;
}

}  // namespace moesim::cli
