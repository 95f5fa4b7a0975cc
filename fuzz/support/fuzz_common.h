// What every fuzz target shares: where the real test inputs are (the SmolLM2 GGUF, the shared fixtures,
// tests/data), splitting one input into parts, and failing a checked property.
//
// A target's rule: any Status, any 4xx, any budget error is a pass. A crash, a sanitizer report, a hang
// (libFuzzer's -timeout), an allocation over -malloc_limit_mb, a leak, a 5xx or a broken property is a failure.
// abort() is not wrapped: a parser that aborts on bad input is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::fuzz {

/// The SmolLM2 GGUF the model tier uses ($PODSERVE_TEST_MODEL overrides the configured path).
std::string model_path();
/// The shared fixtures folder ($PODSERVE_FIXTURES overrides).
std::string fixtures_path();
/// tests/data ($PODSERVE_TEST_DATA overrides).
std::string test_data_path();

/// Silences the product's info/warning logs (a fuzzer runs millions of inputs); errors still print.
void quiet_logs();

/// Splits `data` at each occurrence of `separator`, into at most `max_parts` parts (the last part keeps any
/// further separators). The seeds and dictionaries use the same separator.
std::vector<std::string_view> split_input(const uint8_t* data, size_t size, std::string_view separator,
                                          size_t max_parts);

/// The separator between the parts of a multi-part input: a line no JSON, template or file starts with.
inline constexpr std::string_view kPartSeparator = "\n--podserve-fuzz-part--\n";

/// Reports a broken property (with `detail`) and aborts, which libFuzzer records as a crash with its input.
[[noreturn]] void fail(const std::string& property, std::string_view detail = {});

/// Reads a whole file (test inputs for the targets' set-up); aborts if it cannot.
std::string read_file(const std::string& path);

}  // namespace podserve::fuzz
