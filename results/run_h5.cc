#include "results/run_h5.h"

#include <H5Cpp.h>
#include <zlib.h>

#include <algorithm>
#include <vector>

#include "results/h5_file.h"
#include "sim/step/memory_model.h"

namespace moesim::results {
namespace {

// zlib's fastest level: on these tables it takes about half the instructions of level 4, and the
// files come out smaller where placements dominate (a layer's shares are mostly zeros: DeepSeek-V3
// on 256 GPUs 64 -> 50 kB) and 4 % larger where loads do (the quickstart). A run writes its file
// once; a sweep writes hundreds.
constexpr int kDeflateLevel = 1;

// Loads and placements (3 or 4 dimensions, mostly repeats and zeros) are compressed, in chunks of
// whole steps (or changes) of about 256 KiB, as traces are (at least one step a chunk). A step of a
// small model's loads is a few hundred bytes, and every chunk costs zlib a stream of its own and
// HDF5 an entry in its index: with a chunk a step, the two took a third of a 100-step sweep point.
constexpr size_t kChunkBytes = size_t{256} << 10;
bool compressed(const std::vector<hsize_t>& dims) { return dims.size() >= 3 && dims[0] > 0; }

// The steps (or changes) a compressed dataset's chunk holds.
hsize_t rows_per_chunk(const std::vector<hsize_t>& dims, size_t value_bytes) {
  size_t row_bytes = value_bytes;
  for (size_t i = 1; i < dims.size(); ++i) row_bytes *= dims[i];
  return std::clamp<hsize_t>(kChunkBytes / std::max<size_t>(row_bytes, 1), 1, dims[0]);
}

// Byte k of every value, then byte k + 1 (HDF5's shuffle filter): loads are small integers, so
// their high bytes become long runs of zeros, which deflate takes in about half the instructions
// and 10-16 % less space than the values as they are.
void shuffle_bytes(const Bytef* values, size_t count, size_t value_bytes, Bytef* out) {
  for (size_t v = 0; v < count; ++v)
    for (size_t b = 0; b < value_bytes; ++b) out[b * count + v] = values[v * value_bytes + b];
}

// Without timestamps.
H5::DSetCreatPropList properties(const std::vector<hsize_t>& dims, size_t value_bytes) {
  H5::DSetCreatPropList props = untimed_properties();
  if (compressed(dims)) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = rows_per_chunk(dims, value_bytes);
    props.setChunk(static_cast<int>(chunk.size()), chunk.data());
    props.setShuffle();
    props.setDeflate(kDeflateLevel);
  }
  return props;
}

// Each chunk shuffled and deflated here, as HDF5's filters would (zlib's compress2 at the same
// level), and written as it is: the library is built thread-safe with one lock for every call, so a sweep's
// threads would otherwise take turns compressing.
template <typename T>
void write_chunks(const H5::DataSet& ds, const std::vector<T>& values, const std::vector<hsize_t>& dims) {
  const hsize_t rows = rows_per_chunk(dims, sizeof(T));
  const size_t row_values = values.size() / dims[0], chunk_values = rows * row_values, chunk_bytes = chunk_values * sizeof(T);
  std::vector<Bytef> deflated(compressBound(static_cast<uLong>(chunk_bytes)));
  std::vector<Bytef> shuffled(chunk_bytes);
  std::vector<T> edge;  // HDF5 stores a chunk whole: the last one is padded with the fill value, 0
  std::vector<hsize_t> offset(dims.size(), 0);
  for (hsize_t first = 0; first < dims[0]; first += rows) {
    const T* chunk = values.data() + first * row_values;
    if (first + rows > dims[0]) {
      edge.assign(chunk_values, T{});
      std::copy(chunk, values.data() + values.size(), edge.begin());
      chunk = edge.data();
    }
    shuffle_bytes(reinterpret_cast<const Bytef*>(chunk), chunk_values, sizeof(T), shuffled.data());
    uLongf size = static_cast<uLongf>(deflated.size());
    if (compress2(deflated.data(), &size, shuffled.data(), static_cast<uLong>(chunk_bytes), kDeflateLevel) != Z_OK)
      throw H5::DataSetIException("write_chunks", "zlib could not deflate a chunk");
    offset[0] = first;
    if (H5Dwrite_chunk(ds.getId(), H5P_DEFAULT, 0, offset.data(), size, deflated.data()) < 0)
      throw H5::DataSetIException("write_chunks", "H5Dwrite_chunk failed");
  }
}

template <typename T>
void write(H5::Group& g, const char* name, const std::vector<T>& values, std::vector<hsize_t> dims, const H5::PredType& type) {
  const H5::DataSet ds =
      g.createDataSet(name, type, H5::DataSpace(static_cast<int>(dims.size()), dims.data()), properties(dims, sizeof(T)));
  if (values.empty()) return;
  if (compressed(dims))
    write_chunks(ds, values, dims);
  else
    ds.write(values.data(), type);
}

void write_loads(H5::Group& g, const scenarios::Scenario& s, const std::vector<int32_t>& loads) {
  const auto layers = static_cast<hsize_t>(s.model.moe_layer_count()), experts = static_cast<hsize_t>(s.model.experts);
  write(g, "expert_loads", loads, {loads.size() / (layers * experts), layers, experts}, H5::PredType::NATIVE_INT32);
}

// Placements when they change: the step, and each (layer, expert, EP rank)'s token share.
void write_placements(H5::Group& g, const scenarios::Scenario& s, const scenarios::PolicySpec& spec, const PolicyRun& p) {
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
  // The same plans in slot form, as EPLB's phy2log: each EP rank's experts in increasing order,
  // -1 for a slot it leaves empty (an expert it holds twice shows once).
  int width = experts / ep + spec.spare_slots;
  for (const auto& [step, placement] : p.placements) {
    for (const auto& layer : placement.layers) {
      std::vector<int> held(ep, 0);
      for (const auto& replicas : layer.replicas)
        for (const auto& r : replicas) width = std::max(width, ++held[r.ep_rank]);
    }
  }
  std::vector<int32_t> slots(static_cast<size_t>(changes) * layers * ep * width, -1);
  size_t change = 0;
  for (const auto& [step, placement] : p.placements) {
    for (int l = 0; l < layers; ++l) {
      std::vector<int> filled(ep, 0);
      for (int e = 0; e < experts; ++e) {
        for (const auto& r : placement.layers[l].replicas[e]) {
          slots[((change * layers + l) * ep + r.ep_rank) * width + filled[r.ep_rank]++] = e;
        }
      }
    }
    ++change;
  }
  write(g, "placement_slots", slots, {changes, hsize_t(layers), hsize_t(ep), hsize_t(width)}, H5::PredType::NATIVE_INT32);
}

void write_policy(H5::Group& g, const scenarios::Scenario& s, const scenarios::PolicySpec& spec, const PolicyRun& p) {
  text_attribute(g, "label", p.label);
  double_attribute(g, "peak_memory_bytes", gpu_memory(step_config(s, spec.migration, spec.spare_slots)).peak().total());
  const hsize_t steps = p.steps.size();
  const int gpus = s.cluster.gpu_count();
  std::vector<double> step_ms, busy_ms, imbalance, migration_gb, migration_ms, a2a_ms, a2a_intra_gb, a2a_inter_gb, bubble_ms, exposed_ms;
  std::vector<int64_t> dropped, assignments;
  for (const StepResult& r : p.steps) {
    step_ms.push_back(r.step_time / Milliseconds(1));
    for (Duration d : r.compute_busy) busy_ms.push_back(d / Milliseconds(1));
    imbalance.push_back(r.imbalance);
    migration_gb.push_back(r.migration_bytes.count() / 1e9);
    migration_ms.push_back(r.migration_time / Milliseconds(1));
    a2a_ms.push_back(r.all_to_all_time / Milliseconds(1));
    bubble_ms.push_back(r.bubble / Milliseconds(1));
    exposed_ms.push_back(r.exposed_comm / Milliseconds(1));
    a2a_intra_gb.push_back(r.a2a_intra_node.count() / 1e9);
    a2a_inter_gb.push_back(r.a2a_inter_node.count() / 1e9);
    dropped.push_back(r.dropped);
    assignments.push_back(r.assignments);
  }
  const auto f64 = H5::PredType::NATIVE_DOUBLE;
  const auto i64 = H5::PredType::NATIVE_INT64;
  write(g, "step_ms", step_ms, {steps}, f64);
  write(g, "gpu_busy_ms", busy_ms, {steps, hsize_t(gpus)}, f64);
  write(g, "imbalance", imbalance, {steps}, f64);
  write(g, "all_to_all_ms", a2a_ms, {steps}, f64);
  write(g, "bubble_ms", bubble_ms, {steps}, f64);
  write(g, "exposed_comm_ms", exposed_ms, {steps}, f64);
  write(g, "a2a_intra_node_gb", a2a_intra_gb, {steps}, f64);
  write(g, "a2a_inter_node_gb", a2a_inter_gb, {steps}, f64);
  write(g, "dropped", dropped, {steps}, i64);
  write(g, "assignments", assignments, {steps}, i64);
  write(g, "migration_gb", migration_gb, {steps}, f64);
  write(g, "migration_ms", migration_ms, {steps}, f64);

  std::vector<int32_t> plan_step, plan_steps;
  std::vector<double> plan_error;
  for (const auto& f : p.forecast_scores) {
    plan_step.push_back(f.first_step);
    plan_steps.push_back(f.steps);
    plan_error.push_back(f.error_pp);
  }
  const hsize_t plans = plan_step.size();
  write(g, "forecast_first_step", plan_step, {plans}, H5::PredType::NATIVE_INT32);
  write(g, "forecast_steps", plan_steps, {plans}, H5::PredType::NATIVE_INT32);
  write(g, "forecast_error_pp", plan_error, {plans}, f64);
  if (!p.expert_loads.empty()) write_loads(g, s, p.expert_loads);

  write_placements(g, s, spec, p);
}

}  // namespace

