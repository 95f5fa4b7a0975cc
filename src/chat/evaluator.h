// Evaluator: renders a parsed template against a context. Variables live in a chain of scopes (a fresh
// one per loop iteration and macro call, like jinja2, so `set` inside a loop does not leak); break and
// continue are flow states returned up the statement walk. Every render runs under a budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "chat/ast.h"
#include "chat/value.h"

namespace podserve::jinja {

/// Limits and environment of one render. Exceeding a limit is a ResourceExhausted error.
struct RenderOptions {
  int64_t max_steps = 1'000'000;          // statements executed + loop iterations + calls
  size_t max_output_bytes = 16u << 20;    // rendered text, and any single string or list built on the way
  int max_call_depth = 64;                // nested macro calls
  int64_t max_milliseconds = 0;           // wall-clock time of one render (steps can be slow: long strings); 0 = none
  int64_t now_unix_seconds = -1;          // strftime_now's clock; -1 reads the system clock
};

/// Variables of one scope; lookups fall through to the parent.
class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}
  const Value* lookup(std::string_view name) const;
  void set(std::string_view name, Value value);

 private:
  const Scope* parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

/// Where a recursive loop's `loop(...)` callable lives in the loop object: a key no template can spell as
/// an attribute; `Evaluator::call` looks for it when a loop object is called.
inline constexpr std::string_view kLoopRecurseKey = "\x01recurse";

/// Binds loop / unpacking targets: one name takes the item, several unpack a sequence of the same length.
Status bind_targets(Scope* scope, const std::vector<std::string>& names, const Value& item);

class Evaluator {
 public:
  explicit Evaluator(const RenderOptions& options) : options_(options) {}

  /// Renders `program`; `context` must be a dict (or undefined for no variables).
  Result<std::string> render(const Program& program, const Value& context);

  // Used by builtins (filters, tests, globals, methods).
  Result<Value> call(const Value& callee, const CallArgs& args, Loc loc);
  Result<Value> apply_filter(std::string_view name, const Value& value, const CallArgs& args, Loc loc);
  Result<bool> apply_test(std::string_view name, const Value& value, const CallArgs& args, Loc loc);
  /// Rejects strings longer than the output budget and lists longer than kMaxItems.
  Status check_string_size(size_t bytes) const;
  Status check_items(size_t count) const;
  /// `raise_exception(msg)`: the error the caller sees is exactly `msg`.
  Status user_error(std::string message);
  const RenderOptions& options() const { return options_; }
  /// Renders a macro body for a call.
  Result<Value> call_macro(const MacroStmt& macro, const CallArgs& args, Loc loc);

  static constexpr size_t kMaxItems = 1u << 20;

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Result<Flow> exec_body(const Body& body);
  Result<Flow> exec(const Stmt& stmt);
  Result<Flow> exec_for(const ForStmt& stmt);
  /// One level of a for loop over `seq` (loop.depth0 = `depth0`) in a child scope of `outer`.
  Result<Flow> run_loop(const ForStmt& stmt, const Value& seq, int64_t depth0, Scope* outer);
  Result<Value> exec_call_block(const CallBlockStmt& stmt);
  Status assign(const SetTarget& target, Value value, Loc loc);
  Result<std::string> render_to_string(const Body& body, Scope* scope);
  Result<Value> apply_filters(const std::vector<FilterCall>& filters, Value value);
  Status emit(std::string_view text, Loc loc);
  Status step(Loc loc);

  Result<Value> eval(const Expr& expr);
  Result<Value> eval_compare(const CompareExpr& expr);
  Result<Value> eval_slice(const SliceExpr& expr);
  Result<CallArgs> eval_args(const ArgList& args);
  Result<Value> lookup(const NameExpr& expr) const;

  /// Adds "template error at line L, column C: " to an error raised below `loc`, once.
  Status locate(Status status, Loc loc);
  Status error_at(Loc loc, const std::string& message, StatusCode code = StatusCode::kInvalidArgument);

  RenderOptions options_;
  const Scope* root_ = nullptr;
  Scope* scope_ = nullptr;
  std::string* out_ = nullptr;
  int64_t steps_ = 0;
  std::chrono::steady_clock::time_point deadline_;  // when max_milliseconds > 0
  int call_depth_ = 0;
  bool error_located_ = false;  // the error travelling up already carries a location (or is user text)
};

}  // namespace podserve::jinja
