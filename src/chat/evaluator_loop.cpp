// `{% for %}` loops: the `loop` object, `for ... if` filtering, `else`, and recursive loops, where
// `loop(items)` renders the same loop over `items` one level deeper and returns the text.
#include <memory>
#include <optional>

#include "chat/builtins.h"
#include "chat/evaluator.h"

namespace podserve::jinja {

Result<Evaluator::Flow> Evaluator::exec_for(const ForStmt& s) {
  PODSERVE_ASSIGN_OR_RETURN(Value seq, eval(*s.iter));
  return run_loop(s, seq, 0, scope_);
}

Result<Evaluator::Flow> Evaluator::run_loop(const ForStmt& s, const Value& seq, int64_t depth0, Scope* outer) {
  auto items_or = iterate(seq);
  if (!items_or.ok()) return locate(items_or.status(), s.iter->loc);
  Array items = std::move(items_or).value();
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
                   {"first", Value()},     {"last", Value()},   {"length", Value(n)},  {"depth", Value(depth0 + 1)},
                   {"depth0", Value(depth0)}, {"previtem", Value()}, {"nextitem", Value()}, {"cycle", Value()},
                   {"changed", Value()}};
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
  // loop.changed(*values): whether the values differ from the previous call's (true the first time).
  auto changed = std::make_shared<Callable>();
  changed->name = "loop.changed";
  changed->fn = [last = std::make_shared<std::optional<Array>>()](Evaluator&, const CallArgs& a) -> Result<Value> {
    if (!a.kwargs.empty()) return invalid_argument("loop.changed() takes no keyword arguments");
    for (const Value& v : a.args) {
      // Kept values must not hold mutable objects: the loop object owns this callable (no cycles).
      if (v.contains_namespace()) return invalid_argument("loop.changed() of a namespace or loop object is not supported");
    }
    const Value now = Value::array(a.args, ArrayKind::kTuple);
    if (last->has_value() && equals(Value::array(**last, ArrayKind::kTuple), now)) return Value(false);
    *last = a.args;
    return Value(true);
  };
  loop->entries[12].second = Value::callable(std::move(changed));
  // `alive` guards the captured scope: the callable only works while this level runs.
  auto alive = std::make_shared<bool>(true);
  struct EndOfLevel {
    std::shared_ptr<bool> alive;
    ~EndOfLevel() { *alive = false; }
  } end_of_level{alive};
  if (s.recursive) {
    auto recurse = std::make_shared<Callable>();
    recurse->name = "loop";
    recurse->fn = [alive, &s, depth0, outer](Evaluator& ev, const CallArgs& a) -> Result<Value> {
      if (!*alive) return invalid_argument("a recursive loop was called after it ended");
      if (a.args.size() != 1 || !a.kwargs.empty()) return invalid_argument("loop() takes exactly one argument");
      if (ev.call_depth_ >= ev.options_.max_call_depth) {
        return resource_exhausted("recursive loop nested deeper than " + std::to_string(ev.options_.max_call_depth));
      }
      std::string buf;
      std::string* saved_out = ev.out_;
      Scope* saved_scope = ev.scope_;
      ev.out_ = &buf;
      ++ev.call_depth_;
      auto flow = ev.run_loop(s, a.args[0], depth0 + 1, outer);
      --ev.call_depth_;
      ev.out_ = saved_out;
      ev.scope_ = saved_scope;
      if (!flow.ok()) return flow.status();
      return Value(std::move(buf));
    };
    loop->entries.emplace_back(std::string(kLoopRecurseKey), Value::callable(std::move(recurse)));
  }
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

}  // namespace podserve::jinja
