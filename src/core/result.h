// Errors as values: every fallible function returns Result<T>, which holds either a T or an Error
// whose message carries its context (file, byte offset, tensor name...).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace rf {

struct Error {
    std::string message;
    // The same call may succeed if made again (a device's momentary shortage, an injected fault);
    // the engine retries a step that failed so, a bounded number of times.
    bool transient = false;
    // The device behind the call is unusable from now on (a lost GPU, a context that an illegal
    // address corrupted): every later call fails as well. A server moves the model elsewhere.
    bool device_lost = false;
};

template <typename... Args>
Error make_error(fmt::format_string<Args...> format, Args&&... args) {
    return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}
    Result(Error error) : state_(std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    template <typename U>
    T value_or(U&& fallback) const& { return ok() ? value() : T(std::forward<U>(fallback)); }

    const Error& error() const { return std::get<1>(state_); }

private:
    std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace rf

// Propagates an Error from a Result-returning expression; evaluates to nothing.
#define RF_TRY(expr)                                  \
    do {                                              \
        auto rf_try_result_ = (expr);                 \
        if (!rf_try_result_.ok()) return rf_try_result_.error(); \
    } while (0)

// Binds the value of a Result-returning expression to `decl` or propagates its Error.
#define RF_CONCAT_INNER(a, b) a##b
#define RF_CONCAT(a, b) RF_CONCAT_INNER(a, b)
#define RF_ASSIGN_OR_RETURN(decl, expr) RF_ASSIGN_OR_RETURN_IMPL(RF_CONCAT(rf_result_, __LINE__), decl, expr)
#define RF_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return tmp.error();            \
    decl = std::move(tmp).value()
