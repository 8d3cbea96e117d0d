// The one error type of Cloister: Error, Status and Result<T>.
//
// Codes mirror google.rpc.Code 1:1 so a Status crosses gRPC unchanged (see
// common/grpc_status.h for the only mapping). An Error also carries a stable
// machine-readable `reason` (e.g. "QUOTE_SIGNATURE_INVALID") that tests and
// clients match on, and a human message that must never contain a secret.
//
//   Result<int> Parse(std::string_view s);
//   CLOISTER_ASSIGN_OR_RETURN(int n, Parse(text));
//   if (!status.ok()) log(status.error().ToString());
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cloister {

// Numeric values equal grpc::StatusCode / google.rpc.Code.
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view CodeName(Code code);

class [[nodiscard]] Error {
 public:
  Error(Code code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Stable identifier of the failure; empty when only the code matters.
  const std::string& reason() const { return reason_; }

  // "PERMISSION_DENIED [QUOTE_STALE]: quote is 400 s old (limit 300 s)"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Error WithContext(std::string_view context) const;

 private:
  Code code_;
  std::string message_;
  std::string reason_;
};

// Factories, one per code that callers use.
Error InvalidArgument(std::string msg, std::string reason = {});
Error NotFound(std::string msg, std::string reason = {});
Error AlreadyExists(std::string msg, std::string reason = {});
Error PermissionDenied(std::string msg, std::string reason = {});
Error Unauthenticated(std::string msg, std::string reason = {});
Error FailedPrecondition(std::string msg, std::string reason = {});
Error ResourceExhausted(std::string msg, std::string reason = {});
Error OutOfRange(std::string msg, std::string reason = {});
Error Internal(std::string msg, std::string reason = {});
Error Unavailable(std::string msg, std::string reason = {});
Error DataLoss(std::string msg, std::string reason = {});
Error Unimplemented(std::string msg, std::string reason = {});
Error DeadlineExceeded(std::string msg, std::string reason = {});
Error Aborted(std::string msg, std::string reason = {});
// errno → NotFound / PermissionDenied / AlreadyExists / Internal, with
// "context: strerror".
Error ErrnoError(int err, std::string_view context);

// Status: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  Code code() const { return ok() ? Code::kOk : error_->code(); }
  // Precondition: !ok().
  const Error& error() const { return *error_; }
  std::string ToString() const { return ok() ? "OK" : error_->ToString(); }
  // Makes dropping a Status visible in code review.
  void IgnoreError() const {}

 private:
  std::optional<Error> error_;
};

inline Status OkStatus() { return Status(); }

// Result<T>: a T or an Error. Use value()/*/-> only after ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  // Precondition: !s.ok().
  Result(Status s) : v_(s.error()) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  Code code() const { return ok() ? Code::kOk : error().code(); }
  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return ok() ? Status() : Status(error()); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

namespace internal {
inline Status AsStatus(const Status& s) { return s; }
template <typename T>
Status AsStatus(const Result<T>& r) { return r.status(); }
}  // namespace internal

}  // namespace cloister

#define CLOISTER_CONCAT_INNER_(a, b) a##b
#define CLOISTER_CONCAT_(a, b) CLOISTER_CONCAT_INNER_(a, b)

// Returns the error of a Status or Result expression from the current function.
#define CLOISTER_RETURN_IF_ERROR(expr)                                     \
  do {                                                                     \
    auto cloister_status_ = ::cloister::internal::AsStatus((expr));        \
    if (!cloister_status_.ok()) return cloister_status_.error();           \
  } while (0)

// CLOISTER_ASSIGN_OR_RETURN(auto x, MakeX());
#define CLOISTER_ASSIGN_OR_RETURN(lhs, expr) \
  CLOISTER_ASSIGN_OR_RETURN_IMPL_(CLOISTER_CONCAT_(cloister_result_, __LINE__), lhs, expr)
#define CLOISTER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.error();                    \
  lhs = std::move(tmp).value()
