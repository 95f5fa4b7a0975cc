// Template AST: expressions and statements, each node with its source location. Nodes are owned through
// unique_ptr by their parent; the evaluator switches on `kind` and static_casts to the concrete node.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/lexer.h"
#include "chat/value.h"

namespace podserve::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

/// Call arguments as written: positional then keyword (`f(a, b=1)`).
struct ArgList {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // `*seq` (after the keywords, as jinja2 requires): more positional arguments; may be null
  ExprPtr star_kwargs;  // `**mapping` (last): more keyword arguments; may be null
};

enum class ExprKind : uint8_t {
  kLiteral, kName, kList, kTuple, kDict, kGetAttr, kGetItem, kSlice, kUnary, kBinary, kCompare, kCondition,
  kCall, kFilter, kTest,
};

struct Expr {
  Expr(ExprKind k, Loc l) : kind(k), loc(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  Loc loc;
};

struct LiteralExpr : Expr {
  LiteralExpr(Loc l, Value v) : Expr(ExprKind::kLiteral, l), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(Loc l, std::string n) : Expr(ExprKind::kName, l), name(std::move(n)) {}
  std::string name;
};

/// List, tuple or dict display. For dicts, `items` alternates key, value.
struct SequenceExpr : Expr {
  SequenceExpr(ExprKind k, Loc l) : Expr(k, l) {}
  std::vector<ExprPtr> items;
};

struct GetAttrExpr : Expr {
  GetAttrExpr(Loc l, ExprPtr o, std::string n) : Expr(ExprKind::kGetAttr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct GetItemExpr : Expr {
  GetItemExpr(Loc l, ExprPtr o, ExprPtr i) : Expr(ExprKind::kGetItem, l), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object;
  ExprPtr index;
};

/// `object[start:stop:step]`; absent parts are null.
struct SliceExpr : Expr {
  explicit SliceExpr(Loc l) : Expr(ExprKind::kSlice, l) {}
  ExprPtr object, start, stop, step;
};

/// Unary `-`, `+` or `not`.
struct UnaryExpr : Expr {
  UnaryExpr(Loc l, std::string o, ExprPtr e) : Expr(ExprKind::kUnary, l), op(std::move(o)), operand(std::move(e)) {}
  std::string op;
  ExprPtr operand;
};

/// Arithmetic `+ - * / // % **`, concatenation `~`, and short-circuit `and` / `or`.
struct BinaryExpr : Expr {
  BinaryExpr(Loc l, std::string o, ExprPtr a, ExprPtr b)
      : Expr(ExprKind::kBinary, l), op(std::move(o)), left(std::move(a)), right(std::move(b)) {}
  std::string op;
  ExprPtr left, right;
};

/// A comparison chain `a < b <= c` (ops: == != < <= > >= in notin).
struct CompareExpr : Expr {
  CompareExpr(Loc l, ExprPtr f) : Expr(ExprKind::kCompare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<std::string, ExprPtr>> rest;
};

/// `then if test else otherwise`; without `else` a false test yields undefined.
struct ConditionExpr : Expr {
  explicit ConditionExpr(Loc l) : Expr(ExprKind::kCondition, l) {}
  ExprPtr test, then, otherwise;
};

struct CallExpr : Expr {
  CallExpr(Loc l, ExprPtr c) : Expr(ExprKind::kCall, l), callee(std::move(c)) {}
  ExprPtr callee;
  ArgList args;
};

/// `operand | name(args)`.
struct FilterExpr : Expr {
  FilterExpr(Loc l, ExprPtr o, std::string n) : Expr(ExprKind::kFilter, l), operand(std::move(o)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  ArgList args;
};

/// `operand is [not] name(args)`.
struct TestExpr : Expr {
  TestExpr(Loc l, ExprPtr o, std::string n) : Expr(ExprKind::kTest, l), operand(std::move(o)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  ArgList args;
  bool negated = false;
};

enum class StmtKind : uint8_t {
  kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kCallBlock, kFilterBlock, kBreak, kContinue, kScope,
  kBlock, kLoad,
};

struct Stmt {
  Stmt(StmtKind k, Loc l) : kind(k), loc(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  Loc loc;
};

struct TextStmt : Stmt {
  TextStmt(Loc l, std::string t) : Stmt(StmtKind::kText, l), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(Loc l, ExprPtr e) : Stmt(StmtKind::kOutput, l), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(Loc l) : Stmt(StmtKind::kIf, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif ...
  Body otherwise;
};

struct ForStmt : Stmt {
  explicit ForStmt(Loc l) : Stmt(StmtKind::kFor, l) {}
  std::vector<std::string> targets;  // one name, or several to unpack
  ExprPtr iter;
  ExprPtr filter;  // `for x in y if cond`; may be null
  Body body;
  Body otherwise;
  bool recursive = false;  // `{% for ... recursive %}`: `loop(items)` renders the loop again, one level deeper
};

/// Assignment target: `name`, `a, b` (unpacking) or `ns.attr`.
struct SetTarget {
  std::vector<std::string> names;
  std::string attr;  // non-empty: assign names[0].attr (a namespace)
};

struct SetStmt : Stmt {
  explicit SetStmt(Loc l) : Stmt(StmtKind::kSet, l) {}
  SetTarget target;
  ExprPtr value;
};

/// One filter application without its operand: used by `{% filter %}` and `{% set x | f %}` blocks.
struct FilterCall {
  Loc loc;
  std::string name;
  ArgList args;
};

/// `{% set x %}...{% endset %}`, optionally filtered.
struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(Loc l) : Stmt(StmtKind::kSetBlock, l) {}
  SetTarget target;
  std::vector<FilterCall> filters;
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(Loc l) : Stmt(StmtKind::kMacro, l) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  // Whether the body names these specials: extra positional arguments land in `varargs` (a tuple), extra
  // keyword arguments in `kwargs` (a dict), and a call block's body is `caller`; otherwise they are errors.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

/// `{% call(params) macro(args) %}body{% endcall %}`: the body is passed as `caller`.
struct CallBlockStmt : Stmt {
  explicit CallBlockStmt(Loc l) : Stmt(StmtKind::kCallBlock, l) {}
  std::vector<MacroParam> caller_params;
  ExprPtr call;  // a CallExpr
  Body body;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(Loc l) : Stmt(StmtKind::kFilterBlock, l) {}
  std::vector<FilterCall> filters;
  Body body;
};

/// A body rendered in place: `{% generation %}` (HF's assistant-mask extension) needs nothing more;
/// `{% with a = x, b = y %}` also opens a scope holding its assignments (evaluated in the outer scope).
struct ScopeStmt : Stmt {
  explicit ScopeStmt(Loc l) : Stmt(StmtKind::kScope, l) {}
  bool new_scope = false;
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

/// `{% block name [scoped] [required] %}`. With no `extends` in effect (transformers' environment has no
/// loader) jinja2 renders a block in place, as a function of its own: it sees the template's top-level
/// variables (`scoped`: the enclosing scope's) and its own `set`s do not leak out.
struct BlockStmt : Stmt {
  explicit BlockStmt(Loc l) : Stmt(StmtKind::kBlock, l) {}
  std::string name;
  bool scoped = false;
  bool required = false;  // rendering a required block is an error ("not found" without a child template)
  Body body;
};

/// `{% include %}`, `{% import %}`, `{% from ... import %}`, `{% extends %}`: they need a template loader,
/// which transformers' environment lacks, so running one is jinja2's "no loader" TypeError. Parsed anyway:
/// a template that never runs them renders.
struct LoadStmt : Stmt {
  explicit LoadStmt(Loc l) : Stmt(StmtKind::kLoad, l) {}
  ExprPtr source;  // the template name(s), evaluated before the error as jinja2 does
};

/// A parsed template.
struct Program {
  Body body;
};

}  // namespace podserve::jinja
