// The built-in library: filters (filters_*.cpp), tests (tests.cpp), methods of strings, lists and
// dicts (methods.cpp) and global functions (globals.cpp).
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "template/evaluator.h"
#include "template/value.h"

namespace rf::tmpl {

// Filters split by what they work on; each returns nullopt when it does not know `name`.
std::optional<Result<Value>> string_filter(const std::string& name, const Value& subject, CallArgs& args,
                                           Evaluator& evaluator);
std::optional<Result<Value>> sequence_filter(const std::string& name, const Value& subject, CallArgs& args,
                                             Evaluator& evaluator);

// `name` as a test (`x is name`); nullopt when there is no such test.
std::optional<Result<bool>> builtin_test(const std::string& name, const Value& subject, CallArgs& args,
                                         Evaluator& evaluator);

// The method `name` of a string, list or dict bound to `object`; nullopt when there is none.
std::optional<Value> bind_method(const Value& object, const std::string& name, Evaluator& evaluator);

// range, dict, namespace, raise_exception, strftime_now, cycler/joiner.
void install_globals(Frame& root, Evaluator& evaluator);

// Python slicing of strings and lists: start/stop/step may be none.
Result<Value> slice_value(const Value& subject, const Value& start, const Value& stop, const Value& step,
                          Evaluator& evaluator);

// Python's str.format ("{}", "{0}", "{name}") and printf-style `pattern % operand`.
Result<Value> format_string(const std::string& pattern, const CallArgs& args, Evaluator& evaluator);
Result<Value> percent_format(const std::string& pattern, const Value& operand, Evaluator& evaluator);

// Helpers for argument checking shared by the builtins.
Result<int64_t> int_arg(const CallArgs& args, size_t index, const std::string& name, int64_t fallback);
Result<std::string> string_arg(const CallArgs& args, size_t index, const std::string& name,
                               const std::string& fallback);

}  // namespace rf::tmpl
