// Expression grammar, loosest binding first:
//   conditional (a if c else b) > or > and > not > comparison/in > + - > ~ > * / // % > ** > unary
// and, on every unary operand, postfix access (.attr [key] (call)) then filters `|f` and tests `is t`.
#include "template/parser.h"

namespace rf::tmpl {

namespace {
constexpr int kMaxNesting = 200;
}

ExprPtr Parser::make(Expr::Kind kind, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
}

Expr::~Expr() {
    std::vector<ExprPtr> pending;
    auto adopt_children = [&pending](Expr& e) {
        for (ExprPtr& a : e.args)
            if (a) pending.push_back(std::move(a));
        for (auto& kw : e.kwargs)
            if (kw.second) pending.push_back(std::move(kw.second));
    };
    adopt_children(*this);
    while (!pending.empty()) {
        ExprPtr e = std::move(pending.back());
        pending.pop_back();
        adopt_children(*e);  // e is now childless, so destroying it does not recurse
    }
}

static ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::Binary;
    e->pos = pos;
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
}

Result<ExprPtr> Parser::parse_expression() {
    RF_ASSIGN_OR_RETURN(ExprPtr node, parse_or());
    while (at_name("if")) {
        SourcePos pos = next().pos;
        RF_ASSIGN_OR_RETURN(ExprPtr condition, parse_or());
        ExprPtr otherwise;
        if (accept_name("else")) {
            RF_ASSIGN_OR_RETURN(otherwise, parse_expression());
        }
        ExprPtr cond = make(Expr::Kind::Conditional, pos);
        cond->args.push_back(std::move(node));
        cond->args.push_back(std::move(condition));
        cond->args.push_back(std::move(otherwise));
        node = std::move(cond);
    }
    return node;
}

Result<ExprPtr> Parser::parse_tuple_or_expression() {
    SourcePos pos = peek().pos;
    RF_ASSIGN_OR_RETURN(ExprPtr first, parse_expression());
    if (!at_op(",")) return first;
    ExprPtr tuple = make(Expr::Kind::Tuple, pos);
    tuple->args.push_back(std::move(first));
    while (accept_op(",")) {
        if (peek().kind == Token::Kind::VarEnd || peek().kind == Token::Kind::BlockEnd || at_op(")")) break;
        RF_ASSIGN_OR_RETURN(ExprPtr item, parse_expression());
        tuple->args.push_back(std::move(item));
    }
    return tuple;
}

Result<ExprPtr> Parser::parse_or() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
    while (at_name("or")) {
        SourcePos pos = next().pos;
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
        left = binary("or", std::move(left), std::move(right), pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_and() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
    while (at_name("and")) {
        SourcePos pos = next().pos;
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
        left = binary("and", std::move(left), std::move(right), pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_not() {
    if (at_name("not")) {
        SourcePos pos = next().pos;
        if (++depth_ > kMaxNesting) return error_here("expression nested too deeply");
        RF_ASSIGN_OR_RETURN(ExprPtr operand, parse_not());
        --depth_;
        ExprPtr node = make(Expr::Kind::Unary, pos);
        node->name = "not";
        node->args.push_back(std::move(operand));
        return node;
    }
    return parse_compare();
}

Result<ExprPtr> Parser::parse_compare() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_math1());
    while (true) {
        SourcePos pos = peek().pos;
        std::string op;
        if (at_op("==") || at_op("!=") || at_op("<") || at_op("<=") || at_op(">") || at_op(">=")) {
            op = next().text;
        } else if (at_name("in")) {
            next();
            op = "in";
        } else if (at_name("not") && peek(1).kind == Token::Kind::Name && peek(1).text == "in") {
            next();
            next();
            op = "not in";
        } else {
            return left;
        }
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_math1());
        left = binary(op, std::move(left), std::move(right), pos);
    }
}

Result<ExprPtr> Parser::parse_math1() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_concat());
    while (at_op("+") || at_op("-")) {
        const Token& op = next();
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_concat());
        left = binary(op.text, std::move(left), std::move(right), op.pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_concat() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_math2());
    while (at_op("~")) {
        SourcePos pos = next().pos;
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_math2());
        left = binary("~", std::move(left), std::move(right), pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_math2() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_pow());
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
        const Token& op = next();
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_pow());
        left = binary(op.text, std::move(left), std::move(right), op.pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_pow() {
    RF_ASSIGN_OR_RETURN(ExprPtr left, parse_unary(true));
    while (at_op("**")) {
        SourcePos pos = next().pos;
        RF_ASSIGN_OR_RETURN(ExprPtr right, parse_unary(true));
        left = binary("**", std::move(left), std::move(right), pos);
    }
    return left;
}

Result<ExprPtr> Parser::parse_unary(bool with_filter) {
    if (++depth_ > kMaxNesting) return error_here("expression nested too deeply");
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
        const Token& op = next();
        RF_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
        node = make(Expr::Kind::Unary, op.pos);
        node->name = op.text;
        node->args.push_back(std::move(operand));
    } else {
        RF_ASSIGN_OR_RETURN(node, parse_primary());
    }
    RF_ASSIGN_OR_RETURN(node, parse_postfix(std::move(node)));
    if (with_filter) {
        RF_ASSIGN_OR_RETURN(node, parse_filters_and_tests(std::move(node)));
    }
    --depth_;
    return node;
}

