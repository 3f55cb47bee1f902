// A parsed Jinja template: parse once, render many times with different variables.
//
//   RF_ASSIGN_OR_RETURN(auto tmpl, rf::tmpl::Template::parse(source));
//   rf::tmpl::Object vars;
//   vars.set("name", rf::tmpl::Value("world"));
//   RF_ASSIGN_OR_RETURN(std::string text, tmpl.render(vars));
//
// Parsing uses trim_blocks and lstrip_blocks by default (how chat templates are rendered). Errors
// name the line and column of the template where they arose.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "template/ast.h"
#include "template/evaluator.h"
#include "template/lexer.h"
#include "template/value.h"

namespace rf::tmpl {

class Template {
public:
    static Result<Template> parse(const std::string& source, const LexOptions& options = {});

    // Renders with `variables` on top of the global functions (range, namespace, raise_exception...).
    Result<std::string> render(const Object& variables, const RenderOptions& options = {}) const;

private:
    explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}
    std::shared_ptr<const Body> body_;
};

}  // namespace rf::tmpl
