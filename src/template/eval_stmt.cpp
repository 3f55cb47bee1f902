// Statement execution: output, conditionals, loops (with the `loop` object), assignments, macros and
// the blocks that capture their body's output (set/filter/call).
#include "template/evaluator.h"

namespace rf::tmpl {

namespace {

// Opens a frame for a loop iteration or macro call, and restores the previous one however it ends.
class FrameScope {
public:
    FrameScope(std::shared_ptr<Frame>& slot, std::shared_ptr<Frame> parent)
        : slot_(slot), saved_(slot) {
        slot_ = std::make_shared<Frame>(Frame{{}, std::move(parent)});
    }
    ~FrameScope() { slot_ = saved_; }
    FrameScope(const FrameScope&) = delete;
    FrameScope& operator=(const FrameScope&) = delete;

private:
    std::shared_ptr<Frame>& slot_;
    std::shared_ptr<Frame> saved_;
};

}  // namespace

Result<std::string> Evaluator::render(const Body& body) {
    stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    return capture(body);
}

Status Evaluator::emit(const std::string& text) {
    if (out_->size() + text.size() > options_.limits.max_output_bytes)
        return make_error("output too large (the limit is {} bytes)", options_.limits.max_output_bytes);
    total_bytes_ += text.size();
    if (total_bytes_ > options_.limits.max_total_bytes)
        return make_error("the template built more than {} bytes of text", options_.limits.max_total_bytes);
    *out_ += text;
    return ok_status();
}

Result<std::string> Evaluator::capture(const Body& body) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    auto flow = exec(body);
    out_ = saved;
    if (!flow.ok()) return flow.error();
    return buffer;
}

Result<Evaluator::Flow> Evaluator::exec(const Body& body) {
    for (const StmtPtr& stmt : body) {
        RF_ASSIGN_OR_RETURN(Flow flow, exec_stmt(*stmt));
        if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
}

Result<Evaluator::Flow> Evaluator::exec_stmt(const Stmt& stmt) {
    if (auto status = check_stack(); !status.ok()) return located(status.error(), stmt.pos);
    switch (stmt.kind) {
        case Stmt::Kind::Text: RF_TRY(emit(stmt.text)); break;
        case Stmt::Kind::Output: {
            RF_ASSIGN_OR_RETURN(Value value, eval(*stmt.expr));
            RF_TRY(emit(value.to_string()));
            break;
        }
        case Stmt::Kind::If: {
            RF_ASSIGN_OR_RETURN(Value condition, eval(*stmt.expr));
            return exec(condition.truthy() ? stmt.body : stmt.else_body);
        }
        case Stmt::Kind::For: return exec_for(stmt);
        case Stmt::Kind::Set: {
            auto status = exec_set(stmt);
            if (!status.ok()) return located(status.error(), stmt.pos);
            break;
        }
        case Stmt::Kind::SetBlock: {
            RF_ASSIGN_OR_RETURN(std::string text, capture(stmt.body));
            Value value(std::move(text));
            if (stmt.condition) {
                RF_ASSIGN_OR_RETURN(value, eval_filter_chain(*stmt.condition, value));
            }
            assign(stmt.targets[0], std::move(value));
            break;
        }
        case Stmt::Kind::Macro: assign(stmt.text, make_macro(stmt, frame_, stmt.text)); break;
        case Stmt::Kind::CallBlock: {
            const Expr& call_expr = *stmt.expr;
            RF_ASSIGN_OR_RETURN(Value callee, eval(*call_expr.args[0]));
            CallArgs args;
            RF_TRY(eval_args(call_expr, 1, args));
            args.keyword.emplace_back("caller", make_macro(stmt, frame_, "caller"));
            auto result = call(callee, args);
            if (!result.ok()) return located(result.error(), stmt.pos);
            RF_TRY(emit(result->to_string()));
            break;
        }
        case Stmt::Kind::FilterBlock: {
            RF_ASSIGN_OR_RETURN(std::string text, capture(stmt.body));
            RF_ASSIGN_OR_RETURN(Value value, eval_filter_chain(*stmt.expr, Value(std::move(text))));
            RF_TRY(emit(value.to_string()));
            break;
        }
        case Stmt::Kind::Break: return Flow::Break;
        case Stmt::Kind::Continue: return Flow::Continue;
        case Stmt::Kind::Scope: return exec(stmt.body);
    }
    return Flow::Normal;
}

// The `loop` variable of iteration i.
static Value loop_object(const Array& items, int64_t i) {
    const int64_t n = static_cast<int64_t>(items.size());
    Object loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::function(
                          [i](CallArgs& args) -> Result<Value> {
                              if (args.positional.empty()) return make_error("no items for cycling given");
                              return args.positional[static_cast<size_t>(i) % args.positional.size()];
                          },
                          "loop.cycle"));
    return Value(std::move(loop));
}

