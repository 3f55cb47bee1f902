// Filters on sequences and mappings: length, join, first/last, map/select family, sorting, grouping.
#include <algorithm>
#include <cctype>

#include "template/builtins.h"
#include "template/text.h"

namespace rf::tmpl {

namespace {

// `attribute="a.b.0"` lookups as map/sort/selectattr take them.
Result<Value> resolve_path(const Value& item, const std::string& path, Evaluator& evaluator) {
    Value current = item;
    for (const std::string& part : text::split(path, ".", -1)) {
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        Value key = numeric ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part);
        RF_ASSIGN_OR_RETURN(current, get_item(current, key, evaluator));
    }
    return current;
}

Result<Array> items_of(const Value& subject) {
    if (subject.is_object()) {
        Array pairs;
        const Object& object = subject.as_object();
        for (const auto& [key, value] : object.entries()) pairs.push_back(Value::tuple(Array{object.key_value(key), value}));
        return pairs;
    }
    return iterate(subject);
}

// Sort key: strings compare case-insensitively unless asked otherwise.
Value sort_key(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
    return v;
}

Result<Array> sorted(Array items, bool reverse, bool case_sensitive, const std::string& attribute,
                     Evaluator& evaluator) {
    std::vector<std::pair<Value, Value>> keyed;
    for (Value& item : items) {
        Value key = item;
        if (!attribute.empty()) {
            RF_ASSIGN_OR_RETURN(key, resolve_path(item, attribute, evaluator));
        }
        keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
    }
    std::optional<Error> failure;
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        auto c = compare_values(a.first, b.first);
        if (!c.ok()) {
            if (!failure) failure = c.error();
            return false;
        }
        return reverse ? *c > 0 : *c < 0;
    });
    if (failure) return *failure;
    Array out;
    for (auto& [key, item] : keyed) out.push_back(std::move(item));
    return out;
}

// select/reject/selectattr/rejectattr share this: keep items whose test result equals `keep`.
// Like map, Jinja2 guards these with `if value:`, so any false subject (undefined, none, 0, '')
// gives an empty sequence before the arguments are even looked at.
Result<Value> select_items(const Value& subject, CallArgs& args, bool keep, bool by_attribute, Evaluator& evaluator) {
    if (!subject.truthy()) return Value::generator(Array{});
    RF_ASSIGN_OR_RETURN(Array items, iterate(subject));
    size_t next = 0;
    std::string attribute;
    if (by_attribute) {
        if (args.positional.empty() || !args.positional[0].is_string()) return make_error("selectattr needs an attribute name");
        attribute = args.positional[next++].as_string();
    }
    std::string test;
    if (next < args.positional.size()) {
        if (!args.positional[next].is_string()) return make_error("select: the test name must be a string");
        test = args.positional[next++].as_string();
    }
    CallArgs test_args;
    test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
    test_args.keyword = args.keyword;
    Array out;
    for (const Value& item : items) {
        Value probe = item;
        if (by_attribute) {
            RF_ASSIGN_OR_RETURN(probe, resolve_path(item, attribute, evaluator));
        }
        bool passed = probe.truthy();
        if (!test.empty()) {
            CallArgs copy = test_args;
            RF_ASSIGN_OR_RETURN(passed, evaluator.apply_test(test, probe, copy));
        }
        if (passed == keep) out.push_back(item);
    }
    return Value::generator(std::move(out));
}

Result<Value> map_items(const Value& subject, CallArgs& args, Evaluator& evaluator) {
    if (!subject.truthy()) return Value::generator(Array{});  // Jinja2's `if value:` guard, as in select
    RF_ASSIGN_OR_RETURN(Array items, iterate(subject));
    Array out;
    if (const Value* attribute = args.kwarg("attribute")) {
        const Value* fallback = args.kwarg("default");
        for (const Value& item : items) {
            RF_ASSIGN_OR_RETURN(Value v, resolve_path(item, attribute->to_string(), evaluator));
            out.push_back(v.is_undefined() && fallback ? *fallback : v);
        }
        return Value::generator(std::move(out));
    }
    if (args.positional.empty() || !args.positional[0].is_string()) return make_error("map needs a filter name or attribute=");
    std::string filter = args.positional[0].as_string();
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& item : items) {
        CallArgs copy = rest;
        RF_ASSIGN_OR_RETURN(Value v, evaluator.apply_filter(filter, item, copy));
        out.push_back(std::move(v));
    }
    return Value::generator(std::move(out));
}

