// Bad input is expected, not exceptional: it is reported as one line naming where (file:line:col,
// or the --set that introduced it), the key path, what was expected and what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace moesim::scenarios {

class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string location, std::string key_path, std::string message)
      : std::runtime_error(format(location, key_path, message)), location_(std::move(location)), key_path_(std::move(key_path)) {}
  const std::string& location() const { return location_; }
  const std::string& key_path() const { return key_path_; }

 private:
  static std::string format(const std::string& location, const std::string& key, const std::string& msg) {
    std::string s = key.empty() ? msg : "`" + key + "`: " + msg;
    if (!location.empty()) s += " (" + location + ")";
    return s;
  }
  std::string location_;
  std::string key_path_;
};

}  // namespace moesim::scenarios
