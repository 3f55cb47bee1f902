// Methods templates call on strings (`s.startswith(...)`), lists (`l.append(x)`) and dicts
// (`d.get(k, default)`), with Python's behaviour.
#include "template/builtins.h"
#include "template/text.h"

namespace rf::tmpl {

namespace {

Array to_values(const std::vector<std::string>& parts) {
    Array out;
    for (const std::string& p : parts) out.push_back(Value(p));
    return out;
}

Result<bool> affix_test(const std::string& s, const CallArgs& args, bool prefix) {
    if (args.positional.empty()) return make_error("{} needs an argument", prefix ? "startswith" : "endswith");
    const Value& arg = args.positional[0];
    Array candidates = arg.is_array() ? arg.as_array() : Array{arg};
    for (const Value& c : candidates) {
        if (!c.is_string()) return make_error("{} arg must be str or a tuple of str", prefix ? "startswith" : "endswith");
        if (prefix ? text::starts_with(s, c.as_string()) : text::ends_with(s, c.as_string())) return true;
    }
    return false;
}

Result<Value> find_in(const std::string& s, const CallArgs& args, bool from_right) {
    RF_ASSIGN_OR_RETURN(std::string needle, string_arg(args, 0, "sub", ""));
    size_t at = from_right ? s.rfind(needle) : s.find(needle);
    if (at == std::string::npos) return Value(-1);
    return Value(static_cast<int64_t>(text::length(s.substr(0, at))));
}

std::optional<Result<Value>> string_method(const std::string& s, const std::string& name, CallArgs& args,
                                           Evaluator& evaluator) {
    auto chars = [&]() -> std::optional<std::string> {
        const Value* c = args.get(0, "chars");
        if (!c || c->is_none()) return std::nullopt;
        return c->to_string();
    };
    if (name == "strip") return Value(text::strip(s, chars(), text::Side::Both));
    if (name == "lstrip") return Value(text::strip(s, chars(), text::Side::Left));
    if (name == "rstrip") return Value(text::strip(s, chars(), text::Side::Right));
    if (name == "upper") return Value(text::upper(s));
    if (name == "lower") return Value(text::lower(s));
    if (name == "title") return Value(text::title(s));
    if (name == "capitalize") return Value(text::capitalize(s));
    if (name == "startswith" || name == "endswith") {
        auto r = affix_test(s, args, name == "startswith");
        if (!r.ok()) return Result<Value>(r.error());
        return Value(*r);
    }
    if (name == "split" || name == "rsplit") {
        auto sep = string_arg(args, 0, "sep", "");
        auto max_split = int_arg(args, 1, "maxsplit", -1);
        if (!sep.ok()) return Result<Value>(sep.error());
        if (!max_split.ok()) return Result<Value>(max_split.error());
        const Value* sep_arg = args.get(0, "sep");
        if (sep_arg && sep_arg->is_string() && sep_arg->as_string().empty())
            return Result<Value>(make_error("empty separator"));
        return Value(to_values(name == "split" ? text::split(s, *sep, *max_split) : text::rsplit(s, *sep, *max_split)));
    }
    if (name == "splitlines") return Value(to_values(text::splitlines(s)));
    if (name == "replace") {
        if (args.positional.size() < 2) return Result<Value>(make_error("replace needs two arguments"));
        auto count = int_arg(args, 2, "count", -1);
        if (!count.ok()) return Result<Value>(count.error());
        std::string out = text::replace(s, args.positional[0].to_string(), args.positional[1].to_string(), *count);
        if (auto status = evaluator.check_size(out.size()); !status.ok()) return Result<Value>(status.error());
        return Value(std::move(out));
    }
    if (name == "find" || name == "rfind") return find_in(s, args, name == "rfind");
    if (name == "index" || name == "rindex") {
        auto r = find_in(s, args, name == "rindex");
        if (r.ok() && r->as_int() < 0) return Result<Value>(make_error("substring not found"));
        return r;
    }
    if (name == "count") {
        auto needle = string_arg(args, 0, "x", "");
        if (!needle.ok()) return Result<Value>(needle.error());
        return Value(static_cast<int64_t>(text::count(s, *needle)));
    }
    if (name == "format") return format_string(s, args, evaluator);
    if (name == "join") {
        if (args.positional.empty()) return Result<Value>(make_error("join needs an argument"));
        auto items = iterate(args.positional[0]);
        if (!items.ok()) return Result<Value>(items.error());
        std::string out;
        for (size_t i = 0; i < items->size(); ++i) {
            if (!(*items)[i].is_string()) return Result<Value>(make_error("sequence item {}: expected str instance", i));
            if (i) out += s;
            out += (*items)[i].as_string();
            if (auto status = evaluator.check_growing(out.size()); !status.ok()) return Result<Value>(status.error());
        }
        if (auto status = evaluator.check_size(out.size()); !status.ok()) return Result<Value>(status.error());
        return Value(std::move(out));
    }
    auto all_of = [&](auto predicate) {
        if (s.empty()) return false;
        for (unsigned char c : s)
            if (!predicate(c)) return false;
        return true;
    };
    if (name == "isdigit") return Value(all_of([](unsigned char c) { return std::isdigit(c) != 0; }));
    if (name == "isalpha") return Value(all_of([](unsigned char c) { return std::isalpha(c) != 0 || c >= 0x80; }));
    if (name == "isalnum") return Value(all_of([](unsigned char c) { return std::isalnum(c) != 0 || c >= 0x80; }));
    if (name == "isspace") return Value(!s.empty() && text::strip(s, std::nullopt, text::Side::Both).empty());
    if (name == "islower") return Value(text::lower(s) == s && text::upper(s) != s);
    if (name == "isupper") return Value(text::upper(s) == s && text::lower(s) != s);
    return std::nullopt;
}

std::optional<Result<Value>> dict_method(const Value& self, const std::string& name, CallArgs& args) {
    Object& object = self.as_object();
    if (name == "items" || name == "keys" || name == "values") {
        Array out;
        for (const auto& [key, value] : object.entries()) {
            if (name == "items") out.push_back(Value::tuple(Array{object.key_value(key), value}));
            else out.push_back(name == "keys" ? object.key_value(key) : value);
        }
        return Value(std::move(out));
    }
    if (name == "get") {
        if (args.positional.empty()) return Result<Value>(make_error("get needs a key"));
        if (const Value* found = object.find_key(args.positional[0])) return *found;
        const Value* fallback = args.get(1, "default");
        return fallback ? *fallback : Value::none();
    }
    if (name == "copy") return Value(Object(object));
    return std::nullopt;
}

std::optional<Result<Value>> list_method(const Value& self, const std::string& name, CallArgs& args,
                                         Evaluator& evaluator) {
    Array& items = self.as_array();
    if (name == "append" || name == "extend") {
        if (args.positional.empty()) return Result<Value>(make_error("{} needs an argument", name));
        if (would_contain(args.positional[0], self.identity()))
            return Result<Value>(make_error("a list cannot contain itself"));
        if (name == "append") {
            items.push_back(args.positional[0]);
        } else {
            auto more = iterate(args.positional[0]);
            if (!more.ok()) return Result<Value>(more.error());
            items.insert(items.end(), more->begin(), more->end());
        }
        if (auto status = evaluator.check_items(items.size()); !status.ok()) return Result<Value>(status.error());
        return Value::none();
    }
    if (name == "pop") {
        if (items.empty()) return Result<Value>(make_error("pop from empty list"));
        auto index = int_arg(args, 0, "index", -1);
        if (!index.ok()) return Result<Value>(index.error());
        int64_t i = *index < 0 ? *index + static_cast<int64_t>(items.size()) : *index;
        if (i < 0 || i >= static_cast<int64_t>(items.size())) return Result<Value>(make_error("pop index out of range"));
        Value out = items[static_cast<size_t>(i)];
        items.erase(items.begin() + i);
        return out;
    }
    if (name == "insert") {
        if (args.positional.size() < 2) return Result<Value>(make_error("insert needs two arguments"));
        auto index = int_arg(args, 0, "index", 0);
        if (!index.ok()) return Result<Value>(index.error());
        int64_t n = static_cast<int64_t>(items.size());
        int64_t i = std::clamp<int64_t>(*index < 0 ? *index + n : *index, 0, n);
        if (would_contain(args.positional[1], self.identity()))
            return Result<Value>(make_error("a list cannot contain itself"));
        items.insert(items.begin() + i, args.positional[1]);
        if (auto status = evaluator.check_items(items.size()); !status.ok()) return Result<Value>(status.error());
        return Value::none();
    }
    if (name == "index" || name == "count" || name == "remove") {
        if (args.positional.empty()) return Result<Value>(make_error("{} needs an argument", name));
        int64_t count = 0;
        for (size_t i = 0; i < items.size(); ++i) {
            if (!values_equal(items[i], args.positional[0])) continue;
            if (name == "index") return Value(static_cast<int64_t>(i));
            if (name == "remove") {
                items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
                return Value::none();
            }
            ++count;
        }
        if (name == "count") return Value(count);
        return Result<Value>(make_error("value is not in list"));
    }
    if (name == "copy") return Value(Array(items));
    return std::nullopt;
}

}  // namespace

std::optional<Value> bind_method(const Value& object, const std::string& name, Evaluator& evaluator) {
    // Probe with no arguments is not possible for every method, so the method set is listed here.
    static const char* const kString[] = {"strip", "lstrip", "rstrip", "upper", "lower", "title", "capitalize",
                                          "startswith", "endswith", "split", "rsplit", "splitlines", "replace",
                                          "find", "rfind", "index", "rindex", "count", "format", "join",
                                          "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper"};
    static const char* const kDict[] = {"items", "keys", "values", "get", "copy"};
    static const char* const kList[] = {"append", "extend", "pop", "insert", "index", "count", "remove", "copy"};
    auto listed = [&](const auto& names) {
        for (const char* n : names)
            if (name == n) return true;
        return false;
    };
    Evaluator* ev = &evaluator;
    if (object.is_string() && listed(kString)) {
        return Value::function([object, name, ev](CallArgs& args) -> Result<Value> {
            return *string_method(object.as_string(), name, args, *ev);
        }, "str." + name);
    }
    if (object.is_object() && listed(kDict)) {
        return Value::function([object, name](CallArgs& args) -> Result<Value> {
            return *dict_method(object, name, args);
        }, "dict." + name);
    }
    if (object.is_array() && !object.is_generator() && !object.is_tuple() && listed(kList)) {
        return Value::function([object, name, ev](CallArgs& args) -> Result<Value> {
            return *list_method(object, name, args, *ev);
        }, "list." + name);
    }
    return std::nullopt;
}

}  // namespace rf::tmpl
