#include "template/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/utf8.h"

namespace rf::tmpl {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
public:
    Lexer(const std::string& src, const LexOptions& options) : src_(trimmed(src, options)), options_(options) {
        line_starts_.push_back(0);
        for (size_t i = 0; i < src.size(); ++i)
            if (src[i] == '\n') line_starts_.push_back(i + 1);
    }

    Result<std::vector<Token>> run() {
        while (pos_ < src_.size()) {
            size_t tag = find_tag(pos_);
            if (tag == std::string::npos) {
                emit_text(src_.substr(pos_), pos_);
                break;
            }
            char kind = src_[tag + 1];
            char marker = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
            std::string text = src_.substr(pos_, tag - pos_);
            strip_before_tag(text, marker, kind != '{');
            emit_text(std::move(text), pos_);
            size_t body = tag + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
            if (kind == '#') {
                RF_TRY(lex_comment(tag, body));
            } else if (kind == '%' && is_raw_open(body)) {
                RF_TRY(lex_raw(tag));
            } else {
                RF_TRY(lex_tag(tag, body, kind == '%'));
            }
        }
        tokens_.push_back(Token{Token::Kind::Eof, "", 0, 0, position(src_.size())});
        return std::move(tokens_);
    }

private:
    static std::string trimmed(const std::string& src, const LexOptions& options) {
        if (options.keep_trailing_newline || src.empty() || src.back() != '\n') return src;
        size_t cut = src.size() >= 2 && src[src.size() - 2] == '\r' ? 2 : 1;
        return src.substr(0, src.size() - cut);
    }