Result<Value> unique_items(const Value& subject, CallArgs& args, Evaluator& evaluator) {
    RF_ASSIGN_OR_RETURN(Array items, iterate(subject));
    const Value* case_sensitive = args.get(0, "case_sensitive");
    RF_ASSIGN_OR_RETURN(std::string attribute, string_arg(args, 1, "attribute", ""));
    Array out, seen;
    for (const Value& item : items) {
        Value key = item;
        if (!attribute.empty()) {
            RF_ASSIGN_OR_RETURN(key, resolve_path(item, attribute, evaluator));
        }
        key = sort_key(key, case_sensitive && case_sensitive->truthy());
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); })) continue;
        seen.push_back(key);
        out.push_back(item);
    }
    return Value::generator(std::move(out));
}

Result<Value> length_of(const Value& subject) {
    switch (subject.kind()) {
        case Value::Kind::Undefined: return Value(0);
        case Value::Kind::String: return Value(static_cast<int64_t>(text::length(subject.as_string())));
        case Value::Kind::Array:
            if (subject.is_generator()) return make_error("object of type 'generator' has no len()");
            return Value(static_cast<int64_t>(subject.as_array().size()));
        case Value::Kind::Object: return Value(static_cast<int64_t>(subject.as_object().size()));
        default: return make_error("object of type '{}' has no len()", subject.type_name());
    }
}

Result<Value> join_items(const Value& subject, CallArgs& args, Evaluator& evaluator) {
    RF_ASSIGN_OR_RETURN(Array items, iterate(subject));
    RF_ASSIGN_OR_RETURN(std::string separator, string_arg(args, 0, "d", ""));
    RF_ASSIGN_OR_RETURN(std::string attribute, string_arg(args, 1, "attribute", ""));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += separator;
        Value item = items[i];
        if (!attribute.empty()) {
            RF_ASSIGN_OR_RETURN(item, resolve_path(item, attribute, evaluator));
        }
        out += item.to_string();
        RF_TRY(evaluator.check_growing(out.size()));
    }
    RF_TRY(evaluator.check_size(out.size()));
    return Value(std::move(out));
}

Result<Value> min_max(const Value& subject, CallArgs& args, bool want_max, Evaluator& evaluator) {
    const Value* case_sensitive = args.get(0, "case_sensitive");
    RF_ASSIGN_OR_RETURN(std::string attribute, string_arg(args, 1, "attribute", ""));
    RF_ASSIGN_OR_RETURN(Array items, iterate(subject));
    RF_ASSIGN_OR_RETURN(Array ordered, sorted(std::move(items), want_max, case_sensitive && case_sensitive->truthy(),
                                              attribute, evaluator));
    if (ordered.empty()) return Value::undefined("no items to take the minimum or maximum of");
    return ordered.front();
}

}  // namespace

