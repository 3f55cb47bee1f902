// The dynamic value type of the template language. Lists and dicts are shared by reference (as in
// Python), so `ns.items.append(x)` inside a loop is seen by every holder of the list.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"

namespace rf::tmpl {

class Value;
using Array = std::vector<Value>;

// Insertion-ordered string-keyed map: chat messages and tool schemas must keep their key order when
// printed back (tojson), so a sorted map would not do.
class Object {
public:
    const Value* find(const std::string& key) const;
    Value* find(const std::string& key);
    void set(const std::string& key, Value value);
    // Keys other than strings (ints, bools, none) are stored under an encoded string, so that 1,
    // 1.0 and True are one key as in Python; key_value() gives back the key the template sees.
    static std::string encode_key(const Value& key);
    const Value* find_key(const Value& key) const;
    void set_key(const Value& key, Value value);
    Value key_value(const std::string& stored_key) const;
    bool erase(const std::string& key);
    size_t size() const { return entries_.size(); }
    const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

    bool is_namespace = false;  // only namespace() objects accept `{% set ns.attr = ... %}`

private:
    std::vector<std::pair<std::string, Value>> entries_;
    std::unordered_map<std::string, size_t> index_;
    std::vector<std::pair<std::string, Value>> non_string_keys_;  // encoded key -> original key
};

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;

    const Value* kwarg(const std::string& name) const;
    // Positional argument `index`, else keyword `name`, else nullptr.
    const Value* get(size_t index, const std::string& name) const;
};

using Function = std::function<Result<Value>(CallArgs&)>;

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Function };

    Value() = default;  // undefined
    static Value undefined(std::string hint = {});
    static Value none();
    Value(bool b) : kind_(Kind::Bool), int_(b) {}
    Value(int v) : kind_(Kind::Int), int_(v) {}
    Value(int64_t v) : kind_(Kind::Int), int_(v) {}
    Value(double v) : kind_(Kind::Float), float_(v) {}
    Value(std::string s) : kind_(Kind::String), str_(std::make_shared<std::string>(std::move(s))) {}
    Value(const char* s) : Value(std::string(s)) {}
    Value(Array a) : kind_(Kind::Array), ptr_(std::make_shared<Array>(std::move(a))) {}
    Value(Object o) : kind_(Kind::Object), ptr_(std::make_shared<Object>(std::move(o))) {}
    static Value function(Function f, std::string name);
    // A lazily produced sequence (what map/select/... return): iterable, but it has no length, is
    // always true and cannot be serialized, as in the reference implementation.
    static Value generator(Array items);
    // An immutable sequence (tuple literals, dict items); behaves as a list but prints as (a, b).
    static Value tuple(Array items);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_array() const { return kind_ == Kind::Array; }
    bool is_object() const { return kind_ == Kind::Object; }
    bool is_function() const { return kind_ == Kind::Function; }
    bool is_generator() const { return generator_; }
    bool is_tuple() const { return tuple_; }

    bool as_bool() const { return int_ != 0; }
    int64_t as_int() const { return kind_ == Kind::Float ? static_cast<int64_t>(float_) : int_; }
    double as_float() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
    const std::string& as_string() const { return *str_; }
    Array& as_array() const { return *static_cast<Array*>(ptr_.get()); }
    Object& as_object() const { return *static_cast<Object*>(ptr_.get()); }
    const Function& as_function() const { return *static_cast<const Function*>(ptr_.get()); }
    // For undefined values: why it is undefined ("'x' is undefined"); for functions: their name.
    const std::string& hint() const;

    bool truthy() const;
    // Python's str(): what `{{ value }}` prints.
    std::string to_string() const;
    // Python's repr(): how values look inside printed lists and dicts (self-containing lists print
    // as [...] past a nesting bound instead of recursing forever).
    std::string repr(int depth = 0) const;
    // Python's type name, used in error messages ("'NoneType' object is not iterable").
    std::string type_name() const;

    bool same_identity(const Value& other) const;
    // The list/dict/function this value refers to (null for scalars).
    const void* identity() const { return ptr_.get(); }

private:
    Kind kind_ = Kind::Undefined;
    bool generator_ = false;
    bool tuple_ = false;
    int64_t int_ = 0;
    double float_ = 0;
    std::shared_ptr<std::string> str_;  // the string, or the hint of an undefined value or function
    std::shared_ptr<void> ptr_;         // Array, Object or Function, by kind_
};

// Python equality (1 == 1.0 == True, deep for containers; past a nesting bound, unequal).
bool values_equal(const Value& a, const Value& b, int depth = 0);
// Python ordering for numbers, strings and lists; an Error for incomparable types.
Result<int> compare_values(const Value& a, const Value& b, int depth = 0);
// Whether `value` is, or contains at any depth, the container `target`: storing it into `target`
// would make a reference cycle (which would never be freed). Errs on the side of "yes" for values
// too large to search.
bool would_contain(const Value& value, const void* target);
// Python's repr of a float ("1.0", "1e+16", "inf").
std::string format_float(double value);

}  // namespace rf::tmpl
