// Calling macros and `{% call %}` blocks, with jinja2's Macro.__call__ argument rules: positional
// parameters first, then keywords for the rest, then defaults; the leftovers go to `varargs` / `kwargs` /
// `caller` when the body uses those names, and are errors otherwise.
#include <algorithm>

#include "chat/builtins.h"
#include "chat/evaluator.h"

namespace podserve::jinja {

Result<Value> Evaluator::call_macro(const MacroStmt& macro, const CallArgs& args, Loc loc) {
  if (call_depth_ >= options_.max_call_depth) {
    return error_at(loc, "macro calls nested deeper than " + std::to_string(options_.max_call_depth),
                    StatusCode::kResourceExhausted);
  }
  auto has_param = [&](std::string_view name) {
    return std::any_of(macro.params.begin(), macro.params.end(), [&](const MacroParam& p) { return p.name == name; });
  };
  const bool catch_varargs = macro.uses_varargs && !has_param("varargs");
  const bool catch_kwargs = macro.uses_kwargs && !has_param("kwargs");
  const bool catch_caller = macro.uses_caller && !has_param("caller");
  if (args.args.size() > macro.params.size() && !catch_varargs) {
    return error_at(loc, "macro '" + macro.name + "' takes not more than " + std::to_string(macro.params.size()) +
                             " argument(s)");
  }
  Scope frame(root_);  // macros see the template's globals, not the caller's locals
  const size_t positional = std::min(args.args.size(), macro.params.size());
  std::vector<bool> bound(macro.params.size(), false);
  for (size_t i = 0; i < positional; ++i) {
    frame.set(macro.params[i].name, args.args[i]);
    bound[i] = true;
  }
  // Keywords fill the parameters not taken positionally (the last one given wins, as in a Python dict).
  std::vector<std::pair<std::string, Value>> leftover;
  for (const auto& [key, v] : args.kwargs) {
    size_t i = positional;
    while (i < macro.params.size() && macro.params[i].name != key) ++i;
    if (i < macro.params.size()) {
      frame.set(key, v);
      bound[i] = true;
      continue;
    }
    auto same = std::find_if(leftover.begin(), leftover.end(), [&key = key](const auto& kv) { return kv.first == key; });
    if (same != leftover.end()) {
      same->second = v;
    } else {
      leftover.emplace_back(key, v);
    }
  }
  if (catch_caller) {
    auto it = std::find_if(leftover.begin(), leftover.end(), [](const auto& kv) { return kv.first == "caller"; });
    if (it != leftover.end() && !it->second.is_none()) {
      frame.set("caller", it->second);
    } else {
      frame.set("caller", Value::undefined("No caller defined"));
    }
    if (it != leftover.end()) leftover.erase(it);
  }
  if (catch_kwargs) {
    auto dict = std::make_shared<Object>();
    for (auto& [k, v] : leftover) dict->set(k, v);
    frame.set("kwargs", Value::object(std::move(dict)));
  } else if (!leftover.empty()) {
    const std::string& key = leftover.front().first;
    return error_at(loc, key == "caller" ? "macro '" + macro.name + "' was invoked with two values for the special caller argument"
                                         : "macro '" + macro.name + "' takes no keyword argument '" + key + "'");
  }
  if (catch_varargs) {
    Array extra(args.args.begin() + static_cast<std::ptrdiff_t>(positional), args.args.end());
    frame.set("varargs", Value::array(std::move(extra), ArrayKind::kTuple));
  }
  Scope* saved = scope_;
  scope_ = &frame;
  for (size_t i = 0; i < macro.params.size(); ++i) {
    if (bound[i]) continue;
    Value v = Value::undefined("parameter '" + macro.params[i].name + "' was not provided");
    if (macro.params[i].default_value) {
      auto d = eval(*macro.params[i].default_value);
      if (!d.ok()) {
        scope_ = saved;
        return d.status();
      }
      v = std::move(d).value();
    }
    frame.set(macro.params[i].name, std::move(v));
  }
  scope_ = saved;
  ++call_depth_;
  auto text = render_to_string(macro.body, &frame);
  --call_depth_;
  if (!text.ok()) return text.status();
  return Value(std::move(text).value());
}

Result<Value> Evaluator::exec_call_block(const CallBlockStmt& s) {
  const auto& call_expr = static_cast<const CallExpr&>(*s.call);
  PODSERVE_ASSIGN_OR_RETURN(Value callee, eval(*call_expr.callee));
  PODSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(call_expr.args));
  // `caller` renders the block body at the call site. It may escape into a namespace, so it checks that
  // the call site (whose scope it points to) is still running.
  auto alive = std::make_shared<bool>(true);
  auto caller = std::make_shared<Callable>();
  caller->name = "caller";
  Scope* site = scope_;
  const CallBlockStmt* stmt = &s;
  caller->fn = [alive, site, stmt](Evaluator& ev, const CallArgs& a) -> Result<Value> {
    if (!*alive) return invalid_argument("'caller' called outside its call block");
    if (a.args.size() > stmt->caller_params.size()) return invalid_argument("caller() got too many arguments");
    Scope frame(site);
    for (size_t i = 0; i < stmt->caller_params.size(); ++i) {
      Value v = i < a.args.size() ? a.args[i] : Value();
      for (const auto& [k, kv] : a.kwargs) {
        if (k == stmt->caller_params[i].name) v = kv;
      }
      frame.set(stmt->caller_params[i].name, std::move(v));
    }
    PODSERVE_ASSIGN_OR_RETURN(std::string text, ev.render_to_string(stmt->body, &frame));
    return Value(std::move(text));
  };
  args.kwargs.emplace_back("caller", Value::callable(std::move(caller)));
  auto result = call(callee, args, call_expr.loc);
  *alive = false;
  return result;
}

}  // namespace podserve::jinja
