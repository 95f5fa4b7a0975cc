#include "structured/json_schema_numbers.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

namespace podserve::structured {
namespace {

constexpr int kMaxFractionDigits = 6;        // xgrammar's bounded numbers carry at most 6 fraction digits
constexpr double kMaxInt64AsDouble = 9223372036854775807.0;

// Non-negative decimal integers as digit strings without leading zeros ("0" for zero).
using Decimal = std::string;

Decimal strip_zeros(std::string_view s) {
  size_t i = 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  return Decimal(s.substr(i));
}
int compare(const Decimal& a, const Decimal& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}
Decimal add_one(Decimal a) {
  int i = static_cast<int>(a.size()) - 1;
  while (i >= 0 && a[static_cast<size_t>(i)] == '9') a[static_cast<size_t>(i--)] = '0';
  if (i < 0) return "1" + a;
  ++a[static_cast<size_t>(i)];
  return a;
}
Decimal sub_one(Decimal a) {  // a > 0
  int i = static_cast<int>(a.size()) - 1;
  while (a[static_cast<size_t>(i)] == '0') a[static_cast<size_t>(i--)] = '9';
  --a[static_cast<size_t>(i)];
  return strip_zeros(a);
}
// a / 10^k rounded down, and whether the division was inexact.
Decimal div_pow10(const Decimal& a, int k, bool* inexact) {
  const size_t keep = a.size() > static_cast<size_t>(k) ? a.size() - static_cast<size_t>(k) : 0;
  *inexact = a.find_first_not_of('0', keep) != std::string::npos;
  return keep == 0 ? Decimal("0") : strip_zeros(a.substr(0, keep));
}

// |v| * 10^6, rounded to an integer (the exact value of the double, to 6 fraction digits).
Decimal scaled_magnitude(double v) {
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::fixed, kMaxFractionDigits);
  std::string s(buf, res.ptr);
  s.erase(std::remove(s.begin(), s.end(), '.'), s.end());
  return strip_zeros(s);
}

// One alternative: a sequence of EBNF elements, each matching digits (or ".").
struct Piece {
  std::string element;  // a literal "3", a class [0-9], or "."
  int count = 1;        // fixed repetition
};
using Alternative = std::vector<Piece>;

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  return std::string("[") + lo + "-" + hi + "]";
}

// Digit strings of exactly a.size() digits (leading zeros allowed) within [a, b].
void fixed_width(std::string_view a, std::string_view b, Alternative prefix, std::vector<Alternative>* out) {
  if (a.empty()) {
    out->push_back(std::move(prefix));
    return;
  }
  const size_t rest = a.size() - 1;
  auto with = [&](Piece p) {
    Alternative alt = prefix;
    alt.push_back(std::move(p));
    return alt;
  };
  auto tail_any = [&](Alternative alt) {
    if (rest > 0) alt.push_back({"[0-9]", static_cast<int>(rest)});
    return alt;
  };
  if (a[0] == b[0]) {
    fixed_width(a.substr(1), b.substr(1), with({digit_class(a[0], a[0])}), out);
    return;
  }
  const bool a_rest_min = a.find_first_not_of('0', 1) == std::string_view::npos;
  const bool b_rest_max = b.find_first_not_of('9', 1) == std::string_view::npos;
  char mid_lo = static_cast<char>(a[0] + 1), mid_hi = static_cast<char>(b[0] - 1);
  if (a_rest_min) mid_lo = a[0];
  else fixed_width(a.substr(1), std::string(rest, '9'), with({digit_class(a[0], a[0])}), out);
  if (b_rest_max) mid_hi = b[0];
  if (mid_lo <= mid_hi) out->push_back(tail_any(with({digit_class(mid_lo, mid_hi)})));
  if (!b_rest_max) fixed_width(std::string(rest, '0'), b.substr(1), with({digit_class(b[0], b[0])}), out);
}

