#include "template/template.h"

#include "template/builtins.h"
#include "template/parser.h"

namespace rf::tmpl {

Result<Template> Template::parse(const std::string& source, const LexOptions& options) {
    RF_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, options));
    RF_ASSIGN_OR_RETURN(Body body, parse_template(tokens));
    return Template(std::make_shared<const Body>(std::move(body)));
}

Result<std::string> Template::render(const Object& variables, const RenderOptions& options) const {
    auto root = std::make_shared<Frame>();
    Evaluator evaluator(options, root);
    install_globals(*root, evaluator);
    for (const auto& [name, value] : variables.entries()) root->vars[name] = value;
    auto result = evaluator.render(*body_);
    // Macros stored in the frames point back at the frames; break the cycles before returning.
    root->vars.clear();
    return result;
}

}  // namespace rf::tmpl
