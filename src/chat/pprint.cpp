// The pprint filter: Python's pprint.pformat(value) (width 80, indent 1, sorted dict keys), including the
// multi-line layout of dicts, lists, tuples and long strings (PrettyPrinter._format and its _pprint_*).
#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

constexpr int64_t kWidth = 80;

int64_t length(std::string_view s) { return utf8_length(s); }

// str.splitlines(keepends=True).
std::vector<std::u32string> lines_with_ends(const std::u32string& s) {
  const auto is_break = [](char32_t c) {
    return c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
           c == 0x2028 || c == 0x2029;
  };
  std::vector<std::u32string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_break(s[i])) continue;
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    lines.push_back(s.substr(start, i + 1 - start));
    start = i + 1;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

class PrettyPrinter {
 public:
  std::string out;

  void format(const Value& v, int64_t indent, int64_t allowance, int level) {
    const std::string rep = repr(v);
    if (length(rep) > kWidth - indent - allowance) {
      if (v.is_dict()) {
        out += '{';
        if (!v.as_object().entries.empty()) dict_items(v.as_object(), indent, allowance + 1, level + 1);
        out += '}';
        return;
      }
      if (v.is_array() && v.array_kind() == ArrayKind::kList) {
        out += '[';
        items(v.as_array(), indent, allowance + 1, level + 1);
        out += ']';
        return;
      }
      if (v.is_array() && v.array_kind() == ArrayKind::kTuple) {
        const std::string end = v.as_array().size() == 1 ? ",)" : ")";
        out += '(';
        items(v.as_array(), indent, allowance + static_cast<int64_t>(end.size()), level + 1);
        out += end;
        return;
      }
      if (v.is_string()) {
        string(v.as_string(), indent, allowance, level + 1);
        return;
      }
    }
    out += rep;
  }

 private:
  void dict_items(const Object& o, int64_t indent, int64_t allowance, int level) {
    indent += 1;
    for (size_t i = 0; i < o.entries.size(); ++i) {
      const bool last = i + 1 == o.entries.size();
      const std::string rep = repr(dict_key_value(o.entries[i].first));
      out += rep + ": ";
      format(o.entries[i].second, indent + length(rep) + 2, last ? allowance : 1, level);
      if (!last) out += ",\n" + std::string(static_cast<size_t>(indent), ' ');
    }
  }

  void items(const Array& items, int64_t indent, int64_t allowance, int level) {
    indent += 1;
    for (size_t i = 0; i < items.size(); ++i) {
      const bool last = i + 1 == items.size();
      if (i > 0) out += ",\n" + std::string(static_cast<size_t>(indent), ' ');
      format(items[i], indent, last ? allowance : 1, level);
    }
  }

  // A long string becomes adjacent literals, one per line, split after whitespace ('\S*\s*' parts).
  void string(const std::string& s, int64_t indent, int64_t allowance, int level) {
    if (s.empty()) {
      out += py_repr_string(s);
      return;
    }
    const std::vector<std::u32string> lines = lines_with_ends(utf8_decode(s));
    if (level == 1) {
      indent += 1;
      allowance += 1;
    }
    int64_t max_width1 = kWidth - indent;
    const int64_t max_width = kWidth - indent;
    std::vector<std::string> chunks;
    std::string rep;
    const auto rep_of = [](std::u32string_view u) { return py_repr_string(utf8_encode(u)); };
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::u32string& line = lines[i];
      const bool last_line = i + 1 == lines.size();
      rep = rep_of(line);
      if (last_line) max_width1 -= allowance;
      if (length(rep) <= max_width1) {
        chunks.push_back(rep);
        continue;
      }
      std::vector<std::u32string> parts;
      for (size_t p = 0; p < line.size();) {
        size_t q = p;
        while (q < line.size() && !py_isspace(line[q])) ++q;
        while (q < line.size() && py_isspace(line[q])) ++q;
        parts.push_back(line.substr(p, q - p));
        p = q;
      }
      int64_t max_width2 = max_width;
      std::u32string current;
      for (size_t j = 0; j < parts.size(); ++j) {
        const std::u32string candidate = current + parts[j];
        if (j + 1 == parts.size() && last_line) max_width2 -= allowance;
        if (length(rep_of(candidate)) > max_width2) {
          if (!current.empty()) chunks.push_back(rep_of(current));
          current = parts[j];
        } else {
          current = candidate;
        }
      }
      if (!current.empty()) chunks.push_back(rep_of(current));
    }
    if (chunks.size() == 1) {
      out += rep;
      return;
    }
    if (level == 1) out += '(';
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i > 0) out += "\n" + std::string(static_cast<size_t>(indent), ' ');
      out += chunks[i];
    }
    if (level == 1) out += ')';
  }
};

}  // namespace

Result<std::string> pretty_format(const Value& sorted) {
  PrettyPrinter printer;
  printer.format(sorted, 0, 0, 0);
  return std::move(printer.out);
}

}  // namespace podserve::jinja
