// Expression evaluation. Errors raised below an expression get that expression's line and column
// attached on their way out (once: the innermost located position wins).
#include <cstring>

#include "template/builtins.h"
#include "template/evaluator.h"
#include "template/text.h"

namespace rf::tmpl {

namespace {
constexpr const char* kLocatedPrefix = "template error at line ";
}

Evaluator::Evaluator(const RenderOptions& options, std::shared_ptr<Frame> root)
    : options_(options), frame_(std::move(root)) {}

Evaluator::~Evaluator() {
    for (auto& frame : closure_frames_) frame->vars.clear();
}

Status Evaluator::check_size(size_t size) {
    if (size > options_.limits.max_output_bytes)
        return make_error("result too large ({} bytes, the limit is {})", size, options_.limits.max_output_bytes);
    total_bytes_ += size;
    if (total_bytes_ > options_.limits.max_total_bytes)
        return make_error("the template built more than {} bytes of text", options_.limits.max_total_bytes);
    return ok_status();
}

Status Evaluator::check_growing(size_t size) const {
    if (size > options_.limits.max_output_bytes)
        return make_error("result too large ({} bytes, the limit is {})", size, options_.limits.max_output_bytes);
    return ok_status();
}

Status Evaluator::check_items(size_t count) const {
    if (count > options_.limits.max_list_items)
        return make_error("list too long ({} items, the limit is {})", count, options_.limits.max_list_items);
    return ok_status();
}

Status Evaluator::check_stack() const {
    auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    if (stack_base_ > here && stack_base_ - here > options_.limits.max_stack_bytes)
        return make_error("template nested too deeply to evaluate");
    return ok_status();
}

Status Evaluator::count_iterations(uint64_t n) {
    iterations_ += n;
    if (iterations_ > options_.limits.max_loop_iterations)
        return make_error("too many loop iterations (the limit is {})", options_.limits.max_loop_iterations);
    return ok_status();
}

std::chrono::system_clock::time_point Evaluator::now() const {
    return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

Error Evaluator::located(const Error& error, SourcePos pos) const {
    if (error.message.rfind(kLocatedPrefix, 0) == 0 || error.message.rfind("template syntax error", 0) == 0)
        return error;
    return make_error("{}{}, column {}: {}", kLocatedPrefix, pos.line, pos.column, error.message);
}

Value Evaluator::lookup(const std::string& name) const {
    for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
        auto it = f->vars.find(name);
        if (it != f->vars.end()) return it->second;
    }
    return Value::undefined("'" + name + "' is undefined");
}

void Evaluator::assign(const std::string& name, Value value) { frame_->vars[name] = std::move(value); }

Status require_defined(const Value& value) {
    if (value.is_undefined()) return make_error("{}", value.hint().empty() ? "value is undefined" : value.hint());
    return ok_status();
}

Result<Value> Evaluator::eval(const Expr& expr) {
    if (auto status = check_stack(); !status.ok()) return located(status.error(), expr.pos);
    auto result = eval_inner(expr);
    if (!result.ok()) return located(result.error(), expr.pos);
    return result;
}

Status Evaluator::eval_args(const Expr& expr, size_t first, CallArgs& args) {
    for (size_t i = first; i < expr.args.size(); ++i) {
        RF_ASSIGN_OR_RETURN(Value v, eval(*expr.args[i]));
        args.positional.push_back(std::move(v));
    }
    for (const auto& [name, value_expr] : expr.kwargs) {
        RF_ASSIGN_OR_RETURN(Value v, eval(*value_expr));
        args.keyword.emplace_back(name, std::move(v));
    }
    return ok_status();
}

Result<Value> Evaluator::eval_inner(const Expr& expr) {
    switch (expr.kind) {
        case Expr::Kind::Literal: return expr.literal;
        case Expr::Kind::Name: return lookup(expr.name);
        case Expr::Kind::List:
        case Expr::Kind::Tuple: {
            Array items;
            for (const ExprPtr& item : expr.args) {
                RF_ASSIGN_OR_RETURN(Value v, eval(*item));
                items.push_back(std::move(v));
            }
            if (expr.kind == Expr::Kind::Tuple) return Value::tuple(std::move(items));
            return Value(std::move(items));
        }
        case Expr::Kind::Dict: {
            Object object;
            for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
                RF_ASSIGN_OR_RETURN(Value key, eval(*expr.args[i]));
                RF_ASSIGN_OR_RETURN(Value value, eval(*expr.args[i + 1]));
                object.set_key(key, std::move(value));
            }
            return Value(std::move(object));
        }
        case Expr::Kind::GetAttr: {
            RF_ASSIGN_OR_RETURN(Value object, eval(*expr.args[0]));
            return get_attribute(object, expr.name, *this);
        }
        case Expr::Kind::GetItem: {
            RF_ASSIGN_OR_RETURN(Value object, eval(*expr.args[0]));
            RF_ASSIGN_OR_RETURN(Value key, eval(*expr.args[1]));
            return get_item(object, key, *this);
        }
        case Expr::Kind::Slice: {
            RF_ASSIGN_OR_RETURN(Value object, eval(*expr.args[0]));
            CallArgs parts;
            for (size_t i = 1; i < 4; ++i) {
                Value part = Value::none();
                if (expr.args[i]) {
                    RF_ASSIGN_OR_RETURN(part, eval(*expr.args[i]));
                }
                parts.positional.push_back(std::move(part));
            }
            return slice_value(object, parts.positional[0], parts.positional[1], parts.positional[2], *this);
        }
        case Expr::Kind::Call: return eval_call(expr);
        case Expr::Kind::Filter: {
            if (!expr.args[0]) return make_error("filter has no subject");
            RF_ASSIGN_OR_RETURN(Value subject, eval(*expr.args[0]));
            CallArgs args;
            RF_TRY(eval_args(expr, 1, args));
            return apply_filter(expr.name, subject, args);
        }
        case Expr::Kind::Test: {
            RF_ASSIGN_OR_RETURN(Value subject, eval(*expr.args[0]));
            CallArgs args;
            RF_TRY(eval_args(expr, 1, args));
            RF_ASSIGN_OR_RETURN(bool passed, apply_test(expr.name, subject, args));
            return Value(passed != expr.negated);
        }
        case Expr::Kind::Unary: {
            RF_ASSIGN_OR_RETURN(Value operand, eval(*expr.args[0]));
            if (expr.name == "not") return Value(!operand.truthy());
            RF_TRY(require_defined(operand));
            if (!operand.is_number())
                return make_error("bad operand type for unary {}: '{}'", expr.name, operand.type_name());
            if (expr.name == "+") return operand.is_bool() ? Value(operand.as_int()) : operand;
            if (operand.is_float()) return Value(-operand.as_float());
            if (operand.as_int() == INT64_MIN) return make_error("integer overflow");
            return Value(-operand.as_int());
        }
        case Expr::Kind::Binary: {
            RF_ASSIGN_OR_RETURN(Value left, eval(*expr.args[0]));
            if (expr.name == "and") {
                if (!left.truthy()) return left;
                return eval(*expr.args[1]);
            }
            if (expr.name == "or") {
                if (left.truthy()) return left;
                return eval(*expr.args[1]);
            }
            RF_ASSIGN_OR_RETURN(Value right, eval(*expr.args[1]));
            return binary_op(expr.name, left, right, *this);
        }
        case Expr::Kind::Conditional: {
            RF_ASSIGN_OR_RETURN(Value condition, eval(*expr.args[1]));
            if (condition.truthy()) return eval(*expr.args[0]);
            if (expr.args[2]) return eval(*expr.args[2]);
            return Value::undefined("the conditional expression has no else branch");
        }
    }
    return make_error("unknown expression");
}

Result<Value> Evaluator::eval_call(const Expr& expr) {
    RF_ASSIGN_OR_RETURN(Value callee, eval(*expr.args[0]));
    CallArgs args;
    RF_TRY(eval_args(expr, 1, args));
    return call(callee, args);
}

Result<Value> Evaluator::call(const Value& callee, CallArgs& args) {
    RF_TRY(require_defined(callee));
    if (!callee.is_function()) return make_error("'{}' object is not callable", callee.type_name());
    return callee.as_function()(args);
}

Result<Value> Evaluator::eval_filter_chain(const Expr& chain, const Value& subject) {
    Value input = subject;
    if (chain.args[0]) {
        RF_ASSIGN_OR_RETURN(input, eval_filter_chain(*chain.args[0], subject));
    }
    CallArgs args;
    RF_TRY(eval_args(chain, 1, args));
    auto result = apply_filter(chain.name, input, args);
    if (!result.ok()) return located(result.error(), chain.pos);
    return result;
}

}  // namespace rf::tmpl
