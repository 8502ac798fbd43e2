#include "sim/step/pipeline_layout.h"

#include <algorithm>
#include <cctype>

namespace moesim {
namespace {

struct SyntaxError {
  size_t at;  // index into the text without its cosmetic characters
  std::string message;
};

std::string shown(char c) {
  if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
  static const char* const kHex = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 15];
}

// Recursive descent over the text without commas and spaces; `columns` maps back to the original.
class LayoutParser {
 public:
  explicit LayoutParser(std::string_view text) : text_(text) {}

  // The items up to the end, or to the ')' that closes a group `depth` deep (0: the whole text).
  std::string sequence(int depth) {
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != ')') {
      const size_t start = pos_;
      std::string item;
      if (text_[pos_] == '(') {
        if (depth == kMaxDepth) throw SyntaxError{start, "expected groups nested at most " + std::to_string(kMaxDepth) + " deep"};
        ++pos_;
        item = sequence(depth + 1);
        if (pos_ == text_.size()) throw SyntaxError{start, "expected a ')' to close this '('"};
        ++pos_;
        if (pos_ == text_.size() || text_[pos_] != '*')
          throw SyntaxError{pos_ - 1, "expected '*' and a count after ')' (a group in parentheses repeats)"};
      } else if (std::string_view("EtmL|").find(text_[pos_]) != std::string_view::npos) {
        item.assign(1, text_[pos_++]);
      } else {
        throw SyntaxError{pos_, "expected one of E t m L | (, got " + shown(text_[pos_])};
      }
      append(out, item, repetitions(), start);
    }
    if (pos_ < text_.size() && depth == 0) throw SyntaxError{pos_, "expected a '(' before this ')'"};
    return out;
  }

 private:
  static constexpr int kMaxDepth = 64;  // a recursion this deep, no deeper, whatever the text

  // "*n" after an item, or 1 without it.
  size_t repetitions() {
    if (pos_ == text_.size() || text_[pos_] != '*') return 1;
    const size_t star = pos_++;
    size_t count = 0, digits = 0;
    for (; pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])); ++pos_, ++digits) {
      count = count * 10 + static_cast<size_t>(text_[pos_] - '0');
      if (count > kMaxPipelineLayoutSymbols)
        throw SyntaxError{star, "expected a count of at most " + std::to_string(kMaxPipelineLayoutSymbols)};
    }
    if (digits == 0) throw SyntaxError{star, "expected a count (digits) after '*'"};
    return count;
  }

  static void append(std::string& out, const std::string& item, size_t times, size_t at) {
    if (!item.empty() && (kMaxPipelineLayoutSymbols - out.size()) / item.size() < times)
      throw SyntaxError{at, "expected at most " + std::to_string(kMaxPipelineLayoutSymbols) + " symbols once repetitions are unrolled"};
    for (size_t i = 0; i < times; ++i) out += item;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string stage_text(const std::string& stage) {
  std::string out;
  for (size_t i = 0; i < stage.size();) {
    size_t run = 1;
    while (i + run < stage.size() && stage[i + run] == stage[i]) ++run;
    if (run >= 3) {
      out += stage[i];
      out += '*';
      out += std::to_string(run);
    } else {
      out.append(run, stage[i]);
    }
    i += run;
  }
  return out;
}

std::string nth(size_t v) { return "virtual stage " + std::to_string(v); }

}  // namespace

std::variant<std::vector<std::string>, PipelineLayoutSyntaxError> parse_pipeline_layout(std::string_view text) {
  std::string cleaned;
  std::vector<size_t> columns;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',' || std::isspace(static_cast<unsigned char>(text[i]))) continue;
    cleaned += text[i];
    columns.push_back(i + 1);
  }
  columns.push_back(text.size() + 1);
  std::string symbols;
  try {
    symbols = LayoutParser(cleaned).sequence(0);
  } catch (const SyntaxError& e) {
    return PipelineLayoutSyntaxError{columns[e.at], e.message};
  }
  std::vector<std::string> stages(1);
  for (char c : symbols) {
    if (c == '|') {
      stages.emplace_back();
    } else {
      stages.back() += c;
    }
  }
  return stages;
}

