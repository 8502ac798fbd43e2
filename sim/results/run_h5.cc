#include "sim/results/run_h5.h"

#include <H5Cpp.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace moesim::results {
namespace {

// Without timestamps. Placements (4 dimensions, mostly zeros) are compressed, one change per chunk.
H5::DSetCreatPropList properties(const std::vector<hsize_t>& dims) {
  H5::DSetCreatPropList props;
  H5Pset_obj_track_times(props.getId(), false);
  if (dims.size() >= 3 && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = 1;
    props.setChunk(static_cast<int>(chunk.size()), chunk.data());
    props.setDeflate(4);
  }
  return props;
}

template <typename T>
void write(H5::Group& g, const char* name, const std::vector<T>& values, std::vector<hsize_t> dims, const H5::PredType& type) {
  const H5::DataSet ds = g.createDataSet(name, type, H5::DataSpace(static_cast<int>(dims.size()), dims.data()), properties(dims));
  if (!values.empty()) ds.write(values.data(), type);
}

void attribute(H5::H5Object& o, const char* name, const std::string& v) {
  const H5::StrType type(H5::PredType::C_S1, v.empty() ? 1 : v.size());
  o.createAttribute(name, type, H5::DataSpace()).write(type, v.empty() ? std::string(" ") : v);
}

void attribute(H5::H5Object& o, const char* name, int64_t v) {
  o.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace()).write(H5::PredType::NATIVE_INT64, &v);
}

void write_policy(H5::Group& g, const scenarios::Scenario& s, const PolicyRun& p) {
  attribute(g, "label", p.label);
  const hsize_t steps = p.steps.size();
  const int gpus = s.cluster.gpu_count();
  std::vector<double> step_ms, busy_ms, imbalance, migration_gb, migration_ms;
  for (const StepResult& r : p.steps) {
    step_ms.push_back(r.step_time / Milliseconds(1));
    for (Duration d : r.compute_busy) busy_ms.push_back(d / Milliseconds(1));
    imbalance.push_back(r.imbalance);
    migration_gb.push_back(r.migration_bytes.count() / 1e9);
    migration_ms.push_back(r.migration_time / Milliseconds(1));
  }
  const auto f64 = H5::PredType::NATIVE_DOUBLE;
  write(g, "step_ms", step_ms, {steps}, f64);
  write(g, "gpu_busy_ms", busy_ms, {steps, hsize_t(gpus)}, f64);
  write(g, "imbalance", imbalance, {steps}, f64);
  write(g, "migration_gb", migration_gb, {steps}, f64);
  write(g, "migration_ms", migration_ms, {steps}, f64);

  // Placements when they change: the step, and each (layer, expert, EP rank)'s token share.
  const int layers = s.model.moe_layer_count(), experts = s.model.experts, ep = s.parallelism.ep;
  std::vector<int32_t> at;
  std::vector<float> share;
  for (const auto& [step, placement] : p.placements) {
    at.push_back(step);
    const size_t first = share.size();
    share.resize(first + static_cast<size_t>(layers) * experts * ep, 0.0f);
    for (int l = 0; l < layers; ++l) {
      for (int e = 0; e < experts; ++e) {
        for (const auto& r : placement.layers[l].replicas[e]) {
          share[first + (static_cast<size_t>(l) * experts + e) * ep + r.ep_rank] += static_cast<float>(r.share);
        }
      }
    }
  }
  const hsize_t changes = at.size();
  write(g, "placement_steps", at, {changes}, H5::PredType::NATIVE_INT32);
  write(g, "placement_share", share, {changes, hsize_t(layers), hsize_t(experts), hsize_t(ep)}, H5::PredType::NATIVE_FLOAT);
}

struct QuietHdf5 {
  QuietHdf5() { H5::Exception::dontPrint(); }
};

}  // namespace

void write_run_h5(const std::string& path, const scenarios::Scenario& s, const RunResult& run) {
  static const QuietHdf5 quiet;
  const std::string temporary = path + ".tmp";
  try {
    H5::FileCreatPropList create;
    H5::H5File file(temporary, H5F_ACC_TRUNC, create);
    H5::Group root = file.openGroup("/");
    attribute(root, "format", std::string("moesim-run"));
    attribute(root, "version", int64_t{1});
    attribute(root, "scenario", s.name);
    attribute(root, "seed", static_cast<int64_t>(s.seed));
    H5::Group policies = file.createGroup("policies");
    for (size_t i = 0; i < run.policies.size(); ++i) {
      H5::Group g = policies.createGroup(std::to_string(i));
      write_policy(g, s, run.policies[i]);
    }
  } catch (const H5::Exception& e) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + " (" + e.getDetailMsg() + ")");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + " (" + ec.message() + ")");
  }
}

}  // namespace moesim::results
