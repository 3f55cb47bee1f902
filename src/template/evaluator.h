// Walks the syntax tree, producing output text. Variables live in frames chained lexically: a loop
// body or macro call opens a frame whose parent is where it was written, so `set` inside a loop does
// not leak out (hence namespace()), exactly as in the reference language.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "template/ast.h"
#include "template/value.h"

namespace rf::tmpl {

// Bounds that keep hostile templates from hanging or exhausting memory.
struct RenderLimits {
    size_t max_output_bytes = 16u << 20;       // also caps any single string or list built on the way
    uint64_t max_loop_iterations = 1'000'000;  // summed over all loops of one render
    int max_call_depth = 100;                  // nested macro calls
    size_t max_list_items = 1u << 20;          // items in any one list
    size_t max_stack_bytes = 2u << 20;         // native stack the evaluator may use (deep nesting)
    uint64_t max_total_bytes = 256u << 20;     // text built over the whole render (output, captures, concatenations)
};

struct RenderOptions {
    RenderLimits limits;
    // What strftime_now() formats (in UTC); the system clock when empty.
    std::function<std::chrono::system_clock::time_point()> clock;
};

struct Frame {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;
};

class Evaluator {
public:
    Evaluator(const RenderOptions& options, std::shared_ptr<Frame> root);
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    Result<std::string> render(const Body& body);

    Result<Value> eval(const Expr& expr);
    Result<Value> call(const Value& callee, CallArgs& args);
    // Filters applied to a value: `name(args)`; used by filter expressions and map/select.
    Result<Value> apply_filter(const std::string& name, const Value& subject, CallArgs& args);
    Result<bool> apply_test(const std::string& name, const Value& subject, CallArgs& args);

    // Errors unless a string of `size` bytes fits the budget for one string; the bytes also count
    // against the budget for the whole render.
    Status check_size(size_t size);
    // The per-string bound alone, for strings still growing (check_size them once complete).
    Status check_growing(size_t size) const;
    Status check_items(size_t count) const;
    Status count_iterations(uint64_t n);
    std::chrono::system_clock::time_point now() const;
    const RenderLimits& limits() const { return options_.limits; }

private:
    enum class Flow { Normal, Break, Continue };

    Result<Value> eval_inner(const Expr& expr);
    Result<Value> eval_call(const Expr& expr);
    Result<Value> eval_filter_chain(const Expr& chain, const Value& subject);
    Status eval_args(const Expr& expr, size_t first, CallArgs& args);
    Result<Flow> exec(const Body& body);
    Result<Flow> exec_stmt(const Stmt& stmt);
    Result<Flow> exec_for(const Stmt& stmt);
    Status exec_set(const Stmt& stmt);
    Result<std::string> capture(const Body& body);
    Value make_macro(const Stmt& stmt, std::shared_ptr<Frame> scope, const std::string& name);
    Result<Value> call_macro(const Stmt& stmt, std::shared_ptr<Frame> scope, CallArgs& args);
    Status emit(const std::string& text);

    Value lookup(const std::string& name) const;
    void assign(const std::string& name, Value value);
    Error located(const Error& error, SourcePos pos) const;
    Status check_stack() const;

    RenderOptions options_;
    std::shared_ptr<Frame> frame_;
    std::string* out_ = nullptr;
    uint64_t iterations_ = 0;
    int call_depth_ = 0;
    uintptr_t stack_base_ = 0;
    uint64_t total_bytes_ = 0;
    // Frames that macros close over: a macro stored in its own frame forms a reference cycle, which
    // the destructor breaks.
    std::vector<std::shared_ptr<Frame>> closure_frames_;
};

// Attribute access `obj.name`: dict keys, bound methods of strings/lists/dicts, or undefined.
Result<Value> get_attribute(const Value& object, const std::string& name, Evaluator& evaluator);
// Subscript `obj[key]`.
Result<Value> get_item(const Value& object, const Value& key, Evaluator& evaluator);
Result<Value> binary_op(const std::string& op, const Value& a, const Value& b, Evaluator& evaluator);
// The elements `for x in value` visits; an Error for non-iterables.
Result<Array> iterate(const Value& value);
// An error naming the undefined value when `value` is undefined.
Status require_defined(const Value& value);

}  // namespace rf::tmpl