// Inserts "." before the last `f` digits of a fixed-length alternative.
Alternative insert_point(const Alternative& alt, int f) {
  if (f == 0) return alt;
  Alternative out;
  int remaining = f;  // digits still to the right of the point, scanning from the end
  std::vector<Piece> right;
  size_t i = alt.size();
  while (i > 0 && remaining > 0) {
    const Piece& p = alt[--i];
    if (p.count <= remaining) {
      right.push_back(p);
      remaining -= p.count;
    } else {
      right.push_back({p.element, remaining});
      out.assign(alt.begin(), alt.begin() + static_cast<long>(i));
      out.push_back({p.element, p.count - remaining});
      remaining = 0;
      i = 0;
      std::reverse(right.begin(), right.end());
      out.push_back({"\".\""});
      out.insert(out.end(), right.begin(), right.end());
      return out;
    }
  }
  out.assign(alt.begin(), alt.begin() + static_cast<long>(i));
  std::reverse(right.begin(), right.end());
  out.push_back({"\".\""});
  out.insert(out.end(), right.begin(), right.end());
  return out;
}

std::string render(const Alternative& alt) {
  std::string out;
  for (const Piece& p : alt) {
    if (!out.empty()) out += ' ';
    out += p.element;
    if (p.count != 1) out += "{" + std::to_string(p.count) + "}";
  }
  return out;
}

// Strings "canonical integer part [. f digits]" whose digits, read as one integer M, lie in [lo, hi]
// (hi absent: unbounded). f = 0: plain canonical integers.
void scaled_range(const Decimal& lo, const std::optional<Decimal>& hi, int f, const std::string& sign,
                  std::vector<std::string>* out) {
  if (hi && compare(lo, *hi) > 0) return;
  auto emit = [&](const Alternative& alt) { out->push_back(sign + (sign.empty() ? "" : " ") + render(alt)); };
  // M < 10^f: integer part "0", fraction = M zero-padded to f digits.
  if (f > 0) {
    const Decimal limit = Decimal(static_cast<size_t>(f), '9');  // 10^f - 1
    if (compare(lo, limit) <= 0) {
      const Decimal top = hi && compare(*hi, limit) < 0 ? *hi : limit;
      std::vector<Alternative> alts;
      const std::string a = std::string(static_cast<size_t>(f) - lo.size(), '0') + lo;
      const std::string b = std::string(static_cast<size_t>(f) - top.size(), '0') + top;
      fixed_width(a, b, {{"\"0\""}, {"\".\""}}, &alts);
      for (const auto& alt : alts) emit(alt);
    }
  }
  // M >= 10^f (or any M when f = 0): canonical digits of M with the point before the last f.
  const Decimal first = f > 0 ? "1" + Decimal(static_cast<size_t>(f), '0') : Decimal("0");
  const Decimal from = compare(lo, first) > 0 ? lo : first;
  if (hi && compare(from, *hi) > 0) return;
  const size_t lo_len = from.size();
  const size_t hi_len = hi ? hi->size() : lo_len;
  for (size_t len = lo_len; len <= hi_len; ++len) {
    if (len != lo_len && len != hi_len) continue;  // middle lengths: one alternative below
    const Decimal a = len == lo_len ? from : "1" + Decimal(len - 1, '0');
    const Decimal b = hi && len == hi_len ? *hi : Decimal(len, '9');
    if (compare(a, b) > 0) continue;
    std::vector<Alternative> alts;
    fixed_width(a, b, {}, &alts);
    for (const auto& alt : alts) emit(insert_point(alt, f));
  }
  const std::string point_tail = f > 0 ? " \".\" [0-9]{" + std::to_string(f) + "}" : "";
  const std::string lead = sign + (sign.empty() ? "" : " ");
  if (hi && hi_len > lo_len + 1) {  // every length strictly between
    const size_t min_int = lo_len + 1 - static_cast<size_t>(f), max_int = hi_len - 1 - static_cast<size_t>(f);
    out->push_back(lead + "[1-9] [0-9]{" + std::to_string(min_int - 1) + "," + std::to_string(max_int - 1) + "}" +
                   point_tail);
  }
  if (!hi) {  // every longer length
    const size_t min_int = lo_len + 1 - static_cast<size_t>(f);
    out->push_back(lead + "[1-9] [0-9]{" + std::to_string(min_int - 1) + ",}" + point_tail);
  }
}

