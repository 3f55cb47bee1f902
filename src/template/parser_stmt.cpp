// Statement grammar: text, {{ output }}, and the block tags (if/for/set/macro/call/filter/
// break/continue/generation), plus the token helpers shared with the expression parser.
#include <algorithm>
#include <cstring>

#include "template/parser.h"

namespace rf::tmpl {

namespace {
constexpr int kMaxBlockNesting = 200;
}

Result<Body> parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse_document(); }

const Token& Parser::peek(size_t ahead) const {
    size_t i = std::min(index_ + ahead, tokens_.size() - 1);
    return tokens_[i];
}

const Token& Parser::next() {
    const Token& token = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return token;
}

bool Parser::at_op(const char* op) const { return peek().kind == Token::Kind::Op && peek().text == op; }
bool Parser::at_name(const char* name) const { return peek().kind == Token::Kind::Name && peek().text == name; }

bool Parser::accept_op(const char* op) {
    if (!at_op(op)) return false;
    next();
    return true;
}

bool Parser::accept_name(const char* name) {
    if (!at_name(name)) return false;
    next();
    return true;
}

Status Parser::expect_op(const char* op) {
    if (!accept_op(op)) return error_here(std::string("expected '") + op + "', found " + describe(peek()));
    return ok_status();
}

Result<std::string> Parser::expect_name() {
    if (peek().kind != Token::Kind::Name) return error_here("expected a name, found " + describe(peek()));
    return next().text;
}

Error Parser::error_here(const std::string& message) const {
    const SourcePos& p = peek().pos;
    return make_error("template syntax error at line {}, column {}: {}", p.line, p.column, message);
}

Status Parser::expect_block_end() {
    if (peek().kind != Token::Kind::BlockEnd) return error_here("expected '%}', found " + describe(peek()));
    next();
    return ok_status();
}

Result<Body> Parser::parse_document() {
    std::string found;
    RF_ASSIGN_OR_RETURN(Body body, parse_body({}, &found));
    return body;
}

Result<Body> Parser::parse_body(std::initializer_list<const char*> terminators, std::string* found) {
    if (++depth_ > kMaxBlockNesting) return error_here("blocks nested too deeply");
    Body body;
    while (true) {
        const Token& token = peek();
        if (token.kind == Token::Kind::Eof) {
            if (terminators.size() == 0) break;
            return error_here(std::string("unexpected end of template, expected '") + *(terminators.end() - 1) + "'");
        }
        if (token.kind == Token::Kind::Text) {
            auto stmt = std::make_unique<Stmt>();
            stmt->kind = Stmt::Kind::Text;
            stmt->pos = token.pos;
            stmt->text = next().text;
            body.push_back(std::move(stmt));
            continue;
        }
        if (token.kind == Token::Kind::VarBegin) {
            auto stmt = std::make_unique<Stmt>();
            stmt->kind = Stmt::Kind::Output;
            stmt->pos = next().pos;
            RF_ASSIGN_OR_RETURN(stmt->expr, parse_tuple_or_expression());
            if (peek().kind != Token::Kind::VarEnd) return error_here("expected '}}', found " + describe(peek()));
            next();
            body.push_back(std::move(stmt));
            continue;
        }
        if (token.kind != Token::Kind::BlockBegin) return error_here("unexpected " + describe(token));
        const Token& keyword = peek(1);
        if (keyword.kind == Token::Kind::Name &&
            std::any_of(terminators.begin(), terminators.end(),
                        [&](const char* t) { return keyword.text == t; })) {
            next();
            *found = next().text;
            break;
        }
        RF_ASSIGN_OR_RETURN(StmtPtr stmt, parse_statement());
        body.push_back(std::move(stmt));
    }
    --depth_;
    return body;
}

Result<StmtPtr> Parser::parse_statement() {
    next();  // '{%'
    const Token& keyword = peek();
    SourcePos pos = keyword.pos;
    if (keyword.kind != Token::Kind::Name) return error_here("expected a statement name, found " + describe(keyword));
    std::string name = next().text;
    if (name == "if") return parse_if(pos);
    if (name == "for") return parse_for(pos);
    if (name == "set") return parse_set(pos);
    if (name == "macro") return parse_macro(pos);
    if (name == "call") return parse_call_block(pos);
    if (name == "filter") return parse_filter_block(pos);
    auto stmt = std::make_unique<Stmt>();
    stmt->pos = pos;
    if (name == "break" || name == "continue") {
        stmt->kind = name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
        RF_TRY(expect_block_end());
        return stmt;
    }
    if (name == "generation") {
        stmt->kind = Stmt::Kind::Scope;
        RF_TRY(expect_block_end());
        std::string found;
        RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"endgeneration"}, &found));
        RF_TRY(expect_block_end());
        return stmt;
    }
    return make_error("template syntax error at line {}, column {}: unknown tag '{}'", pos.line, pos.column, name);
}

Result<StmtPtr> Parser::parse_if(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::If;
    stmt->pos = pos;
    RF_ASSIGN_OR_RETURN(stmt->expr, parse_tuple_or_expression());
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"elif", "else", "endif"}, &found));
    if (found == "elif") {
        RF_ASSIGN_OR_RETURN(StmtPtr nested, parse_if(peek().pos));
        stmt->else_body.push_back(std::move(nested));
        return stmt;
    }
    if (found == "else") {
        RF_TRY(expect_block_end());
        RF_ASSIGN_OR_RETURN(stmt->else_body, parse_body({"endif"}, &found));
    }
    RF_TRY(expect_block_end());
    return stmt;
}