    SourcePos position(size_t offset) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
        return SourcePos{static_cast<int>(it - line_starts_.begin()) + 1,
                         static_cast<int>(offset - *it) + 1};
    }

    Error error_at(size_t offset, const std::string& message) const {
        SourcePos p = position(offset);
        return make_error("template syntax error at line {}, column {}: {}", p.line, p.column, message);
    }

    size_t find_tag(size_t from) const {
        for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
                return i;
        }
        return std::string::npos;
    }

    void strip_before_tag(std::string& text, char marker, bool is_block) const {
        if (marker == '-') {
            size_t end = text.size();
            while (end > 0 && is_space(text[end - 1])) --end;
            text.resize(end);
        } else if (marker != '+' && options_.lstrip_blocks && is_block) {
            size_t line_start = text.rfind('\n');
            line_start = line_start == std::string::npos ? 0 : line_start + 1;
            if (line_start == 0 && !line_starting_) return;
            if (line_start == text.size()) return;
            for (size_t i = line_start; i < text.size(); ++i)
                if (!is_space(text[i])) return;
            text.resize(line_start);
        }
    }

    void emit_text(std::string text, size_t offset) {
        if (text.empty()) return;
        tokens_.push_back(Token{Token::Kind::Text, std::move(text), 0, 0, position(offset)});
    }

    // Consumes what the closing marker asks for after a tag ending just before `after`.
    void finish_tag(size_t after, char end_marker, bool trims) {
        size_t p = after;
        if (end_marker == '-') {
            while (p < src_.size() && is_space(src_[p])) ++p;
        } else if (end_marker != '+' && trims && options_.trim_blocks && p < src_.size() && src_[p] == '\n') {
            ++p;
        }
        line_starting_ = p > 0 && src_[p - 1] == '\n';
        pos_ = p;
    }

    Status lex_comment(size_t tag, size_t body) {
        size_t end = src_.find("#}", body);
        if (end == std::string::npos) return error_at(tag, "unterminated comment");
        char end_marker = end > body && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
        finish_tag(end + 2, end_marker, true);
        return ok_status();
    }

    // Parses "[-+]? ws* word ws* [-+]?%}" at p; returns the offset after it or npos.
    size_t match_block_word(size_t p, const char* word, char* end_marker) const {
        while (p < src_.size() && is_space(src_[p])) ++p;
        size_t len = std::strlen(word);
        if (src_.compare(p, len, word) != 0) return std::string::npos;
        p += len;
        if (p < src_.size() && is_name_char(src_[p])) return std::string::npos;
        while (p < src_.size() && is_space(src_[p])) ++p;
        *end_marker = '\0';
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) *end_marker = src_[p++];
        if (src_.compare(p, 2, "%}") != 0) return std::string::npos;
        return p + 2;
    }

    bool is_raw_open(size_t body) const {
        char marker;
        return match_block_word(body, "raw", &marker) != std::string::npos;
    }

    Status lex_raw(size_t tag) {
        char marker;
        size_t body = tag + 2 + ((src_[tag + 2] == '-' || src_[tag + 2] == '+') ? 1 : 0);
        size_t content = match_block_word(body, "raw", &marker);
        if (marker == '-')
            while (content < src_.size() && is_space(src_[content])) ++content;
        for (size_t p = src_.find("{%", content); p != std::string::npos; p = src_.find("{%", p + 1)) {
            char open_marker = p + 2 < src_.size() ? src_[p + 2] : '\0';
            size_t word = p + 2 + ((open_marker == '-' || open_marker == '+') ? 1 : 0);
            char end_marker;
            size_t after = match_block_word(word, "endraw", &end_marker);
            if (after == std::string::npos) continue;
            std::string text = src_.substr(content, p - content);
            line_starting_ = false;
            strip_before_tag(text, open_marker, true);
            emit_text(std::move(text), content);
            finish_tag(after, end_marker, true);
            return ok_status();
        }
        return error_at(tag, "missing {% endraw %}");
    }

    Status lex_tag(size_t tag, size_t body, bool is_block) {
        tokens_.push_back(Token{is_block ? Token::Kind::BlockBegin : Token::Kind::VarBegin, "", 0, 0, position(tag)});
        const char close = is_block ? '%' : '}';
        int depth = 0;
        size_t p = body;
        while (true) {
            while (p < src_.size() && is_space(src_[p])) ++p;
            if (p >= src_.size()) return error_at(tag, is_block ? "unterminated block tag" : "unterminated expression");
            if (depth == 0) {
                char end_marker = '\0';
                size_t q = p;
                if ((src_[q] == '-' || src_[q] == '+') && q + 2 < src_.size() && src_[q + 1] == close &&
                    src_[q + 2] == '}') {
                    end_marker = src_[q];
                    ++q;
                }
                if (q + 1 < src_.size() && src_[q] == close && src_[q + 1] == '}') {
                    tokens_.push_back(Token{is_block ? Token::Kind::BlockEnd : Token::Kind::VarEnd, "", 0, 0, position(p)});
                    finish_tag(q + 2, end_marker, is_block);
                    return ok_status();
                }
            }
            RF_ASSIGN_OR_RETURN(p, lex_expression_token(p, depth));
        }
    }

    Result<size_t> lex_expression_token(size_t p, int& depth) {
        SourcePos at = position(p);
        char c = src_[p];
        if (is_name_start(c)) {
            size_t e = p;
            while (e < src_.size() && is_name_char(src_[e])) ++e;
            tokens_.push_back(Token{Token::Kind::Name, src_.substr(p, e - p), 0, 0, at});
            return e;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(p, at);
        if (c == '\'' || c == '"') return lex_string(p, at);
        static const char* const two_char_ops[] = {"//", "**", "==", "!=", "<=", ">="};
        for (const char* op : two_char_ops) {
            if (src_.compare(p, 2, op) == 0) {
                tokens_.push_back(Token{Token::Kind::Op, op, 0, 0, at});
                return p + 2;
            }
        }
        if (std::strchr("+-*/%~<>=()[]{},.:|;", c) == nullptr || c == '\0')
            return error_at(p, std::string("unexpected character '") + c + "'");
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') depth = std::max(0, depth - 1);
        tokens_.push_back(Token{Token::Kind::Op, std::string(1, c), 0, 0, at});
        return p + 1;
    }

    Result<size_t> lex_number(size_t p, SourcePos at) {
        size_t e = p;
        bool is_float = false;
        std::string digits;
        auto take_digits = [&] {
            while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) {
                if (src_[e] != '_') digits += src_[e];
                ++e;
            }
        };
        take_digits();
        if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
            is_float = true;
            digits += src_[e++];
            take_digits();
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
            size_t q = e + 1;
            if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
            if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
                is_float = true;
                digits += 'e';
                digits.append(src_, e + 1, q - e - 1);
                e = q;
                take_digits();
            }
        }
        Token token{is_float ? Token::Kind::Float : Token::Kind::Int, digits, 0, 0, at};
        try {
            if (is_float) token.float_value = std::stod(digits);
            else token.int_value = std::stoll(digits);
        } catch (...) {
            return error_at(p, "number literal out of range");
        }
        tokens_.push_back(std::move(token));
        return e;
    }

    Result<size_t> lex_string(size_t p, SourcePos at) {
        char quote = src_[p];
        std::string out;
        size_t e = p + 1;
        while (e < src_.size() && src_[e] != quote) {
            char c = src_[e];
            if (c != '\\' || e + 1 >= src_.size()) {
                out += c;
                ++e;
                continue;
            }
            char n = src_[e + 1];
            e += 2;
            switch (n) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case '0': out += '\0'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case '\n': break;
                case 'x':
                case 'u':
                case 'U': {
                    size_t len = n == 'x' ? 2 : (n == 'u' ? 4 : 8);
                    if (e + len > src_.size()) return error_at(e, "truncated escape sequence");
                    uint32_t cp = 0;
                    for (size_t i = 0; i < len; ++i) {
                        char h = src_[e + i];
                        if (!std::isxdigit(static_cast<unsigned char>(h))) return error_at(e, "bad escape sequence");
                        cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                    }
                    if (cp > 0x10FFFF) return error_at(e, "escape sequence out of range");
                    append_utf8(out, cp);
                    e += len;
                    break;
                }
                default:
                    out += '\\';
                    out += n;
            }
        }
        if (e >= src_.size()) return error_at(p, "unterminated string literal");
        tokens_.push_back(Token{Token::Kind::String, std::move(out), 0, 0, at});
        return e + 1;
    }

    const std::string src_;
    LexOptions options_;
    std::vector<size_t> line_starts_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    bool line_starting_ = true;
};

}  // namespace

Result<std::vector<Token>> tokenize(const std::string& source, const LexOptions& options) {
    return Lexer(source, options).run();
}

std::string describe(const Token& token) {
    switch (token.kind) {
        case Token::Kind::Text: return "template text";
        case Token::Kind::VarBegin: return "'{{'";
        case Token::Kind::VarEnd: return "'}}'";
        case Token::Kind::BlockBegin: return "'{%'";
        case Token::Kind::BlockEnd: return "'%}'";
        case Token::Kind::Name: return "name '" + token.text + "'";
        case Token::Kind::String: return "string literal";
        case Token::Kind::Int:
        case Token::Kind::Float: return "number " + token.text;
        case Token::Kind::Op: return "'" + token.text + "'";
        case Token::Kind::Eof: return "end of template";
    }
    return "token";
}

}  // namespace rf::tmpl
