// Global functions available to every template.
#include <cmath>
#include <ctime>

#include "template/builtins.h"

namespace rf::tmpl {

namespace {

Result<Value> range(CallArgs& args, Evaluator& evaluator) {
    for (const Value& v : args.positional)
        if (!v.is_int() && !v.is_bool()) return make_error("range() arguments must be integers, not {}", v.type_name());
    int64_t start = 0, stop = 0, step = 1;
    switch (args.positional.size()) {
        case 1: stop = args.positional[0].as_int(); break;
        case 2:
            start = args.positional[0].as_int();
            stop = args.positional[1].as_int();
            break;
        case 3:
            start = args.positional[0].as_int();
            stop = args.positional[1].as_int();
            step = args.positional[2].as_int();
            break;
        default: return make_error("range expected 1 to 3 arguments, got {}", args.positional.size());
    }
    if (step == 0) return make_error("range() arg 3 must not be zero");
    // Count first (in floating point, so extreme bounds cannot overflow) and refuse huge ranges.
    double span = (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step);
    double count = span > 0 ? std::ceil(span) : 0;
    if (count > static_cast<double>(evaluator.limits().max_loop_iterations))
        return make_error("range() of {} items exceeds the loop limit of {}", count, evaluator.limits().max_loop_iterations);
    RF_TRY(evaluator.check_items(static_cast<size_t>(count)));
    Array out;
    out.reserve(static_cast<size_t>(count));
    for (int64_t i = 0, v = start; i < static_cast<int64_t>(count); ++i, v += step) out.push_back(Value(v));
    return Value(std::move(out));
}

Result<Value> make_object(CallArgs& args, bool is_namespace) {
    Object object;
    object.is_namespace = is_namespace;
    for (const Value& v : args.positional) {
        if (!v.is_object()) return make_error("expected a mapping argument, got {}", v.type_name());
        for (const auto& [key, value] : v.as_object().entries()) object.set_key(v.as_object().key_value(key), value);
    }
    for (const auto& [key, value] : args.keyword) object.set(key, value);
    return Value(std::move(object));
}

Result<Value> strftime_now(CallArgs& args, Evaluator& evaluator) {
    RF_ASSIGN_OR_RETURN(std::string format, string_arg(args, 0, "format", "%Y-%m-%d %H:%M:%S"));
    if (format.size() > 256) return make_error("strftime_now: format too long");
    std::time_t t = std::chrono::system_clock::to_time_t(evaluator.now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[1024];
    size_t n = format.empty() ? 0 : std::strftime(buf, sizeof(buf), format.c_str(), &tm);
    if (n == 0 && !format.empty()) return make_error("strftime_now: cannot format '{}'", format);
    return Value(std::string(buf, n));
}

}  // namespace

void install_globals(Frame& root, Evaluator& evaluator) {
    Evaluator* ev = &evaluator;
    root.vars["range"] = Value::function([ev](CallArgs& args) { return range(args, *ev); }, "range");
    root.vars["dict"] = Value::function([](CallArgs& args) { return make_object(args, false); }, "dict");
    root.vars["namespace"] = Value::function([](CallArgs& args) { return make_object(args, true); }, "namespace");
    root.vars["raise_exception"] = Value::function(
        [](CallArgs& args) -> Result<Value> {
            std::string message = args.positional.empty() ? "raise_exception called" : args.positional[0].to_string();
            return make_error("{}", message);
        },
        "raise_exception");
    root.vars["strftime_now"] = Value::function([ev](CallArgs& args) { return strftime_now(args, *ev); }, "strftime_now");
    root.vars["joiner"] = Value::function(
        [](CallArgs& args) -> Result<Value> {
            std::string separator = args.positional.empty() ? ", " : args.positional[0].to_string();
            auto used = std::make_shared<bool>(false);
            return Value::function(
                [separator, used](CallArgs&) -> Result<Value> {
                    if (!*used) {
                        *used = true;
                        return Value(std::string());
                    }
                    return Value(separator);
                },
                "joiner");
        },
        "joiner");
}

}  // namespace rf::tmpl