Result<ExprPtr> Parser::parse_primary() {
    const Token& token = peek();
    switch (token.kind) {
        case Token::Kind::Name: {
            next();
            ExprPtr node = make(Expr::Kind::Literal, token.pos);
            const std::string& n = token.text;
            if (n == "true" || n == "True") node->literal = Value(true);
            else if (n == "false" || n == "False") node->literal = Value(false);
            else if (n == "none" || n == "None") node->literal = Value::none();
            else {
                node->kind = Expr::Kind::Name;
                node->name = n;
            }
            return node;
        }
        case Token::Kind::String: {
            std::string text;
            while (peek().kind == Token::Kind::String) text += next().text;  // adjacent literals join
            ExprPtr node = make(Expr::Kind::Literal, token.pos);
            node->literal = Value(std::move(text));
            return node;
        }
        case Token::Kind::Int:
        case Token::Kind::Float: {
            next();
            ExprPtr node = make(Expr::Kind::Literal, token.pos);
            node->literal = token.kind == Token::Kind::Int ? Value(token.int_value) : Value(token.float_value);
            return node;
        }
        default: break;
    }
    if (accept_op("(")) {
        if (accept_op(")")) return make(Expr::Kind::Tuple, token.pos);
        RF_ASSIGN_OR_RETURN(ExprPtr inner, parse_tuple_or_expression());
        RF_TRY(expect_op(")"));
        return inner;
    }
    if (accept_op("[")) {
        ExprPtr list = make(Expr::Kind::List, token.pos);
        while (!accept_op("]")) {
            if (!list->args.empty()) RF_TRY(expect_op(","));
            if (accept_op("]")) break;
            RF_ASSIGN_OR_RETURN(ExprPtr item, parse_expression());
            list->args.push_back(std::move(item));
        }
        return list;
    }
    if (accept_op("{")) {
        ExprPtr dict = make(Expr::Kind::Dict, token.pos);
        while (!accept_op("}")) {
            if (!dict->args.empty()) RF_TRY(expect_op(","));
            if (accept_op("}")) break;
            RF_ASSIGN_OR_RETURN(ExprPtr key, parse_expression());
            RF_TRY(expect_op(":"));
            RF_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
            dict->args.push_back(std::move(key));
            dict->args.push_back(std::move(value));
        }
        return dict;
    }
    return error_here("unexpected " + describe(token));
}

Result<ExprPtr> Parser::parse_postfix(ExprPtr node) {
    while (true) {
        SourcePos pos = peek().pos;
        if (accept_op(".")) {
            const Token& attr = next();
            if (attr.kind == Token::Kind::Name) {
                ExprPtr get = make(Expr::Kind::GetAttr, pos);
                get->name = attr.text;
                get->args.push_back(std::move(node));
                node = std::move(get);
            } else if (attr.kind == Token::Kind::Int) {
                ExprPtr get = make(Expr::Kind::GetItem, pos);
                get->args.push_back(std::move(node));
                ExprPtr key = make(Expr::Kind::Literal, attr.pos);
                key->literal = Value(attr.int_value);
                get->args.push_back(std::move(key));
                node = std::move(get);
            } else {
                return error_here("expected an attribute name after '.'");
            }
        } else if (at_op("[")) {
            RF_ASSIGN_OR_RETURN(node, parse_subscript(std::move(node)));
        } else if (at_op("(")) {
            ExprPtr call = make(Expr::Kind::Call, pos);
            call->args.push_back(std::move(node));
            RF_TRY(parse_call_args(*call));
            node = std::move(call);
        } else {
            return node;
        }
    }
}

