// Stop strings over the detokenized output: matched across token boundaries, excluded from the output unless
// include_stop_str_in_output, and text that could still become a stop string is held back from streaming.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace podserve {

class StopChecker {
 public:
  StopChecker(std::vector<std::string> stop, bool include_stop_str);

  /// Adds newly decoded text. Returns the text that is now safe to emit. Sets stopped() when a stop string
  /// matched; the returned text then ends at (or just after, if included) the match.
  std::string append(const std::string& text);
  /// At the end of generation: everything still held back.
  std::string flush();
  bool stopped() const { return matched_.has_value(); }
  const std::string& matched() const { return *matched_; }

 private:
  std::vector<std::string> stop_;
  bool include_stop_str_;
  size_t overlap_ = 0;    // longest stop string - 1: how far back a match can start
  size_t hold_back_ = 0;  // overlap_, or 0 when stop strings are emitted anyway
  std::string text_;      // all output text so far
  size_t emitted_ = 0;    // bytes of text_ already returned
  std::optional<std::string> matched_;
};

}  // namespace podserve
