// The test-side check of issue 11's rule for public errors: a refusal a
// client sees carries its code, a stable UPPER_SNAKE reason and a message
// written for the client — never an internal address, a host path, a source
// reference, stack or exception text, or SQLite / OpenSSL / gRPC internals.
//
//   EXPECT_EQ(PublicErrorProblem(status), "");        // "" = a clean public error
//   EXPECT_EQ(PublicReason(sdk_result), "TASK_NOT_FOUND");  // reason, checked clean
//   EXPECT_EQ(InternalDetailText(cli.err), "");       // text only (CLI output)
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::testing {

// A stable reason as the services write them: non-empty, at most 64
// characters of A-Z, 0-9 and '_', starting with a letter.
bool IsStableReason(std::string_view reason);

// Each internal detail found in `text`, as "<kind>: '<excerpt>'"; empty when
// there is none. `internal` adds literal strings no public text may hold
// (e.g. the cluster's home directory).
std::vector<std::string> InternalDetailsIn(std::string_view text,
                                           const std::vector<std::string>& internal = {});
// The same findings joined with "; " ("" when clean), for EXPECT_EQ(…, "").
std::string InternalDetailText(std::string_view text,
                               const std::vector<std::string>& internal = {});

// "" when the error is fit for a public client: OK, or a non-OK code with a
// stable reason and a non-empty message free of internal detail. Otherwise
// what is wrong, followed by the code, reason and message.
std::string PublicErrorProblem(int code, std::string_view message, std::string_view reason,
                               const std::vector<std::string>& internal = {});
std::string PublicErrorProblem(const grpc::Status& s, const std::vector<std::string>& internal = {});
std::string PublicErrorProblem(const Error& e, const std::vector<std::string>& internal = {});
std::string PublicErrorProblem(const Status& s, const std::vector<std::string>& internal = {});

// `s` with every occurrence of `client_text` in its message replaced by
// "<client>": for an SDK error that names the caller's own local path (a
// download's output file), which is not the server's text.
Status WithoutClientText(const Status& s, std::string_view client_text);

// The reason of a refusal that passes PublicErrorProblem; otherwise
// "<not a public error: …>" (or "<ok>"), so that
// EXPECT_EQ(PublicReason(x), "REASON") checks the reason and the text at once.
std::string PublicReason(const grpc::Status& s);
std::string PublicReason(const Error& e);
std::string PublicReason(const Status& s);
template <typename T>
std::string PublicReason(const Result<T>& r) {
  return r.ok() ? std::string("<ok>") : PublicReason(r.error());
}

}  // namespace cloister::testing