static Status bind_targets(Frame& frame, const std::vector<std::string>& targets, const Value& value) {
    if (targets.size() == 1) {
        frame.vars[targets[0]] = value;
        return ok_status();
    }
    RF_ASSIGN_OR_RETURN(Array items, iterate(value));
    if (items.size() != targets.size())
        return make_error("cannot unpack {} values into {} names", items.size(), targets.size());
    for (size_t i = 0; i < targets.size(); ++i) frame.vars[targets[i]] = items[i];
    return ok_status();
}

Result<Evaluator::Flow> Evaluator::exec_for(const Stmt& stmt) {
    RF_ASSIGN_OR_RETURN(Value iterable, eval(*stmt.expr));
    auto listed = iterate(iterable);
    if (!listed.ok()) return located(listed.error(), stmt.expr->pos);
    Array items = std::move(listed).value();

    if (stmt.condition) {  // `for x in y if cond`: filtered before loop.index/length are known
        FrameScope scope(frame_, frame_);
        Array kept;
        for (const Value& item : items) {
            if (auto s = count_iterations(1); !s.ok()) return located(s.error(), stmt.pos);
            if (auto s = bind_targets(*frame_, stmt.targets, item); !s.ok()) return located(s.error(), stmt.pos);
            RF_ASSIGN_OR_RETURN(Value keep, eval(*stmt.condition));
            if (keep.truthy()) kept.push_back(item);
        }
        items = std::move(kept);
    }
    if (items.empty()) return exec(stmt.else_body);

    const int64_t count = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < count; ++i) {
        if (auto s = count_iterations(1); !s.ok()) return located(s.error(), stmt.pos);
        // Each iteration gets a fresh frame: what one iteration sets is gone in the next.
        FrameScope iteration(frame_, frame_);
        auto bound = bind_targets(*frame_, stmt.targets, items[static_cast<size_t>(i)]);
        if (!bound.ok()) return located(bound.error(), stmt.pos);
        if (stmt.uses_loop) frame_->vars["loop"] = loop_object(items, i);
        RF_ASSIGN_OR_RETURN(Flow flow, exec(stmt.body));
        if (flow == Flow::Break) break;
    }
    return Flow::Normal;
}

Status Evaluator::exec_set(const Stmt& stmt) {
    RF_ASSIGN_OR_RETURN(Value value, eval(*stmt.expr));
    if (stmt.attr.empty()) return bind_targets(*frame_, stmt.targets, value);
    Value target = lookup(stmt.targets[0]);
    RF_TRY(require_defined(target));
    if (!target.is_object() || !target.as_object().is_namespace)
        return make_error("cannot assign attribute on non-namespace object");
    if (would_contain(value, target.identity())) return make_error("a namespace cannot contain itself");
    target.as_object().set(stmt.attr, std::move(value));
    return ok_status();
}

Value Evaluator::make_macro(const Stmt& stmt, std::shared_ptr<Frame> scope, const std::string& name) {
    const Stmt* node = &stmt;
    if (closure_frames_.empty() || closure_frames_.back() != scope) closure_frames_.push_back(scope);
    return Value::function(
        [this, node, scope](CallArgs& args) { return call_macro(*node, scope, args); }, name);
}

Result<Value> Evaluator::call_macro(const Stmt& stmt, std::shared_ptr<Frame> scope, CallArgs& args) {
    if (call_depth_ >= options_.limits.max_call_depth)
        return make_error("macro calls nested too deeply (the limit is {})", options_.limits.max_call_depth);
    FrameScope frame(frame_, std::move(scope));
    ++call_depth_;
    auto run = [&]() -> Result<Value> {
        const auto& params = stmt.params;
        Array extra_positional;
        for (size_t i = 0; i < args.positional.size(); ++i) {
            if (i < params.size()) frame_->vars[params[i].name] = args.positional[i];
            else extra_positional.push_back(args.positional[i]);
        }
        Object extra_keyword;
        for (auto& [key, value] : args.keyword) {
            bool is_param = false;
            for (const MacroParam& p : params) is_param = is_param || p.name == key;
            if (is_param || key == "caller") frame_->vars[key] = value;
            else extra_keyword.set(key, value);
        }
        for (const MacroParam& p : params) {
            if (frame_->vars.count(p.name)) continue;
            if (p.default_value) {
                RF_ASSIGN_OR_RETURN(Value v, eval(*p.default_value));
                frame_->vars[p.name] = std::move(v);
            } else {
                frame_->vars[p.name] = Value::undefined("'" + p.name + "' is undefined (missing macro argument)");
            }
        }
        frame_->vars["varargs"] = Value::tuple(std::move(extra_positional));
        frame_->vars["kwargs"] = Value(std::move(extra_keyword));
        RF_ASSIGN_OR_RETURN(std::string text, capture(stmt.body));
        return Value(std::move(text));
    };
    auto result = run();
    --call_depth_;
    return result;
}

}  // namespace rf::tmpl
