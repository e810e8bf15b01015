#pragma once
// Errors in OpStudio are values with context. Inside the core a failure is raised as
// `opstudio::Error`; every public entry point (load, save, session build, run) catches it
// and returns a `Result<T>` so callers never see an abort.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace opstudio {

/// Where an error happened: any field may be empty.
struct ErrorContext {
    std::string file;
    std::string node;
    std::string opType;
    std::string domain;
    int opset = 0;
};

/// A failure with a human-readable message and its context.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, ErrorContext context = {})
        : std::runtime_error(message), m_context(std::move(context)) {}
    const ErrorContext& context() const { return m_context; }
    ErrorContext& context() { return m_context; }
    /// One line: "message (node 'x', op Conv, opset 13, file 'm.onnx')".
    std::string describe() const;

private:
    ErrorContext m_context;
};

/// Either a value or an Error.
template <typename T> class Result {
public:
    Result(T value) : m_state(std::move(value)) {}
    Result(Error error) : m_state(std::move(error)) {}
    bool ok() const { return m_state.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(m_state); }
    const T& value() const& { return std::get<0>(m_state); }
    T&& value() && { return std::get<0>(std::move(m_state)); }
    T& operator*() & { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(m_state); }

private:
    std::variant<T, Error> m_state;
};

/// Result without a value.
class Status {
public:
    Status() = default;
    Status(Error error) : m_error(std::move(error)), m_ok(false) {}
    static Status success() { return {}; }
    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error& error() const { return m_error; }

private:
    Error m_error{""};
    bool m_ok = true;
};

/// Throws opstudio::Error when `cond` is false.
#define OPSTUDIO_CHECK(cond, msg)                                                                            \
    do {                                                                                                     \
        if (!(cond)) throw ::opstudio::Error(msg);                                                           \
    } while (0)

} // namespace opstudio
