// Filter and test dispatch, and the argument helpers the builtins share.
#include "template/builtins.h"

namespace rf::tmpl {

Result<int64_t> int_arg(const CallArgs& args, size_t index, const std::string& name, int64_t fallback) {
    const Value* v = args.get(index, name);
    if (!v || v->is_none() || v->is_undefined()) return fallback;
    if (!v->is_int() && !v->is_bool()) return make_error("argument '{}' must be an integer, not {}", name, v->type_name());
    return v->as_int();
}

Result<std::string> string_arg(const CallArgs& args, size_t index, const std::string& name,
                               const std::string& fallback) {
    const Value* v = args.get(index, name);
    if (!v || v->is_none() || v->is_undefined()) return fallback;
    if (!v->is_string()) return make_error("argument '{}' must be a string, not {}", name, v->type_name());
    return v->as_string();
}

Result<Value> Evaluator::apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
    if (auto result = string_filter(name, subject, args, *this)) return std::move(*result);
    if (auto result = sequence_filter(name, subject, args, *this)) return std::move(*result);
    return make_error("no filter named '{}'", name);
}

Result<bool> Evaluator::apply_test(const std::string& name, const Value& subject, CallArgs& args) {
    if (auto result = builtin_test(name, subject, args, *this)) return std::move(*result);
    return make_error("no test named '{}'", name);
}

}  // namespace rf::tmpl
