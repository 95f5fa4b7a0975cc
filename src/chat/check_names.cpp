// Compile-time check of filter and test names (jinja2's "No filter named ..."). jinja2 only defers the
// error inside "soft" frames: the test and branches of an `if` statement and all of an inline `if`
// expression; loop, macro, call, filter and set-block bodies start hard frames again.
#include "chat/builtins.h"
#include "chat/parser.h"

namespace podserve::jinja {
namespace {

Status name_error(Loc loc, const std::string& what, const std::string& name) {
  return invalid_argument("template syntax error at " + loc_string(loc) + ": no " + what + " named '" + name + "'");
}

Status check_expr(const Expr* e, bool soft);

Status check_args(const ArgList& args, bool soft) {
  for (const ExprPtr& a : args.positional) PODSERVE_RETURN_IF_ERROR(check_expr(a.get(), soft));
  for (const auto& [k, a] : args.keyword) PODSERVE_RETURN_IF_ERROR(check_expr(a.get(), soft));
  PODSERVE_RETURN_IF_ERROR(check_expr(args.star_args.get(), soft));
  return check_expr(args.star_kwargs.get(), soft);
}

Status check_expr(const Expr* e, bool soft) {
  if (e == nullptr) return ok_status();
  switch (e->kind) {
    case ExprKind::kLiteral:
    case ExprKind::kName: return ok_status();
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kDict:
      for (const ExprPtr& item : static_cast<const SequenceExpr*>(e)->items) {
        PODSERVE_RETURN_IF_ERROR(check_expr(item.get(), soft));
      }
      return ok_status();
    case ExprKind::kGetAttr: return check_expr(static_cast<const GetAttrExpr*>(e)->object.get(), soft);
    case ExprKind::kGetItem: {
      const auto* g = static_cast<const GetItemExpr*>(e);
      PODSERVE_RETURN_IF_ERROR(check_expr(g->object.get(), soft));
      return check_expr(g->index.get(), soft);
    }
    case ExprKind::kSlice: {
      const auto* s = static_cast<const SliceExpr*>(e);
      for (const Expr* part : {s->object.get(), s->start.get(), s->stop.get(), s->step.get()}) {
        PODSERVE_RETURN_IF_ERROR(check_expr(part, soft));
      }
      return ok_status();
    }
    case ExprKind::kUnary: return check_expr(static_cast<const UnaryExpr*>(e)->operand.get(), soft);
    case ExprKind::kBinary: {
      const auto* b = static_cast<const BinaryExpr*>(e);
      PODSERVE_RETURN_IF_ERROR(check_expr(b->left.get(), soft));
      return check_expr(b->right.get(), soft);
    }
    case ExprKind::kCompare: {
      const auto* c = static_cast<const CompareExpr*>(e);
      PODSERVE_RETURN_IF_ERROR(check_expr(c->first.get(), soft));
      for (const auto& [op, operand] : c->rest) PODSERVE_RETURN_IF_ERROR(check_expr(operand.get(), soft));
      return ok_status();
    }
    case ExprKind::kCondition: {
      const auto* c = static_cast<const ConditionExpr*>(e);
      for (const Expr* part : {c->test.get(), c->then.get(), c->otherwise.get()}) {
        PODSERVE_RETURN_IF_ERROR(check_expr(part, true));
      }
      return ok_status();
    }
    case ExprKind::kCall: {
      const auto* c = static_cast<const CallExpr*>(e);
      PODSERVE_RETURN_IF_ERROR(check_expr(c->callee.get(), soft));
      return check_args(c->args, soft);
    }
    case ExprKind::kFilter: {
      const auto* f = static_cast<const FilterExpr*>(e);
      if (!soft && find_filter(f->name) == nullptr) return name_error(e->loc, "filter", f->name);
      PODSERVE_RETURN_IF_ERROR(check_expr(f->operand.get(), soft));
      return check_args(f->args, soft);
    }
    case ExprKind::kTest: {
      const auto* t = static_cast<const TestExpr*>(e);
      if (!soft && find_test(t->name) == nullptr) return name_error(e->loc, "test", t->name);
      PODSERVE_RETURN_IF_ERROR(check_expr(t->operand.get(), soft));
      return check_args(t->args, soft);
    }
  }
  return ok_status();
}

Status check_filters(const std::vector<FilterCall>& filters, bool soft) {
  for (const FilterCall& f : filters) {
    if (!soft && find_filter(f.name) == nullptr) return name_error(f.loc, "filter", f.name);
    PODSERVE_RETURN_IF_ERROR(check_args(f.args, soft));
  }
  return ok_status();
}

Status check_body(const Body& body, bool soft);

Status check_params(const std::vector<MacroParam>& params, bool soft) {
  for (const MacroParam& p : params) PODSERVE_RETURN_IF_ERROR(check_expr(p.default_value.get(), soft));
  return ok_status();
}

Status check_stmt(const Stmt& s, bool soft) {
  switch (s.kind) {
    case StmtKind::kText:
    case StmtKind::kBreak:
    case StmtKind::kContinue: return ok_status();
    case StmtKind::kOutput: return check_expr(static_cast<const OutputStmt&>(s).expr.get(), soft);
    case StmtKind::kIf: {
      const auto& i = static_cast<const IfStmt&>(s);
      for (const auto& [cond, body] : i.branches) {
        PODSERVE_RETURN_IF_ERROR(check_expr(cond.get(), true));
        PODSERVE_RETURN_IF_ERROR(check_body(body, true));
      }
      return check_body(i.otherwise, true);
    }
    case StmtKind::kFor: {
      const auto& f = static_cast<const ForStmt&>(s);
      PODSERVE_RETURN_IF_ERROR(check_expr(f.iter.get(), soft));
      PODSERVE_RETURN_IF_ERROR(check_expr(f.filter.get(), false));
      PODSERVE_RETURN_IF_ERROR(check_body(f.body, false));
      return check_body(f.otherwise, false);
    }
    case StmtKind::kSet: return check_expr(static_cast<const SetStmt&>(s).value.get(), soft);
    case StmtKind::kSetBlock: {
      const auto& b = static_cast<const SetBlockStmt&>(s);
      PODSERVE_RETURN_IF_ERROR(check_filters(b.filters, soft));
      return check_body(b.body, false);
    }
    case StmtKind::kMacro: {
      const auto& m = static_cast<const MacroStmt&>(s);
      PODSERVE_RETURN_IF_ERROR(check_params(m.params, false));
      return check_body(m.body, false);
    }
    case StmtKind::kCallBlock: {
      const auto& c = static_cast<const CallBlockStmt&>(s);
      PODSERVE_RETURN_IF_ERROR(check_expr(c.call.get(), soft));
      PODSERVE_RETURN_IF_ERROR(check_params(c.caller_params, false));
      return check_body(c.body, false);
    }
    case StmtKind::kFilterBlock: {
      const auto& f = static_cast<const FilterBlockStmt&>(s);
      PODSERVE_RETURN_IF_ERROR(check_filters(f.filters, soft));
      return check_body(f.body, false);
    }
    case StmtKind::kBlock: return check_body(static_cast<const BlockStmt&>(s).body, false);
    case StmtKind::kLoad: return check_expr(static_cast<const LoadStmt&>(s).source.get(), soft);
    case StmtKind::kScope: {
      const auto& scope = static_cast<const ScopeStmt&>(s);
      for (const auto& [name, expr] : scope.assignments) PODSERVE_RETURN_IF_ERROR(check_expr(expr.get(), soft));
      return check_body(scope.body, false);
    }
  }
  return ok_status();
}

Status check_body(const Body& body, bool soft) {
  for (const StmtPtr& s : body) PODSERVE_RETURN_IF_ERROR(check_stmt(*s, soft));
  return ok_status();
}

}  // namespace

Status check_names(const Program& program) { return check_body(program.body, false); }

}  // namespace podserve::jinja
