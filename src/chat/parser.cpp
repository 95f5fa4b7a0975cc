#include "chat/parser.h"

#include "chat/parser_impl.h"

namespace podserve::jinja {
namespace detail {

Status Parser::parse_body(Body* body, std::initializer_list<std::string_view> end_tags, std::string* found) {
  while (true) {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::kText:
        body->push_back(std::make_unique<TextStmt>(t.loc, t.text));
        advance();
        break;
      case TokenType::kVarBegin: {
        advance();
        PODSERVE_ASSIGN_OR_RETURN(ExprPtr e, parse_tuple(true, false));
        if (cur().type != TokenType::kVarEnd) return error(cur(), "expected end of print statement, got " + describe(cur()));
        advance();
        body->push_back(std::make_unique<OutputStmt>(t.loc, std::move(e)));
        break;
      }
      case TokenType::kBlockBegin: {
        advance();
        if (cur().type != TokenType::kName) return error(cur(), "expected a statement name, got " + describe(cur()));
        for (std::string_view end : end_tags) {
          if (cur().text == end) {
            *found = cur().text;
            advance();
            return ok_status();
          }
        }
        PODSERVE_ASSIGN_OR_RETURN(StmtPtr s, parse_statement());
        body->push_back(std::move(s));
        break;
      }
      case TokenType::kEof: {
        if (end_tags.size() == 0) return ok_status();
        std::string expected;
        for (std::string_view end : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(end) + "'";
        return error(t, "unexpected end of template, expected " + expected);
      }
      default: return unexpected();
    }
  }
}

Status Parser::parse_end(Body* body, std::string_view end_tag) {
  std::string found;
  PODSERVE_RETURN_IF_ERROR(parse_body(body, {end_tag}, &found));
  return expect_block_end();
}

Result<StmtPtr> Parser::parse_statement() {
  DepthGuard guard(&depth_);
  const Token& t = cur();
  if (guard.too_deep()) return error(t, "statements nested too deeply");
  const std::string name = t.text;
  const Loc loc = t.loc;
  advance();
  if (name == "if") return parse_if(loc);
  if (name == "for") return parse_for(loc);
  if (name == "set") return parse_set(loc);
  if (name == "macro") return parse_macro(loc);
  if (name == "call") return parse_call_block(loc);
  if (name == "block") return parse_block(loc);
  if (name == "include" || name == "import" || name == "from" || name == "extends") return parse_load(name, loc);
  if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) return error(t, "'" + name + "' outside loop");
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    return std::make_unique<Stmt>(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, loc);
  }
  if (name == "filter") {
    auto s = std::make_unique<FilterBlockStmt>(loc);
    PODSERVE_RETURN_IF_ERROR(parse_filter_chain(&s->filters));
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    PODSERVE_RETURN_IF_ERROR(parse_end(&s->body, "endfilter"));
    return StmtPtr(std::move(s));
  }
  if (name == "generation") {
    auto s = std::make_unique<ScopeStmt>(loc);
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    PODSERVE_RETURN_IF_ERROR(parse_end(&s->body, "endgeneration"));
    return StmtPtr(std::move(s));
  }
  if (name == "with") {
    auto s = std::make_unique<ScopeStmt>(loc);
    s->new_scope = true;
    while (cur().type == TokenType::kName) {
      PODSERVE_ASSIGN_OR_RETURN(std::string target, expect_name());
      if (!skip_op("=")) return error(cur(), "expected '=' after '" + target + "' in 'with'");
      PODSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
      s->assignments.emplace_back(std::move(target), std::move(value));
      if (!skip_op(",")) break;
    }
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    PODSERVE_RETURN_IF_ERROR(parse_end(&s->body, "endwith"));
    return StmtPtr(std::move(s));
  }
  return error(t, "encountered unknown tag '" + name + "'");
}

