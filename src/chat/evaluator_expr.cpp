// Expression evaluation (the statement walk is in evaluator.cpp).
#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {

Result<Value> Evaluator::lookup(const NameExpr& expr) const {
  if (const Value* v = scope_->lookup(expr.name)) return *v;
  if (auto g = find_global(expr.name)) return *std::move(g);
  return Value::undefined("'" + expr.name + "' is undefined");
}

Result<CallArgs> Evaluator::eval_args(const ArgList& args) {
  CallArgs out;
  for (const ExprPtr& e : args.positional) {
    PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e));
    out.args.push_back(std::move(v));
  }
  if (args.star_args) {
    PODSERVE_ASSIGN_OR_RETURN(Value seq, eval(*args.star_args));
    Result<Array> items = iterate(seq);
    if (!items.ok()) return error_at(args.star_args->loc, "argument after * must be an iterable, not " + type_name(seq));
    out.args.insert(out.args.end(), items->begin(), items->end());
  }
  for (const auto& [key, e] : args.keyword) {
    PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e));
    out.kwargs.emplace_back(key, std::move(v));
  }
  if (args.star_kwargs) {
    PODSERVE_ASSIGN_OR_RETURN(Value map, eval(*args.star_kwargs));
    if (!map.is_dict()) return error_at(args.star_kwargs->loc, "argument after ** must be a mapping, not " + type_name(map));
    for (const auto& [key, v] : map.as_object().entries) {
      if (!key.empty() && key[0] == '\0') return error_at(args.star_kwargs->loc, "keywords must be strings");
      for (const auto& [seen, unused] : out.kwargs) {
        if (seen == key) return error_at(args.star_kwargs->loc, "got multiple values for keyword argument '" + key + "'");
      }
      out.kwargs.emplace_back(key, v);
    }
  }
  return out;
}

Result<Value> Evaluator::eval(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::kLiteral: return static_cast<const LiteralExpr&>(expr).value;
    case ExprKind::kName: return lookup(static_cast<const NameExpr&>(expr));
    case ExprKind::kList:
    case ExprKind::kTuple: {
      Array items;
      for (const ExprPtr& e : static_cast<const SequenceExpr&>(expr).items) {
        PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e));
        items.push_back(std::move(v));
      }
      Value v = Value::array(std::move(items), expr.kind == ExprKind::kTuple ? ArrayKind::kTuple : ArrayKind::kList);
      if (v.depth() > kMaxValueDepth) return error_at(expr.loc, "value nested too deeply");
      return v;
    }
    case ExprKind::kDict: {
      const auto& items = static_cast<const SequenceExpr&>(expr).items;
      auto obj = std::make_shared<Object>();
      for (size_t i = 0; i + 1 < items.size(); i += 2) {
        PODSERVE_ASSIGN_OR_RETURN(Value k, eval(*items[i]));
        PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*items[i + 1]));
        std::optional<std::string> key = dict_key(k);
        if (!key) return error_at(items[i]->loc, "unsupported dict key type '" + type_name(k) + "'");
        obj->set(std::move(*key), std::move(v));
      }
      Value v = Value::object(std::move(obj));
      if (v.depth() > kMaxValueDepth) return error_at(expr.loc, "value nested too deeply");
      return v;
    }
    case ExprKind::kGetAttr: {
      const auto& e = static_cast<const GetAttrExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value obj, eval(*e.object));
      auto r = get_attr(obj, e.name);
      if (!r.ok()) return locate(r.status(), expr.loc);
      return r;
    }
    case ExprKind::kGetItem: {
      const auto& e = static_cast<const GetItemExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value obj, eval(*e.object));
      PODSERVE_ASSIGN_OR_RETURN(Value key, eval(*e.index));
      auto r = get_item(obj, key);
      if (!r.ok()) return locate(r.status(), expr.loc);
      return r;
    }
    case ExprKind::kSlice: return eval_slice(static_cast<const SliceExpr&>(expr));
    case ExprKind::kUnary: {
      const auto& e = static_cast<const UnaryExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e.operand));
      if (e.op == "not") return Value(!truthy(v));
      auto r = unary_op(e.op, v);
      if (!r.ok()) return locate(r.status(), expr.loc);
      return r;
    }
    case ExprKind::kBinary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value a, eval(*e.left));
      // `and` / `or` short-circuit and yield an operand, as in Python.
      if (e.op == "and") return truthy(a) ? eval(*e.right) : Result<Value>(std::move(a));
      if (e.op == "or") return truthy(a) ? Result<Value>(std::move(a)) : eval(*e.right);
      PODSERVE_ASSIGN_OR_RETURN(Value b, eval(*e.right));
      auto r = binary_op(e.op, a, b, *this);
      if (!r.ok()) return locate(r.status(), expr.loc);
      return r;
    }
    case ExprKind::kCompare: return eval_compare(static_cast<const CompareExpr&>(expr));
    case ExprKind::kCondition: {
      const auto& e = static_cast<const ConditionExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value c, eval(*e.test));
      if (truthy(c)) return eval(*e.then);
      if (e.otherwise) return eval(*e.otherwise);
      return Value::undefined("the inline if-expression on line " + std::to_string(expr.loc.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::kCall: {
      const auto& e = static_cast<const CallExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value callee, eval(*e.callee));
      PODSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args));
      return call(callee, args, expr.loc);
    }
    case ExprKind::kFilter: {
      const auto& e = static_cast<const FilterExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e.operand));
      PODSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args));
      return apply_filter(e.name, v, args, expr.loc);
    }
    case ExprKind::kTest: {
      const auto& e = static_cast<const TestExpr&>(expr);
      PODSERVE_ASSIGN_OR_RETURN(Value v, eval(*e.operand));
      PODSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args));
      PODSERVE_ASSIGN_OR_RETURN(bool r, apply_test(e.name, v, args, expr.loc));
      return Value(r != e.negated);
    }
  }
  return error_at(expr.loc, "unknown expression");
}

