// Expression grammar, lowest to highest precedence: conditional, or, and, not, comparisons, + -, ~, * / // %,
// **, unary - +, then postfix (attributes, subscripts, calls) with filters and tests binding tightest.
#include "chat/parser_impl.h"

namespace podserve::jinja::detail {

Result<ExprPtr> Parser::parse_tuple(bool with_condexpr, bool explicit_parens) {
  const Loc loc = cur().loc;
  std::vector<ExprPtr> items;
  bool saw_comma = false;
  while (true) {
    const bool at_end = cur().type == TokenType::kVarEnd || cur().type == TokenType::kBlockEnd ||
                        is_op(")") || (!explicit_parens && is_name("if") && !items.empty()) ||
                        (!explicit_parens && is_name("recursive"));
    if (!items.empty() && at_end) break;
    if (items.empty() && explicit_parens && is_op(")")) break;  // ()
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr e, parse_expression(with_condexpr));
    items.push_back(std::move(e));
    if (!skip_op(",")) break;
    saw_comma = true;
  }
  if (items.size() == 1 && !saw_comma) return std::move(items[0]);
  if (items.empty() && !explicit_parens) return error(cur(), "expected an expression, got " + describe(cur()));
  auto t = std::make_unique<SequenceExpr>(ExprKind::kTuple, loc);
  t->items = std::move(items);
  return ExprPtr(std::move(t));
}

Result<ExprPtr> Parser::parse_expression(bool with_condexpr) {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr expr, parse_or());
  if (!with_condexpr) return expr;
  while (is_name("if")) {
    const Loc loc = cur().loc;
    advance();
    auto c = std::make_unique<ConditionExpr>(loc);
    c->then = std::move(expr);
    PODSERVE_ASSIGN_OR_RETURN(c->test, parse_or());
    if (skip_name("else")) {
      PODSERVE_ASSIGN_OR_RETURN(c->otherwise, parse_expression());
    }
    expr = std::move(c);
  }
  return expr;
}

Result<ExprPtr> Parser::parse_or() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
  while (is_name("or")) {
    const Loc loc = cur().loc;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
    left = std::make_unique<BinaryExpr>(loc, "or", std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_and() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
  while (is_name("and")) {
    const Loc loc = cur().loc;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
    left = std::make_unique<BinaryExpr>(loc, "and", std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_not() {
  DepthGuard guard(&depth_);
  if (guard.too_deep()) return error(cur(), "expression nested too deeply");
  if (is_name("not")) {
    const Loc loc = cur().loc;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr operand, parse_not());
    return ExprPtr(std::make_unique<UnaryExpr>(loc, "not", std::move(operand)));
  }
  return parse_compare();
}

Result<ExprPtr> Parser::parse_compare() {
  const Loc loc = cur().loc;
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr first, parse_math1());
  std::unique_ptr<CompareExpr> cmp;
  while (true) {
    std::string op;
    if (cur().type == TokenType::kOp &&
        (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
         cur().text == ">" || cur().text == ">=")) {
      op = cur().text;
      advance();
    } else if (is_name("in")) {
      op = "in";
      advance();
    } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
      op = "notin";
      advance();
      advance();
    } else {
      break;
    }
    if (!cmp) cmp = std::make_unique<CompareExpr>(loc, std::move(first));
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr operand, parse_math1());
    cmp->rest.emplace_back(std::move(op), std::move(operand));
  }
  if (!cmp) return first;
  return ExprPtr(std::move(cmp));
}

Result<ExprPtr> Parser::parse_math1() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_concat());
  while (is_op("+") || is_op("-")) {
    const Loc loc = cur().loc;
    std::string op = cur().text;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_concat());
    left = std::make_unique<BinaryExpr>(loc, std::move(op), std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_concat() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_math2());
  while (is_op("~")) {
    const Loc loc = cur().loc;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_math2());
    left = std::make_unique<BinaryExpr>(loc, "~", std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_math2() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_pow());
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const Loc loc = cur().loc;
    std::string op = cur().text;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_pow());
    left = std::make_unique<BinaryExpr>(loc, std::move(op), std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_pow() {
  PODSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_unary(true));
  while (is_op("**")) {  // left-associative in jinja2
    const Loc loc = cur().loc;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_unary(true));
    left = std::make_unique<BinaryExpr>(loc, "**", std::move(left), std::move(right));
  }
  return left;
}