std::string format_pipeline_layout(const std::vector<std::string>& stages) {
  std::string out;
  for (size_t i = 0; i < stages.size();) {
    size_t run = 1;
    while (i + run < stages.size() && stages[i + run] == stages[i]) ++run;
    const bool last = i + run == stages.size();
    const std::string body = stage_text(stages[i]);
    // The layout's last stage has no separator after it, so a run that ends it leaves one out.
    const size_t grouped = last ? run - 1 : run;
    if (grouped >= 2) {
      out += "(" + body + "|)*" + std::to_string(grouped);
    } else if (grouped == 1) {
      out += body + "|";
    }
    if (last) out += body;
    i += run;
  }
  return out;
}

std::vector<std::string> layout_of_split(const std::vector<std::vector<int>>& chunks, int model_layers) {
  std::vector<std::string> out(chunks.size());
  for (size_t v = 0; v < chunks.size(); ++v) {
    if (v == 0) out[v] += 'E';
    for (int l : chunks[v]) out[v] += l < model_layers ? 't' : 'm';
    if (v + 1 == chunks.size()) out[v] += 'L';
  }
  return out;
}

std::vector<std::vector<int>> split_of_layout(const std::vector<std::string>& stages) {
  std::vector<std::vector<int>> out(stages.size());
  int next = 0;
  for (size_t v = 0; v < stages.size(); ++v) {
    for (char c : stages[v]) {
      if (c == 't' || c == 'm') out[v].push_back(next++);
    }
  }
  return out;
}

std::optional<std::string> check_pipeline_layout(const std::vector<std::string>& stages, int virtual_stages, int layers, int mtp_layers) {
  const auto n = static_cast<size_t>(virtual_stages);
  if (stages.size() != n) return "expected " + std::to_string(n) + " virtual stages split by '|', got " + std::to_string(stages.size());
  const auto total = [&](char c) {
    size_t count = 0;
    for (const auto& s : stages) count += static_cast<size_t>(std::count(s.begin(), s.end(), c));
    return count;
  };
  if (total('E') != 1 || stages.front().empty() || stages.front().front() != 'E')
    return "expected one embedding 'E', first in the first virtual stage, got " + std::to_string(total('E')) + " and the first stage \"" +
           stages.front() + "\"";
  if (total('L') != 1 || stages.back().empty() || stages.back().back() != 'L')
    return "expected one loss 'L', last in the last virtual stage, got " + std::to_string(total('L')) + " and the last stage \"" +
           stages.back() + "\"";
  if (total('t') != static_cast<size_t>(layers))
    return "expected " + std::to_string(layers) + " transformer layers 't' (model.layers), got " + std::to_string(total('t'));
  if (total('m') != static_cast<size_t>(mtp_layers))
    return "expected " + std::to_string(mtp_layers) + " prediction module layers 'm' (model.mtp_layers), got " + std::to_string(total('m'));
  bool module_seen = false;
  for (size_t v = 0; v < n; ++v) {
    const std::string& s = stages[v];
    const auto modules = static_cast<size_t>(std::count(s.begin(), s.end(), 'm'));
    if (modules != 0 && modules != static_cast<size_t>(mtp_layers))
      return "expected every 'm' in one virtual stage (Megatron's rule), got " + std::to_string(modules) + " of " +
             std::to_string(mtp_layers) + " in " + nth(v);
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 't' && module_seen) return "expected every 't' before the prediction modules' 'm', got one after them in " + nth(v);
      module_seen = module_seen || s[i] == 'm';
    }
    const bool holds_layer = s.find_first_of("tm") != std::string::npos;
    if (!holds_layer && v != 0 && v + 1 != n)
      return "expected a layer in every virtual stage but the first and the last (they may hold only 'E' and 'L'), got " + nth(v) +
             " empty";
  }
  return std::nullopt;
}

}  // namespace moesim
