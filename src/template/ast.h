// Syntax tree of a parsed template: expressions and statements, each remembering where it started
// so that render errors can name the line and column.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/lexer.h"
#include "template/value.h"

namespace rf::tmpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,    // literal
        Name,       // name
        List,       // args: items
        Tuple,      // args: items
        Dict,       // args: key, value, key, value...
        GetAttr,    // args[0] . name
        GetItem,    // args[0] [ args[1] ]
        Slice,      // args[0] [ args[1] : args[2] : args[3] ] (missing parts are null)
        Call,       // args[0] ( args[1..], kwargs )
        Filter,     // args[0] | name ( args[1..], kwargs ); args[0] null inside a filter block
        Test,       // args[0] is [not] name ( args[1..], kwargs )
        Unary,      // name in {"-", "+", "not"} args[0]
        Binary,     // args[0] name args[1]; name is an operator, "in", "not in", "and", "or"
        Conditional // args[0] if args[1] else args[2] (args[2] may be null)
    };

    Kind kind;
    SourcePos pos;
    Value literal;
    std::string name;
    bool negated = false;  // `is not`
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;

    Expr() = default;
    Expr(const Expr&) = delete;
    Expr& operator=(const Expr&) = delete;
    // Operator chains such as `1 + 1 + ... + 1` parse into trees as deep as they are long; the
    // destructor frees them iteratively so that no input can exhaust the native stack.
    ~Expr();
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null when required
};

struct Stmt {
    enum class Kind {
        Text,        // text
        Output,      // {{ expr }}
        If,          // if expr: body else else_body (elif is a nested If in else_body)
        For,         // for targets in expr [if condition]: body else else_body
        Set,         // set targets = expr, or set targets[0].attr = expr
        SetBlock,    // set targets[0] [| filter] %}body{% endset
        Macro,       // macro name(params): body
        CallBlock,   // call(params) expr: body, where expr is the macro call
        FilterBlock, // filter expr: body (expr is a Filter chain with a null innermost subject)
        Break,
        Continue,
        Scope        // body rendered in place (the generation block)
    };

    Kind kind;
    SourcePos pos;
    std::string text;  // Text, or the name of a Macro
    ExprPtr expr;
    ExprPtr condition;  // For: the loop filter; SetBlock: an optional filter chain
    std::vector<std::string> targets;
    std::string attr;
    std::vector<MacroParam> params;
    bool uses_loop = true;  // For: whether the body mentions `loop` (else it is not built)
    Body body;
    Body else_body;
};

}  // namespace rf::tmpl
