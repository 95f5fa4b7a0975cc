#include "serve/config_file.h"

#include <fstream>
#include <sstream>

namespace podserve {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// Drops a ` #` comment that is not inside quotes.
std::string_view strip_comment(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return line.substr(0, i);
    }
  }
  return line;
}

/// A scalar: quotes removed ('' is a quote inside single quotes; double quotes keep their text as written).
Result<std::string> scalar(std::string_view v, int line) {
  v = trim(v);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    std::string out;
    const std::string_view inner = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < inner.size(); ++i) {
      if (v.front() == '\'' && inner[i] == '\'' && i + 1 < inner.size() && inner[i + 1] == '\'') ++i;
      out += inner[i];
    }
    return out;
  }
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    return invalid_argument("line " + std::to_string(line) + ": unterminated quoted value");
  }
  return std::string(v);
}

/// `[a, b, "c"]` into its items (no nesting: a nested value is JSON inside quotes or a flow mapping).
Result<std::vector<std::string>> flow_list(std::string_view v, int line) {
  std::vector<std::string> items;
  std::string_view inner = trim(v.substr(1, v.size() - 2));
  if (inner.empty()) return items;
  size_t start = 0;
  char quote = 0;
  for (size_t i = 0; i <= inner.size(); ++i) {
    const char c = i < inner.size() ? inner[i] : ',';
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    if (c == '[' || c == '{') return invalid_argument("line " + std::to_string(line) + ": nested lists are not supported");
    if (c != ',') continue;
    PODSERVE_ASSIGN_OR_RETURN(std::string item, scalar(inner.substr(start, i - start), line));
    items.push_back(std::move(item));
    start = i + 1;
  }
  return items;
}

}  // namespace

Result<std::vector<ConfigFileEntry>> parse_config_file(std::string_view text) {
  std::vector<ConfigFileEntry> entries;
  std::string list_key;  // a `key:` with no value: its block list follows
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const std::string_view line = trim(strip_comment(raw));
    if (line.empty() || line == "---") continue;
    const std::string where = "line " + std::to_string(line_no);
    if (line.front() == '-' && (line.size() == 1 || line[1] == ' ')) {
      if (list_key.empty()) return invalid_argument(where + ": a list item outside a list");
      PODSERVE_ASSIGN_OR_RETURN(std::string item, scalar(line.substr(1), line_no));
      entries.push_back({list_key, std::move(item)});
      continue;
    }
    if (raw.front() == ' ' || raw.front() == '\t') {
      return invalid_argument(where + ": nested mappings are not supported (write the value as JSON)");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return invalid_argument(where + ": expected 'key: value'");
    std::string flag = "--";
    for (char c : trim(line.substr(0, colon))) flag += c == '_' ? '-' : c;
    const std::string_view value = trim(line.substr(colon + 1));
    list_key.clear();
    if (value.empty()) {
      list_key = flag;  // a block list (or nothing) follows
      continue;
    }
    if (value.front() == '[' && value.back() == ']') {
      PODSERVE_ASSIGN_OR_RETURN(std::vector<std::string> items, flow_list(value, line_no));
      for (std::string& item : items) entries.push_back({flag, std::move(item)});
      continue;
    }
    PODSERVE_ASSIGN_OR_RETURN(std::string v, scalar(value, line_no));
    entries.push_back({flag, std::move(v)});
  }
  return entries;
}

Result<std::vector<ConfigFileEntry>> read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot open the config file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  Result<std::vector<ConfigFileEntry>> entries = parse_config_file(ss.str());
  if (!entries.ok()) return invalid_argument("config file '" + path + "': " + entries.status().message());
  return entries;
}

}  // namespace podserve
