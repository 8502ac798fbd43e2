// router::topic_of() in about one comparison instead of log2(topics) unpredictable ones, for a
// CDF that picks many tokens' topics: a guide table of the first candidate topic per slice of
// [0, 1) (Chen and Asau's guide-table method), then a scan up from it. The answer is topic_of()'s,
// exactly: both return the first topic whose cumulative weight exceeds u (the last if none does).
#pragma once

#include <bit>
#include <span>
#include <vector>

namespace moesim::gating {

class TopicGuide {
 public:
  // `cdf` must stay alive and unchanged while the guide is used.
  void build(std::span<const float> cdf) {
    cdf_ = cdf;
    // About four slices per topic, a power of two so that u * slices is exact for a 24-bit u.
    slices_ = static_cast<int>(std::bit_ceil(4 * cdf.size()));
    first_.resize(slices_);
    const int last = static_cast<int>(cdf.size()) - 1;
    int topic = 0;
    for (int g = 0; g < slices_; ++g) {
      const float start = static_cast<float>(g) / static_cast<float>(slices_);  // exact
      while (topic < last && !(cdf[topic] > start)) ++topic;
      first_[g] = topic;
    }
  }
  // u in [0, 1), as router::topic_uniform() draws it.
  int topic(float u) const {
    const int last = static_cast<int>(cdf_.size()) - 1;
    int topic = first_[static_cast<int>(u * static_cast<float>(slices_))];
    while (topic < last && !(u < cdf_[topic])) ++topic;
    return topic;
  }

 private:
  std::span<const float> cdf_;
  int slices_ = 0;
  std::vector<int> first_;
};

}  // namespace moesim::gating
