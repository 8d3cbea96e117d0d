// A task's failures as FailTask reports them: a function's or a peer's
// error as a stable reason and a message that quotes no data, sanitised as
// cloister-tasks accepts it; see task_runner.h.
#include <algorithm>
#include <string>

#include "common/logging.h"
#include "services/exec/task_failures_detail.h"
#include "services/exec/task_runner.h"

namespace cloister::exec {
namespace detail {

bool IsReason(std::string_view r) {
  if (r.empty() || r.size() > 64) return false;
  for (char c : r)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool IsTransient(Code c) {
  return c == Code::kUnavailable || c == Code::kDeadlineExceeded || c == Code::kAborted ||
         c == Code::kCancelled || c == Code::kUnknown;
}

}  // namespace detail
namespace {

using detail::Capped;
using detail::IsReason;
using detail::IsTransient;

constexpr const char* kGrantExpired = "TASK_GRANT_EXPIRED";

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

}  // namespace

std::string SanitizeFailureMessage(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxFailureMessageBytes));
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid && len == 2) valid = b >= 0xC2;  // no overlong 2-byte forms
    if (valid && len == 3) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(b == 0xE0 && b1 < 0xA0) && !(b == 0xED && b1 >= 0xA0);  // overlong, surrogates
    }
    if (valid && len == 4) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]);
      valid = b <= 0xF4 && !(b == 0xF0 && b1 < 0x90) && !(b == 0xF4 && b1 >= 0x90);
    }
    const bool control = len == 1 && ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F);
    if (!valid || control) len = 1;
    if (out.size() + len > kMaxFailureMessageBytes) break;
    if (!valid || control)
      out.push_back('?');
    else
      out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

TaskFailure FunctionFailure(const Error& e, const RunLimits& limits) {
  const std::string& r = e.reason();
  const functions::lua::LuaLimits lua = limits.lua.value_or(functions::lua::LuaLimits{});
  auto limit = [&](std::string what) {
    return TaskFailure{r, Capped("the function exceeded its " + std::move(what)), false};
  };
  if (r == "MEMORY_LIMIT_EXCEEDED")
    return limit("memory limit (" + std::to_string(lua.memory_bytes) + " bytes)");
  if (r == "INSTRUCTION_LIMIT_EXCEEDED")
    return limit("instruction limit (" + std::to_string(lua.instructions) + ")");
  if (r == "TIME_LIMIT_EXCEEDED")
    return limit("wall-time limit (" + std::to_string(lua.wall_time_ms) + " ms)");
  if (r == "CALL_DEPTH_EXCEEDED")
    return limit("call-depth limit (" + std::to_string(lua.call_depth) + ")");
  if (r == "OUTPUT_LIMIT_EXCEEDED")
    return limit("output limit (" + std::to_string(limits.runtime.max_output_bytes) +
                 " bytes in at most " + std::to_string(limits.runtime.max_outputs) +
                 " outputs)");
  // Written by the sandbox's parent (a system call's name, a signal) or
  // about the approved source: no data of the task in them.
  if (r == "SANDBOX_VIOLATION" || r == "SANDBOX_CRASHED" || r == "SANDBOX_PROTOCOL_ERROR" ||
      r == "LUA_SYNTAX_ERROR")
    return TaskFailure{r, Capped(e.message()), false};
  if (r == "SANDBOX_SETUP_FAILED")
    return TaskFailure{r, Capped(e.message()), true};
  if (r == "LUA_RUNTIME_ERROR")
    return TaskFailure{r,
                       "the function raised an error; its text is not recorded because it may "
                       "quote input data",
                       false};
  return TaskFailure{IsReason(r) ? r : reason::kFunctionError,
                     "the function failed (" + std::string(CodeName(e.code())) +
                         "); its message is not recorded because it may quote input data",
                     false};
}

TaskFailure PeerFailure(std::string_view peer, const Error& e) {
  TaskFailure f;
  f.retryable = IsTransient(e.code()) || e.reason() == kGrantExpired;
  f.reason = IsReason(e.reason()) ? e.reason()
                                  : Upper(peer) + "_" + std::string(CodeName(e.code()));
  // A peer's words are about files, keys and grants, never their bytes.
  // But a transport failure or an internal error carries gRPC's or the
  // peer's own internals (addresses, ports, paths), and the message reaches
  // the task's parties (issue 11): those go to the log only.
  const bool internal = IsTransient(e.code()) || e.code() == Code::kInternal ||
                        e.code() == Code::kDataLoss || !IsReason(e.reason());
  if (internal) {
    LOG_WARN("task peer call failed",
             {{"peer", std::string(peer)}, {"reason", f.reason}, {"detail", e.ToString()}});
    f.message = Capped(std::string(peer) + ": " +
                       (IsTransient(e.code()) ? "unavailable; the call may be retried"
                                              : "failed (" + std::string(CodeName(e.code())) + ")"));
  } else {
    f.message = Capped(std::string(peer) + ": " + e.ToString());
  }
  return f;
}

}  // namespace cloister::exec