void write_run_h5(const std::string& path, const scenarios::Scenario& s, const RunResult& run, const std::string& resolved_yaml) {
  write_h5_atomically(path, [&](H5::H5File& file) { fill_run_h5(file, s, run, resolved_yaml); });
}

void fill_run_h5(H5::H5File& file, const scenarios::Scenario& s, const RunResult& run, const std::string& resolved_yaml) {
  H5::Group root = file.openGroup("/");
  text_attribute(root, "format", std::string("moesim-run"));
  int_attribute(root, "version", 3);
  text_attribute(root, "moesim_version", std::string(MOESIM_VERSION));
  text_attribute(root, "scenario", s.name);
  text_attribute(root, "scenario_yaml", resolved_yaml);
  int_attribute(root, "seed", static_cast<int64_t>(s.seed));
  int_attribute(root, "gpus", static_cast<int64_t>(s.cluster.gpu_count()));
  int_attribute(root, "gpus_per_node", static_cast<int64_t>(s.cluster.gpus_per_node));
  int_attribute(root, "tokens_per_step", s.training.tokens_per_step);
  double_attribute(root, "model_flops_per_token", models::training_flops_per_token(s.model, s.training.seq_len).count());
  double_attribute(root, "bf16_peak_flops", s.cluster.gpu.bf16_peak.per_second());
  if (!run.expert_loads.empty()) write_loads(root, s, run.expert_loads);
  H5::Group policies = untimed_group(root, "policies");
  for (size_t i = 0; i < run.policies.size(); ++i) {
    H5::Group g = untimed_group(policies, std::to_string(i));
    write_policy(g, s, s.policies[i], run.policies[i]);
  }
}

}  // namespace moesim::results