Result<ExprPtr> Parser::parse_unary(bool with_filter) {
  DepthGuard guard(&depth_);
  if (guard.too_deep()) return error(cur(), "expression nested too deeply");
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const Loc loc = cur().loc;
    std::string op = cur().text;
    advance();
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
    node = std::make_unique<UnaryExpr>(loc, std::move(op), std::move(operand));
  } else {
    PODSERVE_ASSIGN_OR_RETURN(node, parse_primary());
  }
  PODSERVE_ASSIGN_OR_RETURN(node, parse_postfix(std::move(node)));
  if (with_filter) {
    PODSERVE_ASSIGN_OR_RETURN(node, parse_filter_expr(std::move(node)));
  }
  return node;
}

Result<ExprPtr> Parser::parse_primary() {
  const Token& t = cur();
  const Loc loc = t.loc;
  switch (t.type) {
    case TokenType::kName: {
      std::string n = t.text;
      advance();
      if (n == "true" || n == "True") return ExprPtr(std::make_unique<LiteralExpr>(loc, Value(true)));
      if (n == "false" || n == "False") return ExprPtr(std::make_unique<LiteralExpr>(loc, Value(false)));
      if (n == "none" || n == "None") return ExprPtr(std::make_unique<LiteralExpr>(loc, Value::none()));
      for (MacroStmt* m : open_macros_) {
        m->uses_varargs = m->uses_varargs || n == "varargs";
        m->uses_kwargs = m->uses_kwargs || n == "kwargs";
        m->uses_caller = m->uses_caller || n == "caller";
      }
      return ExprPtr(std::make_unique<NameExpr>(loc, std::move(n)));
    }
    case TokenType::kString: {
      std::string s;
      while (cur().type == TokenType::kString) {  // adjacent literals concatenate
        s += cur().text;
        advance();
      }
      return ExprPtr(std::make_unique<LiteralExpr>(loc, Value(std::move(s))));
    }
    case TokenType::kInt: {
      const int64_t v = t.int_value;
      advance();
      return ExprPtr(std::make_unique<LiteralExpr>(loc, Value(v)));
    }
    case TokenType::kFloat: {
      const double v = t.float_value;
      advance();
      return ExprPtr(std::make_unique<LiteralExpr>(loc, Value(v)));
    }
    case TokenType::kOp:
      if (t.text == "(") {
        advance();
        PODSERVE_ASSIGN_OR_RETURN(ExprPtr e, parse_tuple(true, true));
        PODSERVE_RETURN_IF_ERROR(expect_op(")"));
        return e;
      }
      if (t.text == "[" || t.text == "{") {
        const bool is_dict = t.text == "{";
        const std::string close = is_dict ? "}" : "]";
        advance();
        auto seq = std::make_unique<SequenceExpr>(is_dict ? ExprKind::kDict : ExprKind::kList, loc);
        while (!is_op(close)) {
          if (!seq->items.empty()) {
            PODSERVE_RETURN_IF_ERROR(expect_op(","));
            if (is_op(close)) break;
          }
          PODSERVE_ASSIGN_OR_RETURN(ExprPtr item, parse_expression());
          seq->items.push_back(std::move(item));
          if (is_dict) {
            PODSERVE_RETURN_IF_ERROR(expect_op(":"));
            PODSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
            seq->items.push_back(std::move(value));
          }
        }
        advance();
        return ExprPtr(std::move(seq));
      }
      break;
    default: break;
  }
  return unexpected();
}

