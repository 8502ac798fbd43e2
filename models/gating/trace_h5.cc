#include "models/gating/trace_h5.h"

#include <H5Cpp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "sim/files/output_file.h"

namespace moesim::gating {
namespace {

constexpr const char* kRankCounts = "rank_counts";
constexpr const char* kExpertCounts = "expert_counts";

struct QuietHdf5 {
  QuietHdf5() { H5::Exception::dontPrint(); }
};
const QuietHdf5 quiet;

void write_attr(H5::H5File& f, const char* name, int64_t v) {
  f.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace()).write(H5::PredType::NATIVE_INT64, &v);
}
void write_attr(H5::H5File& f, const char* name, const std::string& v) {
  const H5::StrType type(H5::PredType::C_S1, v.empty() ? 1 : v.size());
  f.createAttribute(name, type, H5::DataSpace()).write(type, v.empty() ? std::string(" ") : v);
}

std::optional<int64_t> read_int_attr(const H5::H5File& f, const char* name) {
  if (!f.attrExists(name)) return std::nullopt;
  int64_t v = 0;
  f.openAttribute(name).read(H5::PredType::NATIVE_INT64, &v);
  return v;
}
std::string read_str_attr(const H5::H5File& f, const char* name) {
  if (!f.attrExists(name)) return "";
  const H5::Attribute a = f.openAttribute(name);
  std::string v;
  a.read(a.getStrType(), v);
  return v == " " ? "" : v;
}

// HDF5's latest file format: every piece of metadata (superblock, object headers, chunk indexes)
// carries a checksum, which libhdf5 verifies before it parses it.
H5::FileAccPropList checksummed_format() {
  H5::FileAccPropList access;
  access.setLibverBounds(H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  return access;
}

// The superblock version of an HDF5 file (its signature may follow a user block of 512 x 2^n
// bytes), or -1 when there is none. Versions 0 and 1 carry no checksums.
int superblock_version(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  for (std::streamoff at = 0; at <= (std::streamoff{1} << 40); at = at == 0 ? 512 : at * 2) {
    char head[9] = {};
    in.clear();
    in.seekg(at);
    if (!in.read(head, sizeof head)) return -1;
    if (std::equal(head, head + 8, kSignature)) return static_cast<unsigned char>(head[8]);
  }
  return -1;
}

// Steps per chunk: chunks of about 256 KiB, so that a trace of many small steps is neither a
// chunk per step on disk nor a write call per step.
hsize_t chunk_steps(const std::vector<hsize_t>& step_shape) {
  hsize_t per_step = 1;
  for (hsize_t d : step_shape) per_step *= d;
  return std::max<hsize_t>(1, 65536 / std::max<hsize_t>(1, per_step));
}

// An extendible int32 dataset whose first dimension is the step.
H5::DataSet create_steps(H5::H5File& f, const char* name, std::vector<hsize_t> step_shape) {
  std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{chunk_steps(step_shape)};
  for (hsize_t d : step_shape) {
    dims.push_back(d);
    max.push_back(d);
    chunk.push_back(d);
  }
  H5::DSetCreatPropList props;
  props.setChunk(static_cast<int>(chunk.size()), chunk.data());
  props.setDeflate(4);
  props.setFletcher32();                         // a damaged chunk is an error, not wrong counts
  H5Pset_obj_track_times(props.getId(), false);  // the same gating gives the same bytes
  return f.createDataSet(name, H5::PredType::NATIVE_INT32, H5::DataSpace(static_cast<int>(dims.size()), dims.data(), max.data()), props);
}

// The file space of `ds` with step `step` selected, and a memory space for one step.
struct StepSelection {
  H5::DataSpace file, memory;
  hsize_t values = 1;  // per step
};
StepSelection select_step(const H5::DataSet& ds, int step) {
  StepSelection sel{ds.getSpace(), H5::DataSpace(), 1};
  std::vector<hsize_t> dims(sel.file.getSimpleExtentNdims());
  sel.file.getSimpleExtentDims(dims.data());
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = static_cast<hsize_t>(step);
  count[0] = 1;
  sel.file.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
  sel.memory = H5::DataSpace(static_cast<int>(count.size()), count.data());
  for (size_t i = 1; i < count.size(); ++i) sel.values *= count[i];
  return sel;
}

// Steps appended to a dataset a chunk at a time.
// Holds the dataset by its C handle: the C++ wrapper's destructor prints to stderr when a close
// fails (a full disk), and an abandoned trace's close is expected to fail quietly.
class StepAppender {
 public:
  StepAppender() = default;
  StepAppender(const H5::DataSet& ds, std::vector<hsize_t> step_shape) : ds_(ds.getId()), batch_(chunk_steps(step_shape)) {
    H5Iinc_ref(ds_);
    for (hsize_t d : step_shape) per_step_ *= d;
  }
  StepAppender(const StepAppender&) = delete;
  StepAppender& operator=(StepAppender&& other) noexcept {
    std::swap(ds_, other.ds_);
    per_step_ = other.per_step_;
    batch_ = other.batch_;
    pending_.swap(other.pending_);
    return *this;
  }
  ~StepAppender() {
    if (ds_ >= 0) H5Dclose(ds_);
  }
  void add(const int32_t* step) {
    pending_.insert(pending_.end(), step, step + per_step_);
    if (pending_.size() == per_step_ * batch_) flush();
  }
  void flush() {
    if (pending_.empty()) return;
    H5::DataSet ds(ds_);  // a reference of its own, for the C++ API's calls
    const H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(dims.data());
    const hsize_t first = dims[0], count = pending_.size() / per_step_;
    dims[0] = first + count;
    ds.extend(dims.data());
    H5::DataSpace file = ds.getSpace();
    std::vector<hsize_t> start(dims.size(), 0), extent = dims;
    start[0] = first;
    extent[0] = count;
    file.selectHyperslab(H5S_SELECT_SET, extent.data(), start.data());
    ds.write(pending_.data(), H5::PredType::NATIVE_INT32, H5::DataSpace(static_cast<int>(extent.size()), extent.data()), file);
    pending_.clear();
  }
  void close() {
    flush();
    const hid_t id = std::exchange(ds_, H5I_INVALID_HID);
    if (H5Dclose(id) < 0) throw H5::DataSetIException("StepAppender::close", "H5Dclose failed");
  }

 private:
  hid_t ds_ = H5I_INVALID_HID;
  size_t per_step_ = 1;
  hsize_t batch_ = 1;
  std::vector<int32_t> pending_;
};

}  // namespace

struct TraceWriter::Impl {
  explicit Impl(const std::string& target) : path(target), temporary(target) {}
  std::string path;
  files::Temporary temporary;
  TraceInfo info;
  H5::H5File file;
  StepAppender ranks, totals;
  int steps = 0;
  bool finished = false;
  std::vector<int32_t> scratch;
};

TraceWriter::TraceWriter(const std::string& path, const TraceInfo& info) {
  try {
    files::check_target(path, files::Target::kFile);
    impl_ = std::make_unique<Impl>(path);
  } catch (const files::FileError& e) {
    throw TraceError(path, "", e.what());
  }
  impl_->info = info;
  try {
    H5::FileCreatPropList creation;
    H5Pset_obj_track_times(creation.getId(), false);
    impl_->file = H5::H5File(impl_->temporary.path(), H5F_ACC_TRUNC, creation, checksummed_format());
    if (info.ranks > 0) {
      const std::vector<hsize_t> shape = {hsize_t(info.moe_layers), hsize_t(info.ranks), hsize_t(info.experts)};
      impl_->ranks = StepAppender(create_steps(impl_->file, kRankCounts, shape), shape);
    }
    const std::vector<hsize_t> shape = {hsize_t(info.moe_layers), hsize_t(info.experts)};
    impl_->totals = StepAppender(create_steps(impl_->file, kExpertCounts, shape), shape);
    write_attr(impl_->file, "format", std::string("moesim-trace"));
    write_attr(impl_->file, "version", int64_t{1});
    write_attr(impl_->file, "model", info.model);
    write_attr(impl_->file, "top_k", int64_t{info.top_k});
    write_attr(impl_->file, "tokens_per_step", info.tokens_per_step);
    write_attr(impl_->file, "seed", static_cast<int64_t>(info.seed));
    write_attr(impl_->file, "generator", info.generator);
    write_attr(impl_->file, "scenario", info.scenario);
    write_attr(impl_->file, "stride", int64_t{info.stride});
    write_attr(impl_->file, "first_step", info.first_step);
  } catch (const H5::Exception& e) {
    throw TraceError(path, "", "cannot create the trace (" + e.getDetailMsg() + ")");
  }
}

TraceWriter::~TraceWriter() {
  if (impl_ && !impl_->finished) {
    try {
      impl_->file.close();
    } catch (...) {}
  }
}

void TraceWriter::write_step(const RoutingMatrix& routing) {
  auto& t = *impl_;
  t.scratch.assign(static_cast<size_t>(t.info.moe_layers) * t.info.experts, 0);
  for (int l = 0; l < t.info.moe_layers; ++l) {
    const auto loads = routing.expert_loads(l);
    for (int e = 0; e < t.info.experts; ++e) t.scratch[static_cast<size_t>(l) * t.info.experts + e] = static_cast<int32_t>(loads[e]);
  }
  std::vector<int32_t> all;
  if (t.info.ranks > 0) {
    all.reserve(static_cast<size_t>(t.info.moe_layers) * t.info.ranks * t.info.experts);
    for (int l = 0; l < t.info.moe_layers; ++l)
      for (int r = 0; r < t.info.ranks; ++r) {
        const auto row = routing.row(l, r);
        all.insert(all.end(), row.begin(), row.end());
      }
  }
  try {
    if (t.info.ranks > 0) t.ranks.add(all.data());
    t.totals.add(t.scratch.data());
  } catch (const H5::Exception& e) {
    throw TraceError(t.path, "", "cannot write the trace (" + e.getDetailMsg() + ")");
  }
  ++t.steps;
}

void TraceWriter::write_step_totals(const std::vector<int32_t>& totals) {
  if (impl_->info.ranks > 0) throw std::logic_error("TraceWriter: a trace with per-rank counts is written with write_step");
  try {
    impl_->totals.add(totals.data());
  } catch (const H5::Exception& e) {
    throw TraceError(impl_->path, "", "cannot write the trace (" + e.getDetailMsg() + ")");
  }
  ++impl_->steps;
}

void TraceWriter::finish() {
  auto& t = *impl_;
  try {
    if (t.info.ranks > 0) t.ranks.close();
    t.totals.close();
    t.file.close();
  } catch (const H5::Exception& e) {
    throw TraceError(t.path, "", "cannot write the trace (" + e.getDetailMsg() + ")");
  }
  try {
    t.temporary.commit();
  } catch (const files::FileError& e) {
    throw TraceError(t.path, "", e.what());
  }
  t.finished = true;
}

namespace {
// Steps are read a block at a time: a read per step costs more than the step's bytes.
struct StepBlock {
  int first = 0, steps = 0;
  size_t per_step = 0;          // counts per step, from the dataset's extent (0: not read yet)
  std::vector<int64_t> values;  // as stored, before their range check
};
}  // namespace

struct TraceReader::Impl {
  std::string path;
  TraceInfo info;
  H5::H5File file;
  H5::DataSet ranks, totals;
  bool has_ranks = false;
  mutable StepBlock ranks_block, totals_block;
};

namespace {

// The largest extents a trace may declare: what the scenario loader accepts, so that a header
// (which costs a few bytes to write) cannot ask for more than a real run could use.
constexpr hsize_t kMaxSteps = hsize_t{1} << 24;
constexpr hsize_t kMaxLayers = 4096;
constexpr hsize_t kMaxRanks = hsize_t{1} << 24;
constexpr hsize_t kMaxExperts = 65536;
constexpr hsize_t kMaxValuesPerStep = hsize_t{1} << 30;

// Checks that a counts dataset is an integer array of rank `dims` within the extents above;
// returns its shape.
std::vector<hsize_t> shape_of(const std::string& path, const H5::DataSet& ds, const char* name, std::vector<const char*> axes) {
  if (ds.getTypeClass() != H5T_INTEGER) throw TraceError(path, name, "expected integer token counts, got a non-integer dataset");
  const H5::DataSpace space = ds.getSpace();
  const int dims = static_cast<int>(axes.size());
  if (!space.isSimple() || space.getSimpleExtentNdims() != dims) {
    throw TraceError(path, name, "expected " + std::to_string(dims) + " dimensions, got " + std::to_string(space.getSimpleExtentNdims()));
  }
  std::vector<hsize_t> shape(static_cast<size_t>(dims));
  space.getSimpleExtentDims(shape.data());
  hsize_t per_step = 1;
  for (int i = 0; i < dims; ++i) {
    const std::string axis = axes[static_cast<size_t>(i)];
    const hsize_t limit = axis == "steps" ? kMaxSteps : axis == "layers" ? kMaxLayers : axis == "ranks" ? kMaxRanks : kMaxExperts;
    if (shape[i] > limit) {
      throw TraceError(
          path, name,
          "declares " + std::to_string(shape[i]) + " " + axis + ", more than the " + std::to_string(limit) + " a trace may hold");
    }
    if (i > 0) per_step *= shape[i];
  }
  if (per_step > kMaxValuesPerStep) {
    throw TraceError(path, name,
                     "declares " + std::to_string(per_step) + " counts per step, more than " + std::to_string(kMaxValuesPerStep));
  }
  return shape;
}

}  // namespace

TraceReader::TraceReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  auto& t = *impl_;
  t.path = path;
  if (!std::filesystem::exists(path)) throw TraceError(path, "", "no such file");
  if (std::filesystem::is_directory(path)) throw TraceError(path, "", "is a directory, expected an HDF5 trace file");
  try {
    const int superblock = superblock_version(path);
    if (superblock < 0) throw TraceError(path, "", "not an HDF5 file");
    // libhdf5 1.10 is not safe on damaged metadata it cannot check (found by fuzzing: reads past
    // buffers, leaks): only files whose metadata carries checksums are opened.
    if (superblock < 2) {
      throw TraceError(path, "",
                       "written in HDF5's earliest file format (superblock version " + std::to_string(superblock) +
                           "), whose metadata carries no checksums, so a damaged file cannot be told from a good one; "
                           "rewrite it with `h5repack --latest IN OUT` (hdf5-tools), or write it with h5py's libver='latest'");
    }
    t.file = H5::H5File(path, H5F_ACC_RDONLY);
    t.has_ranks = t.file.nameExists(kRankCounts);
    if (!t.has_ranks && !t.file.nameExists(kExpertCounts)) {
      throw TraceError(path, "", "expected a dataset /rank_counts or /expert_counts, found neither");
    }
    if (t.has_ranks) {
      t.ranks = t.file.openDataSet(kRankCounts);
      const auto s = shape_of(path, t.ranks, "/rank_counts", {"steps", "layers", "ranks", "experts"});
      t.info.steps = static_cast<int>(s[0]);
      t.info.moe_layers = static_cast<int>(s[1]);
      t.info.ranks = static_cast<int>(s[2]);
      t.info.experts = static_cast<int>(s[3]);
    }
    if (t.file.nameExists(kExpertCounts)) {
      t.totals = t.file.openDataSet(kExpertCounts);
      const auto s = shape_of(path, t.totals, "/expert_counts", {"steps", "layers", "experts"});
      if (t.has_ranks && (static_cast<int>(s[0]) != t.info.steps || static_cast<int>(s[1]) != t.info.moe_layers ||
                          static_cast<int>(s[2]) != t.info.experts)) {
        throw TraceError(path, "/expert_counts", "shape does not match /rank_counts");
      }
      t.info.steps = static_cast<int>(s[0]);
      t.info.moe_layers = static_cast<int>(s[1]);
      t.info.experts = static_cast<int>(s[2]);
    }
    const int64_t top_k = read_int_attr(t.file, "top_k").value_or(0);
    if (top_k < 0 || top_k > t.info.experts) {
      throw TraceError(path, "top_k",
                       "expected 0 (unknown) to the " + std::to_string(t.info.experts) + " experts, got " + std::to_string(top_k));
    }
    t.info.top_k = static_cast<int>(top_k);
    t.info.tokens_per_step = read_int_attr(t.file, "tokens_per_step").value_or(0);
    if (t.info.tokens_per_step < 0)
      throw TraceError(path, "tokens_per_step", "expected 0 (unknown) or more, got " + std::to_string(t.info.tokens_per_step));
    t.info.seed = static_cast<uint64_t>(read_int_attr(t.file, "seed").value_or(0));
    t.info.model = read_str_attr(t.file, "model");
    t.info.generator = read_str_attr(t.file, "generator");
    t.info.scenario = read_str_attr(t.file, "scenario");
    const int64_t stride = read_int_attr(t.file, "stride").value_or(1);
    if (stride < 1 || stride > (int64_t{1} << 24))
      throw TraceError(path, "stride", "expected 1 to 2^24 training steps between records, got " + std::to_string(stride));
    t.info.stride = static_cast<int>(stride);
    t.info.first_step = read_int_attr(t.file, "first_step").value_or(0);
    if (t.info.first_step < 0 || t.info.first_step > (int64_t{1} << 40))
      throw TraceError(path, "first_step", "expected a training step from 0 to 2^40, got " + std::to_string(t.info.first_step));
  } catch (const H5::Exception& e) {
    throw TraceError(path, "", "cannot read the trace (" + e.getDetailMsg() + ")");
  }
  if (t.info.steps <= 0 || t.info.moe_layers <= 0 || t.info.experts <= 0) throw TraceError(path, "", "the trace is empty");
}

