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
  if (++steps_ > options_.max_steps) {
    return error_at(loc, "render exceeded " + std::to_string(options_.max_steps) + " steps",
                    StatusCode::kResourceExhausted);
  }
  // The clock is read every 32 steps: cheap next to a step, and one step copies at most max_output_bytes.
  if (options_.max_milliseconds > 0 && steps_ % 32 == 0 && std::chrono::steady_clock::now() > deadline_) {
    return error_at(loc, "render exceeded " + std::to_string(options_.max_milliseconds) + " ms",
                    StatusCode::kResourceExhausted);
  }
  return ok_status();
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
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.max_milliseconds);
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
    case StmtKind::kBlock: {
      const auto& b = static_cast<const BlockStmt&>(stmt);
      if (b.required) return error_at(stmt.loc, "Required block '" + b.name + "' not found");
      Scope* outer = scope_;
      Scope inner(b.scoped ? outer : root_);
      scope_ = &inner;
      auto flow = exec_body(b.body);
      scope_ = outer;
      if (!flow.ok()) return flow.status();
      return Flow::kNormal;
    }
    case StmtKind::kLoad: {
      PODSERVE_RETURN_IF_ERROR(eval(*static_cast<const LoadStmt&>(stmt).source).status());
      return error_at(stmt.loc, "no loader for this environment specified");
    }
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

Result<Value> Evaluator::call(const Value& callee, const CallArgs& args, Loc loc) {
  PODSERVE_RETURN_IF_ERROR(step(loc));
  if (callee.is_undefined()) return error_at(loc, callee.undefined_hint());
  const Value* target = &callee;
  if (callee.is_object() && callee.as_object().kind == ObjectKind::kLoop) {
    target = callee.as_object().find(kLoopRecurseKey);
    if (target == nullptr) return error_at(loc, "The loop must have the 'recursive' marker to be called recursively.");
  }
  if (!target->is_callable()) return error_at(loc, "'" + type_name(callee) + "' object is not callable");
  auto r = target->as_callable().fn(*this, args);
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