Result<ExprPtr> Parser::parse_subscript(ExprPtr subject) {
    SourcePos pos = next().pos;  // '['
    ExprPtr parts[3];
    bool is_slice = false;
    if (!at_op(":")) {
        RF_ASSIGN_OR_RETURN(parts[0], parse_expression());
    }
    for (int i = 1; i < 3 && accept_op(":"); ++i) {
        is_slice = true;
        if (!at_op(":") && !at_op("]")) {
            RF_ASSIGN_OR_RETURN(parts[i], parse_expression());
        }
    }
    RF_TRY(expect_op("]"));
    if (!is_slice && !parts[0]) return error_here("empty subscript");
    ExprPtr node = make(is_slice ? Expr::Kind::Slice : Expr::Kind::GetItem, pos);
    node->args.push_back(std::move(subject));
    node->args.push_back(std::move(parts[0]));
    if (is_slice) {
        node->args.push_back(std::move(parts[1]));
        node->args.push_back(std::move(parts[2]));
    }
    return node;
}

Status Parser::parse_call_args(Expr& call) {
    RF_TRY(expect_op("("));
    bool first = true;
    while (!accept_op(")")) {
        if (!first) RF_TRY(expect_op(","));
        first = false;
        if (accept_op(")")) break;
        if (peek().kind == Token::Kind::Name && peek(1).kind == Token::Kind::Op && peek(1).text == "=") {
            std::string key = next().text;
            next();
            RF_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
            call.kwargs.emplace_back(std::move(key), std::move(value));
        } else {
            if (!call.kwargs.empty()) return error_here("positional argument follows keyword argument");
            RF_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
            call.args.push_back(std::move(value));
        }
    }
    return ok_status();
}

std::string Parser::parse_dotted_name() {
    std::string name = next().text;
    while (at_op(".") && peek(1).kind == Token::Kind::Name) {
        next();
        name += "." + next().text;
    }
    return name;
}

Result<ExprPtr> Parser::parse_filter(ExprPtr subject) {
    SourcePos pos = peek().pos;
    if (peek().kind != Token::Kind::Name) return error_here("expected a filter name after '|'");
    ExprPtr node = make(Expr::Kind::Filter, pos);
    node->name = parse_dotted_name();
    node->args.push_back(std::move(subject));
    if (at_op("(")) RF_TRY(parse_call_args(*node));
    return node;
}

Result<ExprPtr> Parser::parse_filters_and_tests(ExprPtr node) {
    while (true) {
        if (accept_op("|")) {
            RF_ASSIGN_OR_RETURN(node, parse_filter(std::move(node)));
        } else if (at_name("is")) {
            SourcePos pos = next().pos;
            ExprPtr test = make(Expr::Kind::Test, pos);
            test->negated = accept_name("not");
            if (peek().kind != Token::Kind::Name) return error_here("expected a test name after 'is'");
            test->name = parse_dotted_name();
            test->args.push_back(std::move(node));
            const Token& t = peek();
            bool starts_argument = t.kind == Token::Kind::Name || t.kind == Token::Kind::String ||
                                   t.kind == Token::Kind::Int || t.kind == Token::Kind::Float ||
                                   (t.kind == Token::Kind::Op && (t.text == "[" || t.text == "{"));
            if (at_op("(")) {
                RF_TRY(parse_call_args(*test));
            } else if (starts_argument && !at_name("else") && !at_name("or") && !at_name("and") &&
                       !at_name("if") && !at_name("is")) {
                RF_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
                RF_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
                test->args.push_back(std::move(arg));
            }
            node = std::move(test);
        } else if (at_op("(")) {
            ExprPtr call = make(Expr::Kind::Call, peek().pos);
            call->args.push_back(std::move(node));
            RF_TRY(parse_call_args(*call));
            node = std::move(call);
        } else {
            return node;
        }
    }
}

}  // namespace rf::tmpl
