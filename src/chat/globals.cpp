// Global functions: jinja2's range / namespace / dict / joiner / cycler, and transformers' raise_exception / strftime_now.
#include <cmath>
#include <ctime>
#include <string_view>

#include "chat/builtins.h"
#include "chat/evaluator.h"

namespace podserve::jinja {
namespace {

// jinja2's sandbox refuses ranges longer than this.
constexpr int64_t kMaxRange = 100000;

Result<Value> g_range(Evaluator&, const CallArgs& a) {
  if (!a.kwargs.empty()) return invalid_argument("range() takes no keyword arguments");
  if (a.args.empty() || a.args.size() > 3) return invalid_argument("range expected 1 to 3 arguments");
  int64_t p[3] = {0, 0, 1};
  for (size_t i = 0; i < a.args.size(); ++i) {
    PODSERVE_ASSIGN_OR_RETURN(p[i], int_arg(a.args[i], "range() argument"));
  }
  int64_t start = 0, stop = p[0], step = 1;
  if (a.args.size() >= 2) start = p[0], stop = p[1];
  if (a.args.size() == 3) step = p[2];
  if (step == 0) return invalid_argument("range() arg 3 must not be zero");
  // Length computed in double: the operands may be near the int64 limits.
  const double span = step > 0 ? static_cast<double>(stop) - static_cast<double>(start)
                               : static_cast<double>(start) - static_cast<double>(stop);
  const double len = span <= 0 ? 0 : std::ceil(span / std::fabs(static_cast<double>(step)));
  if (len > kMaxRange) {
    return invalid_argument("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  Array out;
  for (int64_t i = 0; i < static_cast<int64_t>(len); ++i) out.emplace_back(start + i * step);
  return Value::array(std::move(out));
}

Result<Value> make_mapping(const CallArgs& a, ObjectKind kind, std::string_view fn) {
  if (a.args.size() > 1) return invalid_argument(std::string(fn) + "() takes at most 1 positional argument");
  auto obj = std::make_shared<Object>();
  obj->kind = kind;
  if (!a.args.empty()) {
    const Value& init = a.args[0];
    if (!init.is_dict()) return invalid_argument(std::string(fn) + "() positional argument must be a dict");
    for (const auto& [k, v] : init.as_object().entries) obj->set(k, v);
  }
  for (const auto& [k, v] : a.kwargs) obj->set(k, v);
  if (kind == ObjectKind::kNamespace && obj->has_namespace) {
    return invalid_argument("a namespace or loop object cannot be stored inside a namespace");
  }
  return Value::object(std::move(obj));
}

Result<Value> g_namespace(Evaluator&, const CallArgs& a) { return make_mapping(a, ObjectKind::kNamespace, "namespace"); }
Result<Value> g_dict(Evaluator&, const CallArgs& a) { return make_mapping(a, ObjectKind::kDict, "dict"); }

// jinja2's joiner(sep=", "): a callable that returns "" the first time and `sep` after.
Result<Value> g_joiner(Evaluator&, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "joiner", {"sep"}));
  const std::string sep = b.has(0) ? to_str(b.get(0)) : ", ";
  auto fn = std::make_shared<Callable>();
  fn->name = "joiner";
  fn->fn = [sep, used = std::make_shared<bool>(false)](Evaluator&, const CallArgs& args) -> Result<Value> {
    PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(args, "joiner", {}).status());
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  };
  return Value::callable(std::move(fn));
}

// jinja2's cycler(*items): an object with next(), reset() and `current`. It is a namespace-kind object (the
// mutable kind, so it cannot be stored in a namespace); its methods hold it weakly, so no cycle forms.
Result<Value> g_cycler(Evaluator&, const CallArgs& a) {
  if (!a.kwargs.empty()) return invalid_argument("cycler() takes no keyword arguments");
  if (a.args.empty()) return invalid_argument("at least one item has to be provided");
  auto obj = std::make_shared<Object>();
  obj->kind = ObjectKind::kNamespace;
  const auto items = std::make_shared<const Array>(a.args);
  const auto pos = std::make_shared<size_t>(0);
  const std::weak_ptr<Object> weak(obj);
  const auto method = [&](const char* name, bool advance) {
    auto fn = std::make_shared<Callable>();
    fn->name = std::string("cycler.") + name;
    fn->fn = [items, pos, weak, advance, name](Evaluator&, const CallArgs& args) -> Result<Value> {
      PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(args, std::string("cycler.") + name, {}).status());
      Value rv = advance ? (*items)[*pos] : Value::none();
      *pos = advance ? (*pos + 1) % items->size() : 0;
      if (const auto self = weak.lock()) self->set("current", (*items)[*pos]);
      return rv;
    };
    return Value::callable(std::move(fn));
  };
  obj->set("next", method("next", true));
  obj->set("reset", method("reset", false));
  obj->set("current", (*items)[0]);
  return Value::object(std::move(obj));
}

Result<Value> g_raise_exception(Evaluator& ev, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "raise_exception", {"message"}, 1));
  return ev.user_error(to_str(b.get(0)));
}

Result<Value> g_strftime_now(Evaluator& ev, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "strftime_now", {"format"}, 1));
  PODSERVE_ASSIGN_OR_RETURN(std::string fmt, string_arg(b.get(0), "format"));
  const std::time_t now =
      ev.options().now_unix_seconds >= 0 ? static_cast<std::time_t>(ev.options().now_unix_seconds) : std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  if (fmt.empty()) return Value("");
  std::string buf(256, '\0');
  for (int tries = 0; tries < 5; ++tries) {
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) {
      buf.resize(n);
      return Value(std::move(buf));
    }
    buf.resize(buf.size() * 4);
  }
  return Value("");
}

}  // namespace

std::optional<Value> find_global(std::string_view name) {
  struct Entry {
    std::string_view name;
    Result<Value> (*fn)(Evaluator&, const CallArgs&);
  };
  static constexpr Entry kGlobals[] = {{"cycler", g_cycler},
                                       {"dict", g_dict},
                                       {"joiner", g_joiner},
                                       {"namespace", g_namespace},
                                       {"raise_exception", g_raise_exception},
                                       {"range", g_range},
                                       {"strftime_now", g_strftime_now}};
  for (const Entry& e : kGlobals) {
    if (e.name == name) {
      auto fn = std::make_shared<Callable>();
      fn->name = std::string(e.name);
      fn->fn = e.fn;
      return Value::callable(std::move(fn));
    }
  }
  return std::nullopt;
}

}  // namespace podserve::jinja