Result<Value> Evaluator::eval_compare(const CompareExpr& expr) {
  PODSERVE_ASSIGN_OR_RETURN(Value left, eval(*expr.first));
  for (const auto& [op, operand] : expr.rest) {
    PODSERVE_ASSIGN_OR_RETURN(Value right, eval(*operand));
    bool r = false;
    if (op == "==") {
      r = equals(left, right);
    } else if (op == "!=") {
      r = !equals(left, right);
    } else if (op == "in" || op == "notin") {
      auto c = contains(right, left);
      if (!c.ok()) return locate(c.status(), operand->loc);
      r = *c == (op == "in");
    } else {
      if (left.is_undefined() || right.is_undefined()) {
        return error_at(expr.loc, (left.is_undefined() ? left : right).undefined_hint());
      }
      auto c = compare(left, right);
      if (!c.ok()) return locate(c.status(), expr.loc);
      r = op == "<" ? *c < 0 : op == "<=" ? *c <= 0 : op == ">" ? *c > 0 : *c >= 0;
    }
    if (!r) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Result<Value> Evaluator::eval_slice(const SliceExpr& expr) {
  PODSERVE_ASSIGN_OR_RETURN(Value obj, eval(*expr.object));
  std::optional<int64_t> bounds[3];
  const ExprPtr* parts[3] = {&expr.start, &expr.stop, &expr.step};
  for (int i = 0; i < 3; ++i) {
    if (!*parts[i]) continue;
    PODSERVE_ASSIGN_OR_RETURN(Value v, eval(**parts[i]));
    if (v.is_none()) continue;
    if (!v.is_int() && !v.is_bool()) {
      return error_at(expr.loc, "slice indices must be integers or None");
    }
    bounds[i] = v.is_bool() ? int64_t{v.as_bool()} : v.as_int();
  }
  if (obj.is_undefined()) return error_at(expr.loc, obj.undefined_hint());
  const int64_t step = bounds[2].value_or(1);
  if (step == 0) return error_at(expr.loc, "slice step cannot be zero");
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (is_ascii(s)) {
      std::string out;
      for (int64_t i : slice_indices(static_cast<int64_t>(s.size()), bounds[0], bounds[1], step)) out.push_back(s[i]);
      return Value(std::move(out));
    }
    const std::u32string cps = utf8_decode(s);
    std::u32string out;
    for (int64_t i : slice_indices(static_cast<int64_t>(cps.size()), bounds[0], bounds[1], step)) out.push_back(cps[i]);
    return Value(utf8_encode(out));
  }
  if (obj.is_array() && obj.array_kind() != ArrayKind::kIterator) {
    const Array& a = obj.as_array();
    Array out;
    for (int64_t i : slice_indices(static_cast<int64_t>(a.size()), bounds[0], bounds[1], step)) out.push_back(a[i]);
    return Value::array(std::move(out), obj.array_kind());
  }
  // jinja2 slices with a plain Python subscript (not its forgiving getitem), so this is a TypeError.
  return error_at(expr.loc, "'" + type_name(obj) + "' object is not subscriptable");
}

}  // namespace podserve::jinja
