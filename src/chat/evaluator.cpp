#include "chat/evaluator.h"

#include "chat/builtins.h"

namespace podserve::jinja {

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    for (const auto& [k, v] : s->vars_) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars_) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars_.emplace_back(std::string(name), std::move(value));
}

Status Evaluator::locate(Status status, Loc loc) {
  if (status.ok() || error_located_ || loc.line == 0) return status;  // line 0: the caller locates it
  error_located_ = true;
  return Status(status.code(), "template error at " + loc_string(loc) + ": " + status.message());
}

Status Evaluator::error_at(Loc loc, const std::string& message, StatusCode code) {
  return locate(Status(code, message), loc);
}

Status Evaluator::user_error(std::string message) {
  error_located_ = true;
  return invalid_argument(std::move(message));
}

Status Evaluator::check_string_size(size_t bytes) const {
  if (bytes <= options_.max_output_bytes) return ok_status();
  return resource_exhausted("string of " + std::to_string(bytes) + " bytes exceeds the render budget of " +
                            std::to_string(options_.max_output_bytes));
}

Status Evaluator::check_items(size_t count) const {
  if (count <= kMaxItems) return ok_status();
  return resource_exhausted("sequence of " + std::to_string(count) + " items exceeds the render budget");
}

Status Evaluator::step(Loc loc) {
  if (++steps_ <= options_.max_steps) return ok_status();
  return error_at(loc, "render exceeded " + std::to_string(options_.max_steps) + " steps",
                  StatusCode::kResourceExhausted);
}

Status Evaluator::emit(std::string_view text, Loc loc) {
  out_->append(text);
  if (out_->size() <= options_.max_output_bytes) return ok_status();
  return error_at(loc, "rendered output exceeds " + std::to_string(options_.max_output_bytes) + " bytes",
                  StatusCode::kResourceExhausted);
}

Result<std::string> Evaluator::render(const Program& program, const Value& context) {
  Scope root(nullptr);
  if (context.is_dict()) {
    for (const auto& [k, v] : context.as_object().entries) root.set(k, v);
  } else if (!context.is_undefined()) {
    return invalid_argument("template context must be a dict, got " + type_name(context));
  }
  std::string out;
  root_ = &root;
  scope_ = &root;
  out_ = &out;
  steps_ = 0;
  call_depth_ = 0;
  error_located_ = false;
  auto flow = exec_body(program.body);
  root_ = scope_ = nullptr;
  out_ = nullptr;
  if (!flow.ok()) return flow.status();
  return out;
}

Result<Evaluator::Flow> Evaluator::exec_body(const Body& body) {
  for (const StmtPtr& s : body) {
    PODSERVE_ASSIGN_OR_RETURN(Flow f, exec(*s));
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Result<std::string> Evaluator::render_to_string(const Body& body, Scope* scope) {
  std::string buf;
  std::string* saved_out = out_;
  Scope* saved_scope = scope_;
  out_ = &buf;
  scope_ = scope;
  auto flow = exec_body(body);
  out_ = saved_out;
  scope_ = saved_scope;
  if (!flow.ok()) return flow.status();
  return buf;
}

Result<Evaluator::Flow> Evaluator::exec(const Stmt& stmt) {
  PODSERVE_RETURN_IF_ERROR(step(stmt.loc));
  switch (stmt.kind) {
    case StmtKind::kText:
      PODSERVE_RETURN_IF_ERROR(emit(static_cast<const TextStmt&>(stmt).text, stmt.loc));
      return Flow::kNormal;
    case StmtKind::kOutput: {
      PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*static_cast<const OutputStmt&>(stmt).expr));
      PODSERVE_RETURN_IF_ERROR(emit(to_str(v), stmt.loc));
      return Flow::kNormal;
    }
    case StmtKind::kIf: {
      const auto& s = static_cast<const IfStmt&>(stmt);
      for (const auto& [cond, body] : s.branches) {
        PODSERVE_ASSIGN_OR_RETURN(Value c, eval(*cond));
        if (truthy(c)) return exec_body(body);
      }
      return exec_body(s.otherwise);
    }
    case StmtKind::kFor: return exec_for(static_cast<const ForStmt&>(stmt));
    case StmtKind::kSet: {
      const auto& s = static_cast<const SetStmt&>(stmt);
      PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*s.value));
      PODSERVE_RETURN_IF_ERROR(assign(s.target, std::move(v), stmt.loc));
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock: {
      const auto& s = static_cast<const SetBlockStmt&>(stmt);
      Scope inner(scope_);
      PODSERVE_ASSIGN_OR_RETURN(std::string text, render_to_string(s.body, &inner));
      PODSERVE_ASSIGN_OR_RETURN(Value v, apply_filters(s.filters, Value(std::move(text))));
      PODSERVE_RETURN_IF_ERROR(assign(s.target, std::move(v), stmt.loc));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: {
      const auto* m = static_cast<const MacroStmt*>(&stmt);
      auto fn = std::make_shared<Callable>();
      fn->name = m->name;
      fn->fn = [m](Evaluator& ev, const CallArgs& args) { return ev.call_macro(*m, args, m->loc); };
      scope_->set(m->name, Value::callable(std::move(fn)));
      return Flow::kNormal;
    }
    case StmtKind::kCallBlock: {
      PODSERVE_ASSIGN_OR_RETURN(Value v, exec_call_block(static_cast<const CallBlockStmt&>(stmt)));
      PODSERVE_RETURN_IF_ERROR(emit(to_str(v), stmt.loc));
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      const auto& s = static_cast<const FilterBlockStmt&>(stmt);
      Scope inner(scope_);
      PODSERVE_ASSIGN_OR_RETURN(std::string text, render_to_string(s.body, &inner));
      PODSERVE_ASSIGN_OR_RETURN(Value v, apply_filters(s.filters, Value(std::move(text))));
      PODSERVE_RETURN_IF_ERROR(emit(to_str(v), stmt.loc));
      return Flow::kNormal;
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kScope: {
      const auto& s = static_cast<const ScopeStmt&>(stmt);
      if (!s.new_scope) return exec_body(s.body);
      Scope* outer = scope_;
      Scope inner(outer);
      for (const auto& [name, expr] : s.assignments) {
        PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*expr));
        inner.set(name, std::move(v));
      }
      scope_ = &inner;
      auto flow = exec_body(s.body);
      scope_ = outer;
      return flow;
    }
  }
  return Flow::kNormal;
}

