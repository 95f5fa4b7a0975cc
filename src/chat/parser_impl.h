// Parser internals shared by parser.cpp (statements) and parse_expression.cpp (expressions).
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "chat/parser.h"

namespace podserve::jinja::detail {

/// Recursive-descent parser over the lexer's tokens.
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Result<std::unique_ptr<Program>> run() {
    auto program = std::make_unique<Program>();
    std::string found;
    PODSERVE_RETURN_IF_ERROR(parse_body(&program->body, {}, &found));
    return program;
  }

 private:
  // Bounds the recursion of the descent; checked where the grammar recurses.
  class DepthGuard {
   public:
    explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
    ~DepthGuard() { --*depth_; }
    bool too_deep() const { return *depth_ > kMaxNesting; }

   private:
    int* depth_;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek() const { return toks_[pos_ + 1 < toks_.size() ? pos_ + 1 : pos_]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().type == TokenType::kOp && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == TokenType::kName && cur().text == n; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEof: return "end of template";
      case TokenType::kBlockEnd: return "end of statement block";
      case TokenType::kVarEnd: return "end of print statement";
      case TokenType::kText: return "template data";
      default: return "'" + t.text + "'";
    }
  }
  Status error(const Token& t, const std::string& msg) const {
    return invalid_argument("template syntax error at " + loc_string(t.loc) + ": " + msg);
  }
  Status unexpected() const { return error(cur(), "unexpected " + describe(cur())); }
  Status expect_op(std::string_view op) {
    if (skip_op(op)) return ok_status();
    return error(cur(), "expected '" + std::string(op) + "', got " + describe(cur()));
  }
  Status expect_block_end() {
    if (cur().type == TokenType::kBlockEnd) {
      advance();
      return ok_status();
    }
    return error(cur(), "expected end of statement block, got " + describe(cur()));
  }
  Result<std::string> expect_name() {
    if (cur().type != TokenType::kName) return error(cur(), "expected a name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }

  Status parse_body(Body* body, std::initializer_list<std::string_view> end_tags, std::string* found);
  Result<StmtPtr> parse_statement();
  Result<StmtPtr> parse_if(Loc loc);
  Result<StmtPtr> parse_for(Loc loc);
  Result<StmtPtr> parse_set(Loc loc);
  Result<StmtPtr> parse_macro(Loc loc);
  Result<StmtPtr> parse_call_block(Loc loc);
  Result<StmtPtr> parse_block(Loc loc);
  Result<StmtPtr> parse_load(const std::string& tag, Loc loc);
  Status parse_params(std::vector<MacroParam>* params);
  Status parse_filter_chain(std::vector<FilterCall>* filters);
  Status parse_end(Body* body, std::string_view end_tag);

  Result<ExprPtr> parse_tuple(bool with_condexpr, bool explicit_parens);
  Result<ExprPtr> parse_expression(bool with_condexpr = true);
  Result<ExprPtr> parse_or();
  Result<ExprPtr> parse_and();
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  Result<ExprPtr> parse_math1();
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_math2();
  Result<ExprPtr> parse_pow();
  Result<ExprPtr> parse_unary(bool with_filter);
  Result<ExprPtr> parse_primary();
  Result<ExprPtr> parse_postfix(ExprPtr node);
  Result<ExprPtr> parse_filter_expr(ExprPtr node);
  Result<ExprPtr> parse_subscript(ExprPtr node);
  Status parse_args(ArgList* args);
  Result<std::string> parse_dotted_name();

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;  // for break/continue
  std::vector<std::string> block_names_;  // a block name may be defined once
  // Macros whose body is being parsed; a use of `varargs`, `kwargs` or `caller` inside marks them all
  // (jinja2 decides from the body's undeclared names whether a macro catches extra arguments).
  std::vector<MacroStmt*> open_macros_;

};

}  // namespace podserve::jinja::detail