Result<ExprPtr> Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      PODSERVE_ASSIGN_OR_RETURN(node, parse_subscript(std::move(node)));
    } else if (is_op("(")) {
      auto call = std::make_unique<CallExpr>(cur().loc, std::move(node));
      PODSERVE_RETURN_IF_ERROR(parse_args(&call->args));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      const Loc loc = cur().loc;
      advance();
      PODSERVE_ASSIGN_OR_RETURN(std::string name, parse_dotted_name());
      auto f = std::make_unique<FilterExpr>(loc, std::move(node), std::move(name));
      if (is_op("(")) PODSERVE_RETURN_IF_ERROR(parse_args(&f->args));
      node = std::move(f);
    } else if (is_name("is")) {
      const Loc loc = cur().loc;
      advance();
      const bool negated = skip_name("not");
      PODSERVE_ASSIGN_OR_RETURN(std::string name, parse_dotted_name());
      auto t = std::make_unique<TestExpr>(loc, std::move(node), std::move(name));
      t->negated = negated;
      const TokenType ty = cur().type;
      const bool arg_start = ty == TokenType::kName || ty == TokenType::kString || ty == TokenType::kInt ||
                             ty == TokenType::kFloat || is_op("[") || is_op("{");
      if (is_op("(")) {
        PODSERVE_RETURN_IF_ERROR(parse_args(&t->args));
      } else if (arg_start && !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) return error(cur(), "you cannot chain multiple tests with is");
        PODSERVE_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
        PODSERVE_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
        t->args.positional.push_back(std::move(arg));
      }
      node = std::move(t);
    } else if (is_op("(")) {
      auto call = std::make_unique<CallExpr>(cur().loc, std::move(node));
      PODSERVE_RETURN_IF_ERROR(parse_args(&call->args));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_subscript(ExprPtr node) {
  const Loc loc = cur().loc;
  if (skip_op(".")) {
    if (cur().type == TokenType::kName) {
      std::string n = cur().text;
      advance();
      return ExprPtr(std::make_unique<GetAttrExpr>(loc, std::move(node), std::move(n)));
    }
    if (cur().type == TokenType::kInt) {
      auto idx = std::make_unique<LiteralExpr>(cur().loc, Value(cur().int_value));
      advance();
      return ExprPtr(std::make_unique<GetItemExpr>(loc, std::move(node), std::move(idx)));
    }
    return error(cur(), "expected a name or number after '.', got " + describe(cur()));
  }
  advance();  // '['
  ExprPtr parts[3];
  int part = 0;
  bool is_slice = false;
  std::vector<ExprPtr> tuple;  // obj[a, b]: a tuple key
  while (!is_op("]")) {
    if (skip_op(":")) {
      if (++part > 2 || !tuple.empty()) return error(cur(), "unsupported subscript");
      is_slice = true;
      continue;
    }
    if (skip_op(",")) {
      if (is_slice || !parts[0]) return error(cur(), "unsupported subscript");
      tuple.push_back(std::move(parts[0]));
      continue;
    }
    if (parts[part]) return error(cur(), "expected ']' or ':', got " + describe(cur()));
    PODSERVE_ASSIGN_OR_RETURN(parts[part], parse_expression());
  }
  advance();
  if (!tuple.empty()) {
    if (parts[0]) tuple.push_back(std::move(parts[0]));
    auto key = std::make_unique<SequenceExpr>(ExprKind::kTuple, loc);
    key->items = std::move(tuple);
    return ExprPtr(std::make_unique<GetItemExpr>(loc, std::move(node), std::move(key)));
  }
  if (!is_slice) {
    if (!parts[0]) return error(cur(), "expected a subscript expression");
    return ExprPtr(std::make_unique<GetItemExpr>(loc, std::move(node), std::move(parts[0])));
  }
  auto s = std::make_unique<SliceExpr>(loc);
  s->object = std::move(node);
  s->start = std::move(parts[0]);
  s->stop = std::move(parts[1]);
  s->step = std::move(parts[2]);
  return ExprPtr(std::move(s));
}

Status Parser::parse_args(ArgList* args) {
  PODSERVE_RETURN_IF_ERROR(expect_op("("));
  bool first = true;
  while (!is_op(")")) {
    if (!first) {
      PODSERVE_RETURN_IF_ERROR(expect_op(","));
      if (is_op(")")) break;
    }
    first = false;
    // jinja2's rules: positional arguments come first; keywords and one `*seq` may follow in any order;
    // one `**mapping` ends the list.
    const bool star = is_op("*"), keyword = cur().type == TokenType::kName && peek().type == TokenType::kOp &&
                                                   peek().text == "=";
    if (args->star_kwargs || (star && args->star_args) || (!star && !keyword && !is_op("**") && args->star_args)) {
      return error(cur(), "invalid syntax for function call expression");
    }
    if (star || is_op("**")) {
      advance();
      PODSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
      (star ? args->star_args : args->star_kwargs) = std::move(value);
      continue;
    }
    if (keyword) {
      std::string key = cur().text;
      advance();
      advance();
      PODSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
      args->keyword.emplace_back(std::move(key), std::move(value));
    } else {
      if (!args->keyword.empty()) return error(cur(), "positional argument follows keyword argument");
      PODSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
      args->positional.push_back(std::move(value));
    }
  }
  advance();
  return ok_status();
}

Result<std::string> Parser::parse_dotted_name() {
  PODSERVE_ASSIGN_OR_RETURN(std::string name, expect_name());
  while (is_op(".") && peek().type == TokenType::kName) {
    advance();
    name += "." + cur().text;
    advance();
  }
  return name;
}

}  // namespace podserve::jinja::detail
