// Helpers the task runner's files share (task_runner.cc: the run;
// task_failures.cc: failures and their messages). Not for use outside services/exec.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "services/exec/task_runner.h"

namespace cloister::exec::detail {

// A stable reason as cloister-tasks accepts it: [A-Z0-9_]{1,64}.
bool IsReason(std::string_view r);

// Codes after which the same call may succeed: Unavailable,
// DeadlineExceeded, Aborted, Cancelled, Unknown.
bool IsTransient(Code c);

// What cloister-tasks accepts as a failure message (its CheckText): UTF-8
// without control characters but \n and \t, at most
// kMaxFailureMessageBytes. A function's error text is arbitrary bytes; were
// it passed as is, FailTask would be refused and the task would loop on
// lease expiry until ATTEMPTS_EXHAUSTED, losing the real reason. Invalid
// sequences and control bytes become '?'; the cut falls between characters.
inline std::string Capped(std::string_view s) { return SanitizeFailureMessage(s); }

}  // namespace cloister::exec::detail
