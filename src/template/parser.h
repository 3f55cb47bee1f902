// Recursive-descent parser from tokens to the syntax tree. Statements live in parser_stmt.cpp,
// expressions (with the reference language's operator precedence) in parser_expr.cpp.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "core/result.h"
#include "template/ast.h"
#include "template/lexer.h"

namespace rf::tmpl {

Result<Body> parse_template(const std::vector<Token>& tokens);

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

    Result<Body> parse_document();

private:
    // Statements.
    Result<Body> parse_body(std::initializer_list<const char*> terminators, std::string* found);
    Result<StmtPtr> parse_statement();
    Result<StmtPtr> parse_if(SourcePos pos);
    Result<StmtPtr> parse_for(SourcePos pos);
    Result<StmtPtr> parse_set(SourcePos pos);
    Result<StmtPtr> parse_macro(SourcePos pos);
    Result<StmtPtr> parse_call_block(SourcePos pos);
    Result<StmtPtr> parse_filter_block(SourcePos pos);
    Result<std::vector<MacroParam>> parse_params();
    Result<std::vector<std::string>> parse_targets();
    Status expect_block_end();

    // Expressions.
    Result<ExprPtr> parse_expression();  // including `a if c else b`
    Result<ExprPtr> parse_tuple_or_expression();
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
    Result<ExprPtr> parse_filters_and_tests(ExprPtr node);
    Result<ExprPtr> parse_filter(ExprPtr subject);
    Result<ExprPtr> parse_subscript(ExprPtr subject);
    Status parse_call_args(Expr& call);
    std::string parse_dotted_name();

    // Token helpers.
    const Token& peek(size_t ahead = 0) const;
    const Token& next();
    bool at_op(const char* op) const;
    bool at_name(const char* name) const;
    bool accept_op(const char* op);
    bool accept_name(const char* name);
    Status expect_op(const char* op);
    Result<std::string> expect_name();
    Error error_here(const std::string& message) const;
    static ExprPtr make(Expr::Kind kind, SourcePos pos);

    const std::vector<Token>& tokens_;
    size_t index_ = 0;
    int depth_ = 0;  // nesting of expressions and blocks, bounded so hostile input cannot overflow the stack
};

}  // namespace rf::tmpl