Result<std::vector<std::string>> Parser::parse_targets() {
    std::vector<std::string> targets;
    bool parenthesized = accept_op("(");
    do {
        RF_ASSIGN_OR_RETURN(std::string name, expect_name());
        targets.push_back(std::move(name));
    } while (accept_op(","));
    if (parenthesized) RF_TRY(expect_op(")"));
    return targets;
}

static bool mentions(const Expr* expr, const std::string& name) {
    if (!expr) return false;
    if (expr->kind == Expr::Kind::Name && expr->name == name) return true;
    for (const ExprPtr& arg : expr->args)
        if (mentions(arg.get(), name)) return true;
    for (const auto& kw : expr->kwargs)
        if (mentions(kw.second.get(), name)) return true;
    return false;
}

static bool mentions(const Body& body, const std::string& name) {
    for (const StmtPtr& stmt : body) {
        if (mentions(stmt->expr.get(), name) || mentions(stmt->condition.get(), name)) return true;
        for (const MacroParam& p : stmt->params)
            if (mentions(p.default_value.get(), name)) return true;
        if (mentions(stmt->body, name) || mentions(stmt->else_body, name)) return true;
    }
    return false;
}

Result<StmtPtr> Parser::parse_for(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::For;
    stmt->pos = pos;
    RF_ASSIGN_OR_RETURN(stmt->targets, parse_targets());
    if (!accept_name("in")) return error_here("expected 'in' in for loop");
    RF_ASSIGN_OR_RETURN(stmt->expr, parse_or());  // `if` after the iterable filters the loop
    if (accept_name("if")) {
        RF_ASSIGN_OR_RETURN(stmt->condition, parse_expression());
    }
    if (at_name("recursive")) return error_here("recursive loops are not supported");
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"else", "endfor"}, &found));
    stmt->uses_loop = mentions(stmt->body, "loop");
    if (found == "else") {
        RF_TRY(expect_block_end());
        RF_ASSIGN_OR_RETURN(stmt->else_body, parse_body({"endfor"}, &found));
    }
    RF_TRY(expect_block_end());
    return stmt;
}

Result<StmtPtr> Parser::parse_set(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->pos = pos;
    RF_ASSIGN_OR_RETURN(std::string first, expect_name());
    stmt->targets.push_back(first);
    if (accept_op(".")) {
        RF_ASSIGN_OR_RETURN(stmt->attr, expect_name());
    } else {
        while (accept_op(",")) {
            RF_ASSIGN_OR_RETURN(std::string name, expect_name());
            stmt->targets.push_back(std::move(name));
        }
    }
    if (accept_op("=")) {
        stmt->kind = Stmt::Kind::Set;
        RF_ASSIGN_OR_RETURN(stmt->expr, parse_tuple_or_expression());
        RF_TRY(expect_block_end());
        return stmt;
    }
    if (!stmt->attr.empty() || stmt->targets.size() != 1) return error_here("expected '=' in set");
    stmt->kind = Stmt::Kind::SetBlock;
    if (at_op("|")) {
        ExprPtr chain;
        while (accept_op("|")) {
            RF_ASSIGN_OR_RETURN(chain, parse_filter(std::move(chain)));
        }
        stmt->condition = std::move(chain);
    }
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"endset"}, &found));
    RF_TRY(expect_block_end());
    return stmt;
}

Result<std::vector<MacroParam>> Parser::parse_params() {
    std::vector<MacroParam> params;
    RF_TRY(expect_op("("));
    while (!accept_op(")")) {
        if (!params.empty()) RF_TRY(expect_op(","));
        if (accept_op(")")) break;
        MacroParam param;
        RF_ASSIGN_OR_RETURN(param.name, expect_name());
        if (accept_op("=")) {
            RF_ASSIGN_OR_RETURN(param.default_value, parse_expression());
        }
        params.push_back(std::move(param));
    }
    return params;
}

Result<StmtPtr> Parser::parse_macro(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::Macro;
    stmt->pos = pos;
    RF_ASSIGN_OR_RETURN(stmt->text, expect_name());
    RF_ASSIGN_OR_RETURN(stmt->params, parse_params());
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"endmacro"}, &found));
    if (peek().kind == Token::Kind::Name) next();  // `{% endmacro name %}`
    RF_TRY(expect_block_end());
    return stmt;
}

Result<StmtPtr> Parser::parse_call_block(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::CallBlock;
    stmt->pos = pos;
    if (at_op("(")) {
        RF_ASSIGN_OR_RETURN(stmt->params, parse_params());
    }
    RF_ASSIGN_OR_RETURN(stmt->expr, parse_expression());
    if (stmt->expr->kind != Expr::Kind::Call) return error_here("expected a macro call in call block");
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"endcall"}, &found));
    RF_TRY(expect_block_end());
    return stmt;
}

Result<StmtPtr> Parser::parse_filter_block(SourcePos pos) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::FilterBlock;
    stmt->pos = pos;
    ExprPtr chain;
    do {
        RF_ASSIGN_OR_RETURN(chain, parse_filter(std::move(chain)));
    } while (accept_op("|"));
    stmt->expr = std::move(chain);
    RF_TRY(expect_block_end());
    std::string found;
    RF_ASSIGN_OR_RETURN(stmt->body, parse_body({"endfilter"}, &found));
    RF_TRY(expect_block_end());
    return stmt;
}

}  // namespace rf::tmpl
