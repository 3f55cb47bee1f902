// Renders a template snippet with variables given as JSON, for the interpreter's unit tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "template/json.h"
#include "template/template.h"

namespace rf::tmpl::test {

inline Result<std::string> render(const std::string& source,
                                  const nlohmann::ordered_json& variables = nlohmann::ordered_json::object(),
                                  const RenderOptions& options = {}) {
    RF_ASSIGN_OR_RETURN(Template tmpl, Template::parse(source));
    Object vars;
    for (const auto& [key, value] : variables.items()) vars.set(key, value_from_json(value));
    return tmpl.render(vars, options);
}

// The rendered text, or "ERROR: message" so that failures show in assertion output.
inline std::string text(const std::string& source,
                        const nlohmann::ordered_json& variables = nlohmann::ordered_json::object()) {
    auto result = render(source, variables);
    return result.ok() ? *result : "ERROR: " + result.error().message;
}

}  // namespace rf::tmpl::test