std::optional<Result<Value>> sequence_filter(const std::string& name, const Value& subject, CallArgs& args,
                                             Evaluator& evaluator) {
    if (name == "length" || name == "count") return length_of(subject);
    if (name == "join") return join_items(subject, args, evaluator);
    if (name == "list") {
        auto items = iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        return Value(std::move(items).value());
    }
    if (name == "items") {
        if (subject.is_undefined()) return Value(Array{});
        if (!subject.is_object()) return Result<Value>(make_error("items: expected a mapping, got {}", subject.type_name()));
        auto pairs = items_of(subject);
        if (!pairs.ok()) return Result<Value>(pairs.error());
        return Value(std::move(pairs).value());
    }
    if (name == "first" || name == "last") {
        if (name == "last" && subject.is_generator()) return Result<Value>(make_error("'generator' object is not reversible"));
        auto items = iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        if (items->empty()) return Value::undefined("no first or last item of an empty sequence");
        return name == "first" ? items->front() : items->back();
    }
    if (name == "reverse") {
        if (subject.is_string()) {
            auto cps = text::code_points(subject.as_string());
            std::string out;
            for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
            return Value(std::move(out));
        }
        auto items = iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        std::reverse(items->begin(), items->end());
        return Value(std::move(items).value());
    }
    if (name == "map") return map_items(subject, args, evaluator);
    if (name == "select") return select_items(subject, args, true, false, evaluator);
    if (name == "reject") return select_items(subject, args, false, false, evaluator);
    if (name == "selectattr") return select_items(subject, args, true, true, evaluator);
    if (name == "rejectattr") return select_items(subject, args, false, true, evaluator);
    if (name == "unique") return unique_items(subject, args, evaluator);
    if (name == "sort" || name == "dictsort") {
        bool dict = name == "dictsort";
        const Value* reverse = args.get(dict ? 2 : 0, "reverse");
        const Value* case_sensitive = args.get(dict ? 0 : 1, "case_sensitive");
        std::string attribute;
        if (dict) {
            auto by = string_arg(args, 1, "by", "key");
            if (!by.ok()) return Result<Value>(by.error());
            attribute = std::string(1, *by == "value" ? '1' : '0');
        } else {
            auto attr = string_arg(args, 2, "attribute", "");
            if (!attr.ok()) return Result<Value>(attr.error());
            attribute = *attr;
        }
        if (dict) {
            // dictsort calls value.items(): an undefined value or a non-mapping is an error in Jinja2.
            if (auto status = require_defined(subject); !status.ok()) return Result<Value>(status.error());
            if (!subject.is_object())
                return Result<Value>(make_error("'{}' object has no attribute 'items'", subject.type_name()));
        }
        auto items = dict ? items_of(subject) : iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        auto out = sorted(std::move(items).value(), reverse && reverse->truthy(),
                          case_sensitive && case_sensitive->truthy(), attribute, evaluator);
        if (!out.ok()) return Result<Value>(out.error());
        return Value(std::move(out).value());
    }
    if (name == "min" || name == "max") return min_max(subject, args, name == "max", evaluator);
    if (name == "sum") {
        auto items = iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        auto attribute = string_arg(args, 0, "attribute", "");
        if (!attribute.ok()) return Result<Value>(attribute.error());
        const Value* start = args.get(1, "start");
        Value total = start ? *start : Value(0);
        for (const Value& item : *items) {
            Value v = item;
            if (!attribute->empty()) {
                auto resolved = resolve_path(item, *attribute, evaluator);
                if (!resolved.ok()) return Result<Value>(resolved.error());
                v = *resolved;
            }
            auto sum = binary_op("+", total, v, evaluator);
            if (!sum.ok()) return sum;
            total = *sum;
        }
        return total;
    }
    if (name == "batch") {
        auto items = iterate(subject);
        if (!items.ok()) return Result<Value>(items.error());
        auto size = int_arg(args, 0, "linecount", 1);
        if (!size.ok()) return Result<Value>(size.error());
        if (*size <= 0) return Result<Value>(make_error("batch: size must be positive"));
        const Value* fill = args.get(1, "fill_with");
        Array batches, current;
        for (const Value& item : *items) {
            current.push_back(item);
            if (static_cast<int64_t>(current.size()) == *size) batches.push_back(Value(std::exchange(current, {})));
        }
        if (!current.empty()) {
            while (fill && !fill->is_none() && static_cast<int64_t>(current.size()) < *size) current.push_back(*fill);
            batches.push_back(Value(std::move(current)));
        }
        return Value::generator(std::move(batches));
    }
    if (name == "attr") {
        auto attr = string_arg(args, 0, "name", "");
        if (!attr.ok()) return Result<Value>(attr.error());
        return get_attribute(subject, *attr, evaluator);
    }
    return std::nullopt;
}

}  // namespace rf::tmpl