struct ScaledBound {  // a bound on |value| * 10^6
  Decimal magnitude;
  bool exclusive;
};

// The M range for fraction length f from scaled bounds: lo <= M * 10^(6-f) <= hi (or strict).
Decimal lower_at(const ScaledBound& b, int f) {
  bool inexact = false;
  Decimal q = div_pow10(b.magnitude, kMaxFractionDigits - f, &inexact);
  return (inexact || b.exclusive) ? add_one(q) : q;
}
std::optional<Decimal> upper_at(const ScaledBound& b, int f) {  // nullopt: empty (below zero)
  bool inexact = false;
  Decimal q = div_pow10(b.magnitude, kMaxFractionDigits - f, &inexact);
  if (b.exclusive && !inexact) {
    if (q == "0") return std::nullopt;
    return sub_one(q);
  }
  return q;
}

// Alternatives for the non-negative (sign "") or negative (sign "\"-\"") side: magnitudes in [lo, hi].
void side(const ScaledBound& lo, const std::optional<ScaledBound>& hi, int max_f, bool exclude_zero_integer,
          const std::string& sign, std::vector<std::string>* out) {
  for (int f = 0; f <= max_f; ++f) {
    Decimal l = lower_at(lo, f);
    std::optional<Decimal> h;
    if (hi) {
      h = upper_at(*hi, f);
      if (!h) continue;
    }
    if (f == 0 && exclude_zero_integer && l == "0") l = "1";
    scaled_range(l, h, f, sign, out);
  }
}

Result<std::string> range_ebnf(std::optional<NumericBound> min, std::optional<NumericBound> max, bool integer) {
  for (const auto* b : {&min, &max}) {
    if (!*b) continue;
    if (!std::isfinite((*b)->value)) return invalid_argument("Value must be a finite number");
    if (integer && std::fabs((*b)->value) > kMaxInt64AsDouble) return invalid_argument("Integer exceeds maximum limit");
    if (integer && (*b)->value != std::floor((*b)->value)) {
      return invalid_argument("Integer constraint must be a whole number");
    }
  }
  if (min && max && min->value > max->value) return invalid_argument("Invalid range: minimum greater than maximum");
  const int max_f = integer ? 0 : kMaxFractionDigits;
  std::vector<std::string> alts;
  // Non-negative values: magnitudes in [max(min, 0), max].
  if (!max || max->value > 0 || (max->value == 0 && !max->exclusive)) {
    ScaledBound lo{"0", false};
    if (min && min->value >= 0) lo = {scaled_magnitude(min->value), min->exclusive};
    std::optional<ScaledBound> hi;
    if (max) hi = ScaledBound{scaled_magnitude(max->value), max->exclusive};
    side(lo, hi, max_f, false, "", &alts);
  }
  // Negative values: magnitudes in [max(-max, 0), -min]; "-0" alone is not a JSON integer form.
  if (!min || min->value < 0) {
    ScaledBound lo{"0", false};
    if (max && max->value <= 0) lo = {scaled_magnitude(max->value), max->exclusive};
    std::optional<ScaledBound> hi;
    if (min) hi = ScaledBound{scaled_magnitude(min->value), min->exclusive};
    std::vector<std::string> neg;
    side(lo, hi, max_f, true, "\"-\"", &neg);
    alts.insert(alts.begin(), neg.begin(), neg.end());
  }
  if (alts.empty()) return invalid_argument("Invalid range: empty range");
  std::string out;
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + std::string("(") + alts[i] + ")";
  return out;
}

}  // namespace

Result<std::string> integer_range_ebnf(std::optional<NumericBound> min, std::optional<NumericBound> max) {
  return range_ebnf(min, max, true);
}

Result<std::string> number_range_ebnf(std::optional<NumericBound> min, std::optional<NumericBound> max) {
  return range_ebnf(min, max, false);
}

}  // namespace podserve::structured
