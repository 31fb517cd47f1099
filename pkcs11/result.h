#pragma once

// Errors as values: a small Result<T> shaped like C++23's std::expected (g++ 12 lacks it).
// An Error carries a human-readable message that names what was being done and, when it came
// from a PKCS#11 call, the CK_RV, e.g.
//   "C_Sign(pkcs11:token=alice;object=sign): CKR_KEY_FUNCTION_NOT_PERMITTED".

#include <p11-kit/pkcs11.h>

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace attache {

class Error {
  public:
    Error() = default;
    explicit Error(std::string message) : message_(std::move(message)) {}
    Error(std::string message, CK_RV rv) : message_(std::move(message)), rv_(rv) {}

    // "CALL(OBJECT): CKR_NAME", or "CALL: CKR_NAME" when object is empty.
    static Error pkcs11(CK_RV rv, std::string_view call, std::string_view object = {});

    const std::string& message() const { return message_; }
    // The PKCS#11 return value this error came from, if any.
    std::optional<CK_RV> rv() const { return rv_; }
    bool is(CK_RV rv) const { return rv_ && *rv_ == rv; }

    // A domain-specific code set by the layer that made the error (the agent uses its
    // protocol's error codes); nullopt when none was set.
    std::optional<int> code() const { return code_; }
    Error&& with_code(int code) && {
        code_ = code;
        return std::move(*this);
    }

    // Prepends what the caller was doing: "what: message". Keeps the CK_RV.
    Error context(std::string_view what) const&;
    Error context(std::string_view what) &&;

  private:
    std::string message_;
    std::optional<CK_RV> rv_;
    std::optional<int> code_;
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& {
        assert(!has_value());
        return std::get<1>(v_);
    }
    Error&& error() && {
        assert(!has_value());
        return std::get<1>(std::move(v_));
    }

    template <typename U>
    T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}

    bool has_value() const { return !error_.has_value(); }
    explicit operator bool() const { return has_value(); }
    const Error& error() const& {
        assert(error_);
        return *error_;
    }
    Error&& error() && {
        assert(error_);
        return std::move(*error_);
    }
    // Prepends what the caller was doing to an error; success stays success.
    Result<void> context(std::string_view what) && {
        if (error_)
            return std::move(*error_).context(what);
        return {};
    }

  private:
    std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok() {
    return {};
}

}  // namespace attache

// Evaluates a Result-returning expression; on error returns the error from the enclosing
// function. Usage: ATTACHE_TRY(auto session, module.open_session(slot));
#define ATTACHE_CONCAT_INNER(a, b) a##b
#define ATTACHE_CONCAT(a, b) ATTACHE_CONCAT_INNER(a, b)
#define ATTACHE_TRY(decl, expr) ATTACHE_TRY_IMPL(ATTACHE_CONCAT(attache_try_, __LINE__), decl, expr)
#define ATTACHE_TRY_IMPL(tmp, decl, expr) \
    auto tmp = (expr);                    \
    if (!tmp)                             \
        return std::move(tmp).error();    \
    decl = std::move(tmp).value()
#define ATTACHE_CHECK(expr)                           \
    do {                                              \
        auto attache_check_ = (expr);                 \
        if (!attache_check_)                          \
            return std::move(attache_check_).error(); \
    } while (0)
