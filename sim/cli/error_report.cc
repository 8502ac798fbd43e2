#include "sim/cli/error_report.h"

#include <boost/program_options/errors.hpp>

#include "models/gating/trace_h5.h"
#include "scenarios/errors.h"
#include "sim/base/units.h"
#include "sim/calibrate/nccl_tests_log.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"
#include "sim/resources.h"

namespace moesim::cli {

WorkerReport error_report(std::exception_ptr error) {
  const auto bad_input = [](const std::exception& e, const std::string& after = "") {
    return WorkerReport{kBadInput, std::string("moesim: error: ") + e.what() + after + "\n"};
  };
  try {
    std::rethrow_exception(error);
  } catch (const WorkerFailure& e) {
    return {e.status, e.what()};
  } catch (const scenarios::ScenarioError& e) {
    return bad_input(e);
  } catch (const gating::TraceError& e) {
    return bad_input(e);
  } catch (const files::FileError& e) {
    return bad_input(e);
  } catch (const calibrate::LogError& e) {
    return bad_input(e);
  } catch (const ResourceError& e) {
    return bad_input(e);
  } catch (const ClockOverflow& e) {
    return bad_input(e, ": the scenario's bandwidths, rates and sizes make one simulated task longer than that (is one far too small?)");
  } catch (const UsageError& e) {
    return bad_input(e);
  } catch (const boost::program_options::error& e) {
    return bad_input(e, " (see --help)");
  } catch (const OptionError& e) {
    return bad_input(e);
  } catch (const std::exception& e) {
    return {1, std::string("moesim: internal error: ") + e.what() + "\n"};
  } catch (...) {
    return {1, "moesim: internal error: an exception of unknown type\n"};
  }
}

}  // namespace moesim::cli
