#include "models/gating/csv_lines.h"

#include "models/gating/trace_h5.h"

namespace moesim::gating {

bool read_csv_line(std::istream& in, std::string& line, const std::string& path, int number, const std::string& what) {
  line.clear();
  bool any = false;
  for (int c; (c = in.get()) != std::char_traits<char>::eof();) {
    any = true;
    if (c == '\n') break;
    line.push_back(static_cast<char>(c));
    if (line.size() > kMaxCsvLine) {
      throw TraceError(path, "line " + std::to_string(number), "longer than " + std::to_string(kMaxCsvLine) + " characters: not " + what);
    }
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return any;
}

}  // namespace moesim::gating