namespace {
// Binds loop / unpacking targets: one name takes the item, several unpack a sequence of the same length.
Status bind_targets(Scope* scope, const std::vector<std::string>& names, const Value& item) {
  if (names.size() == 1) {
    scope->set(names[0], item);
    return ok_status();
  }
  PODSERVE_ASSIGN_OR_RETURN(Array parts, iterate(item));
  if (parts.size() != names.size()) {
    return invalid_argument(parts.size() < names.size()
                                ? "not enough values to unpack (expected " + std::to_string(names.size()) + ")"
                                : "too many values to unpack (expected " + std::to_string(names.size()) + ")");
  }
  for (size_t i = 0; i < names.size(); ++i) scope->set(names[i], parts[i]);
  return ok_status();
}
}  // namespace

Result<Evaluator::Flow> Evaluator::exec_for(const ForStmt& s) {
  PODSERVE_ASSIGN_OR_RETURN(Value seq, eval(*s.iter));
  auto items_or = iterate(seq);
  if (!items_or.ok()) return locate(items_or.status(), s.iter->loc);
  Array items = std::move(items_or).value();
  Scope* const outer = scope_;
  if (s.filter) {  // `for x in xs if cond`: the loop only sees the items that pass
    Array kept;
    for (Value& item : items) {
      PODSERVE_RETURN_IF_ERROR(step(s.loc));
      Scope probe(outer);
      PODSERVE_RETURN_IF_ERROR(locate(bind_targets(&probe, s.targets, item), s.loc));
      scope_ = &probe;
      auto keep = eval(*s.filter);
      scope_ = outer;
      if (!keep.ok()) return keep.status();
      if (truthy(*keep)) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const auto n = static_cast<int64_t>(items.size());
  // One loop object per loop, updated in place each iteration (jinja2's LoopContext is one object too).
  auto loop = std::make_shared<Object>();
  loop->kind = ObjectKind::kLoop;
  loop->entries = {{"index", Value()},     {"index0", Value()}, {"revindex", Value()}, {"revindex0", Value()},
                   {"first", Value()},     {"last", Value()},   {"length", Value(n)},  {"depth", Value(1)},
                   {"depth0", Value(0)},   {"previtem", Value()}, {"nextitem", Value()}, {"cycle", Value()}};
  auto cycle = std::make_shared<Callable>();
  cycle->name = "loop.cycle";
  // A weak reference: the loop object owns this callable.
  cycle->fn = [weak = std::weak_ptr<Object>(loop)](Evaluator&, const CallArgs& a) -> Result<Value> {
    if (a.args.empty()) return invalid_argument("no items for cycling given");
    const auto self = weak.lock();
    const int64_t index0 = self ? self->entries[1].second.as_int() : 0;
    return a.args[static_cast<size_t>(index0) % a.args.size()];
  };
  loop->entries[11].second = Value::callable(std::move(cycle));
  const Value loop_value = Value::object(loop);
  for (int64_t i = 0; i < n; ++i) {
    PODSERVE_RETURN_IF_ERROR(step(s.loc));
    Scope iteration(outer);
    PODSERVE_RETURN_IF_ERROR(locate(bind_targets(&iteration, s.targets, items[i]), s.loc));
    auto& e = loop->entries;
    e[0].second = Value(i + 1);
    e[1].second = Value(i);
    e[2].second = Value(n - i);
    e[3].second = Value(n - i - 1);
    e[4].second = Value(i == 0);
    e[5].second = Value(i == n - 1);
    e[9].second = i > 0 ? items[i - 1] : Value::undefined("there is no previous item");
    e[10].second = i + 1 < n ? items[i + 1] : Value::undefined("there is no next item");
    iteration.set("loop", loop_value);
    scope_ = &iteration;
    auto flow = exec_body(s.body);
    scope_ = outer;
    if (!flow.ok()) return flow.status();
    if (*flow == Flow::kBreak) break;
  }
  if (n == 0 && !s.otherwise.empty()) {
    Scope inner(outer);
    scope_ = &inner;
    auto flow = exec_body(s.otherwise);
    scope_ = outer;
    if (!flow.ok()) return flow.status();
  }
  return Flow::kNormal;
}

Status Evaluator::assign(const SetTarget& target, Value value, Loc loc) {
  if (value.depth() > kMaxValueDepth) return error_at(loc, "value nested too deeply");
  if (!target.attr.empty()) {
    const Value* ns = scope_->lookup(target.names[0]);
    if (ns == nullptr || !ns->is_namespace()) {
      return error_at(loc, "cannot assign attribute on non-namespace object");
    }
    if (value.contains_namespace()) return error_at(loc, "a namespace or loop object cannot be stored inside a namespace");
    ns->object_ptr()->set(target.attr, std::move(value));
    return ok_status();
  }
  return locate(bind_targets(scope_, target.names, value), loc);
}

Result<Value> Evaluator::apply_filters(const std::vector<FilterCall>& filters, Value value) {
  for (const FilterCall& f : filters) {
    PODSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(f.args));
    PODSERVE_ASSIGN_OR_RETURN(value, apply_filter(f.name, value, args, f.loc));
  }
  return value;
}

Result<Value> Evaluator::call_macro(const MacroStmt& macro, const CallArgs& args, Loc loc) {
  if (call_depth_ >= options_.max_call_depth) {
    return error_at(loc, "macro calls nested deeper than " + std::to_string(options_.max_call_depth),
                    StatusCode::kResourceExhausted);
  }
  if (args.args.size() > macro.params.size()) {
    return error_at(loc, "macro '" + macro.name + "' takes not more than " + std::to_string(macro.params.size()) +
                             " argument(s)");
  }
  Scope frame(root_);  // macros see the template's globals, not the caller's locals
  std::vector<bool> bound(macro.params.size(), false);
  for (size_t i = 0; i < args.args.size(); ++i) {
    frame.set(macro.params[i].name, args.args[i]);
    bound[i] = true;
  }
  for (const auto& [key, v] : args.kwargs) {
    if (key == "caller") {
      frame.set("caller", v);
      continue;
    }
    size_t i = 0;
    while (i < macro.params.size() && macro.params[i].name != key) ++i;
    if (i == macro.params.size()) return error_at(loc, "macro '" + macro.name + "' takes no keyword argument '" + key + "'");
    if (bound[i]) return error_at(loc, "macro '" + macro.name + "' got multiple values for argument '" + key + "'");
    frame.set(key, v);
    bound[i] = true;
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

Result<Value> Evaluator::call(const Value& callee, const CallArgs& args, Loc loc) {
  PODSERVE_RETURN_IF_ERROR(step(loc));
  if (callee.is_undefined()) return error_at(loc, callee.undefined_hint());
  if (!callee.is_callable()) return error_at(loc, "'" + type_name(callee) + "' object is not callable");
  auto r = callee.as_callable().fn(*this, args);
  if (!r.ok()) return locate(r.status(), loc);
  return r;
}

Result<Value> Evaluator::apply_filter(std::string_view name, const Value& value, const CallArgs& args, Loc loc) {
  const FilterFn fn = find_filter(name);
  if (fn == nullptr) return error_at(loc, "no filter named '" + std::string(name) + "'");
  auto r = fn(*this, value, args);
  if (!r.ok()) return locate(r.status(), loc);
  return r;
}

Result<bool> Evaluator::apply_test(std::string_view name, const Value& value, const CallArgs& args, Loc loc) {
  const TestFn fn = find_test(name);
  if (fn == nullptr) return error_at(loc, "no test named '" + std::string(name) + "'");
  auto r = fn(*this, value, args);
  if (!r.ok()) return locate(r.status(), loc);
  return r;
}

}  // namespace podserve::jinja