Result<StmtPtr> Parser::parse_block(Loc loc) {
  auto s = std::make_unique<BlockStmt>(loc);
  const Token& name_token = cur();
  PODSERVE_ASSIGN_OR_RETURN(s->name, expect_name());
  for (const std::string& seen : block_names_) {
    if (seen == s->name) return error(name_token, "block '" + s->name + "' defined twice");
  }
  block_names_.push_back(s->name);
  s->scoped = skip_name("scoped");
  s->required = skip_name("required");
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  const int saved = loop_depth_;
  loop_depth_ = 0;  // a block body is a function of its own, not inside an enclosing loop
  std::string found;
  Status body = parse_body(&s->body, {"endblock"}, &found);
  loop_depth_ = saved;
  PODSERVE_RETURN_IF_ERROR(body);
  skip_name(s->name);  // `{% endblock name %}`
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  if (s->required) {
    for (const StmtPtr& st : s->body) {
      const bool blank = st->kind == StmtKind::kText &&
                         static_cast<const TextStmt&>(*st).text.find_first_not_of(" \t\r\n") == std::string::npos;
      if (!blank) return error(name_token, "Required blocks can only contain comments or whitespace");
    }
  }
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_load(const std::string& tag, Loc loc) {
  auto s = std::make_unique<LoadStmt>(loc);
  PODSERVE_ASSIGN_OR_RETURN(s->source, parse_expression());
  const auto context_modifier = [this] {
    return (is_name("with") || is_name("without")) && peek().type == TokenType::kName && peek().text == "context";
  };
  if (tag == "include" && skip_name("ignore")) {
    if (!skip_name("missing")) return error(cur(), "expected 'missing' after 'ignore', got " + describe(cur()));
  } else if (tag == "import") {
    if (!skip_name("as")) return error(cur(), "expected 'as', got " + describe(cur()));
    PODSERVE_RETURN_IF_ERROR(expect_name().status());
  } else if (tag == "from") {
    if (!skip_name("import")) return error(cur(), "expected 'import', got " + describe(cur()));
    do {
      if (context_modifier()) break;
      PODSERVE_RETURN_IF_ERROR(expect_name().status());
      if (skip_name("as")) PODSERVE_RETURN_IF_ERROR(expect_name().status());
    } while (skip_op(","));
  }
  if (tag != "extends" && context_modifier()) {
    advance();
    advance();
  }
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_if(Loc loc) {
  auto s = std::make_unique<IfStmt>(loc);
  while (true) {
    PODSERVE_ASSIGN_OR_RETURN(ExprPtr cond, parse_tuple(false, false));
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    Body body;
    std::string found;
    PODSERVE_RETURN_IF_ERROR(parse_body(&body, {"elif", "else", "endif"}, &found));
    s->branches.emplace_back(std::move(cond), std::move(body));
    if (found == "elif") continue;
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    if (found == "else") PODSERVE_RETURN_IF_ERROR(parse_end(&s->otherwise, "endif"));
    return StmtPtr(std::move(s));
  }
}

Result<StmtPtr> Parser::parse_for(Loc loc) {
  auto s = std::make_unique<ForStmt>(loc);
  const bool parens = skip_op("(");
  do {
    PODSERVE_ASSIGN_OR_RETURN(std::string n, expect_name());
    s->targets.push_back(std::move(n));
  } while (skip_op(",") && cur().type == TokenType::kName && !is_name("in"));
  if (parens) PODSERVE_RETURN_IF_ERROR(expect_op(")"));
  if (!skip_name("in")) return error(cur(), "expected 'in', got " + describe(cur()));
  PODSERVE_ASSIGN_OR_RETURN(s->iter, parse_tuple(false, false));
  if (skip_name("if")) {
    PODSERVE_ASSIGN_OR_RETURN(s->filter, parse_expression());
  }
  s->recursive = skip_name("recursive");
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  ++loop_depth_;
  std::string found;
  Status st = parse_body(&s->body, {"else", "endfor"}, &found);
  --loop_depth_;
  PODSERVE_RETURN_IF_ERROR(st);
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  if (found == "else") PODSERVE_RETURN_IF_ERROR(parse_end(&s->otherwise, "endfor"));
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_set(Loc loc) {
  SetTarget target;
  PODSERVE_ASSIGN_OR_RETURN(std::string first, expect_name());
  target.names.push_back(std::move(first));
  if (skip_op(".")) {
    PODSERVE_ASSIGN_OR_RETURN(target.attr, expect_name());
  } else {
    while (skip_op(",")) {
      if (cur().type != TokenType::kName) break;  // trailing comma
      target.names.push_back(cur().text);
      advance();
    }
  }
  if (skip_op("=")) {
    auto s = std::make_unique<SetStmt>(loc);
    s->target = std::move(target);
    PODSERVE_ASSIGN_OR_RETURN(s->value, parse_tuple(true, false));
    PODSERVE_RETURN_IF_ERROR(expect_block_end());
    return StmtPtr(std::move(s));
  }
  auto s = std::make_unique<SetBlockStmt>(loc);
  s->target = std::move(target);
  if (skip_op("|")) PODSERVE_RETURN_IF_ERROR(parse_filter_chain(&s->filters));
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  PODSERVE_RETURN_IF_ERROR(parse_end(&s->body, "endset"));
  return StmtPtr(std::move(s));
}

Status Parser::parse_params(std::vector<MacroParam>* params) {
  PODSERVE_RETURN_IF_ERROR(expect_op("("));
  while (!is_op(")")) {
    if (!params->empty()) PODSERVE_RETURN_IF_ERROR(expect_op(","));
    if (is_op(")")) break;
    MacroParam p;
    PODSERVE_ASSIGN_OR_RETURN(p.name, expect_name());
    if (skip_op("=")) {
      PODSERVE_ASSIGN_OR_RETURN(p.default_value, parse_expression());
    } else if (!params->empty() && params->back().default_value != nullptr) {
      return error(cur(), "non-default argument follows default argument");
    }
    params->push_back(std::move(p));
  }
  advance();
  return ok_status();
}

Result<StmtPtr> Parser::parse_macro(Loc loc) {
  auto s = std::make_unique<MacroStmt>(loc);
  PODSERVE_ASSIGN_OR_RETURN(s->name, expect_name());
  PODSERVE_RETURN_IF_ERROR(parse_params(&s->params));
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  const int saved = loop_depth_;
  loop_depth_ = 0;  // a macro body is not inside the caller's loop
  open_macros_.push_back(s.get());
  Status st = parse_end(&s->body, "endmacro");
  open_macros_.pop_back();
  loop_depth_ = saved;
  PODSERVE_RETURN_IF_ERROR(st);
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_call_block(Loc loc) {
  auto s = std::make_unique<CallBlockStmt>(loc);
  if (is_op("(")) PODSERVE_RETURN_IF_ERROR(parse_params(&s->caller_params));
  const Token& at = cur();
  PODSERVE_ASSIGN_OR_RETURN(s->call, parse_expression());
  if (s->call->kind != ExprKind::kCall) return error(at, "expected a call expression");
  PODSERVE_RETURN_IF_ERROR(expect_block_end());
  const int saved = loop_depth_;
  loop_depth_ = 0;
  Status st = parse_end(&s->body, "endcall");
  loop_depth_ = saved;
  PODSERVE_RETURN_IF_ERROR(st);
  return StmtPtr(std::move(s));
}

Status Parser::parse_filter_chain(std::vector<FilterCall>* filters) {
  do {
    FilterCall f;
    f.loc = cur().loc;
    PODSERVE_ASSIGN_OR_RETURN(f.name, parse_dotted_name());
    if (is_op("(")) PODSERVE_RETURN_IF_ERROR(parse_args(&f.args));
    filters->push_back(std::move(f));
  } while (skip_op("|"));
  return ok_status();
}

}  // namespace detail

Result<std::unique_ptr<Program>> parse_template(std::string_view source) {
  PODSERVE_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source));
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Program> program, detail::Parser(std::move(tokens)).run());
  PODSERVE_RETURN_IF_ERROR(check_names(*program));
  return program;
}

}  // namespace podserve::jinja