TraceReader::~TraceReader() = default;

const TraceInfo& TraceReader::info() const { return impl_->info; }

namespace {

// Read as 64-bit, whatever the stored integer type, so that no count is clipped on the way:
// each must be a count a 32-bit routing matrix holds.
void read_step(const std::string& path, const H5::DataSet& ds, const char* name, int step, int total_steps, StepBlock& block,
               int32_t* out) {
  if (block.per_step == 0) block.per_step = select_step(ds, step).values;
  const size_t per_step = block.per_step;
  if (step < block.first || step >= block.first + block.steps) {
    block.first = step;
    block.steps =
        static_cast<int>(std::min<size_t>(static_cast<size_t>(total_steps - step), std::max<size_t>(1, (size_t{1} << 20) / per_step)));
    H5::DataSpace file = ds.getSpace();
    std::vector<hsize_t> dims(static_cast<size_t>(file.getSimpleExtentNdims()));
    file.getSimpleExtentDims(dims.data());
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = static_cast<hsize_t>(step);
    count[0] = static_cast<hsize_t>(block.steps);
    file.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    block.values.resize(per_step * static_cast<size_t>(block.steps));
    try {
      ds.read(block.values.data(), H5::PredType::NATIVE_INT64, H5::DataSpace(static_cast<int>(count.size()), count.data()), file);
    } catch (...) {
      block.steps = 0;
      throw;
    }
  }
  const int64_t* values = block.values.data() + per_step * static_cast<size_t>(step - block.first);
  for (size_t i = 0; i < per_step; ++i) {
    if (values[i] < 0 || values[i] > INT32_MAX) {
      throw TraceError(
          path, name,
          "token count " + std::to_string(values[i]) + " at step " + std::to_string(step) + " is outside 0.." + std::to_string(INT32_MAX));
    }
    out[i] = static_cast<int32_t>(values[i]);
  }
}

}  // namespace

void TraceReader::read_rank_counts(int step, RoutingMatrix& out) const {
  const auto& t = *impl_;
  try {
    read_step(t.path, t.ranks, "/rank_counts", step, t.info.steps, t.ranks_block, out.row(0, 0).data());
  } catch (const H5::Exception& e) {
    throw TraceError(t.path, "/rank_counts", "cannot read step " + std::to_string(step) + " (" + e.getDetailMsg() + ")");
  }
}

std::vector<int64_t> TraceReader::read_expert_counts(int step) const {
  const auto& t = *impl_;
  std::vector<int32_t> raw(static_cast<size_t>(t.info.moe_layers) * t.info.experts);
  try {
    read_step(t.path, t.totals, "/expert_counts", step, t.info.steps, t.totals_block, raw.data());
  } catch (const H5::Exception& e) {
    throw TraceError(t.path, "/expert_counts", "cannot read step " + std::to_string(step) + " (" + e.getDetailMsg() + ")");
  }
  return std::vector<int64_t>(raw.begin(), raw.end());
}

}  // namespace moesim::gating
