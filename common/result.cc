// Error/Status helpers; see result.h.
#include "common/result.h"

#include <cerrno>
#include <cstring>

namespace cloister {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "CANCELLED";
    case Code::kUnknown: return "UNKNOWN";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kAborted: return "ABORTED";
    case Code::kOutOfRange: return "OUT_OF_RANGE";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kDataLoss: return "DATA_LOSS";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string Error::ToString() const {
  std::string out(CodeName(code_));
  if (!reason_.empty()) out += " [" + reason_ + "]";
  out += ": ";
  out += message_;
  return out;
}

Error Error::WithContext(std::string_view context) const {
  return Error(code_, std::string(context) + ": " + message_, reason_);
}

#define CLOISTER_FACTORY_(Name, code)                   \
  Error Name(std::string msg, std::string reason) {     \
    return Error(Code::code, std::move(msg), std::move(reason)); \
  }
CLOISTER_FACTORY_(InvalidArgument, kInvalidArgument)
CLOISTER_FACTORY_(NotFound, kNotFound)
CLOISTER_FACTORY_(AlreadyExists, kAlreadyExists)
CLOISTER_FACTORY_(PermissionDenied, kPermissionDenied)
CLOISTER_FACTORY_(Unauthenticated, kUnauthenticated)
CLOISTER_FACTORY_(FailedPrecondition, kFailedPrecondition)
CLOISTER_FACTORY_(ResourceExhausted, kResourceExhausted)
CLOISTER_FACTORY_(OutOfRange, kOutOfRange)
CLOISTER_FACTORY_(Internal, kInternal)
CLOISTER_FACTORY_(Unavailable, kUnavailable)
CLOISTER_FACTORY_(DataLoss, kDataLoss)
CLOISTER_FACTORY_(Unimplemented, kUnimplemented)
CLOISTER_FACTORY_(DeadlineExceeded, kDeadlineExceeded)
CLOISTER_FACTORY_(Aborted, kAborted)
#undef CLOISTER_FACTORY_

Error ErrnoError(int err, std::string_view context) {
  std::string msg = std::string(context) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return NotFound(std::move(msg));
    case EACCES:
    case EPERM: return PermissionDenied(std::move(msg));
    case EEXIST: return AlreadyExists(std::move(msg));
    case ENOSPC: return ResourceExhausted(std::move(msg));
    default: return Internal(std::move(msg));
  }
}

}  // namespace cloister
