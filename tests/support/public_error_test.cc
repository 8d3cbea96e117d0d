// The public-error checker itself, in both directions: the leaks the
// cluster's internals really produce are each caught (with their kind), and
// the messages services write for clients pass.
#include "tests/support/public_error.h"

#include <gtest/gtest.h>

namespace cloister::testing {
namespace {

// Texts as they come out of gRPC, SQLite, OpenSSL, the C++ runtime and the
// file system, each with the kind of finding it must raise.
TEST(PublicErrorTest, EachKindOfInternalDetailIsFound) {
  const std::vector<std::pair<std::string, std::string>> leaks = {
      {"failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:45123: "
       "Failed to connect to remote host: Connection refused",
       "an IPv4 address"},
      {"connect to 10.0.3.7:8443 timed out", "an IPv4 address"},
      {"peer [::1]:50051 went away", "an IPv6 address"},
      {"ipv6:%5B::1%5D:4431 closed", "a gRPC peer or target URI"},
      {"cannot reach unix:/run/cloister/platform.sock", "a gRPC peer or target URI"},
      {"backend at localhost:7001 is down", "a local host name"},
      {"open /tmp/cloister-x9/data/storage/blobs/ab/abcd: No such file or directory",
       "a host path"},
      {"cannot write '/work/main/build/x'", "a host path"},
      {"mkdir /var: permission denied", "a host path"},
      {"could not load file:///etc/cloister/trust.toml", "a file URI"},
      {"blob data/storage/ab is missing", "a data-directory path"},
      {"auth.db is read-only", "a database or socket file"},
      {"check failed at exec_core.cc:212", "a source-file reference"},
      {"services/common/grant_verifier.h:88: bad state", "a source-file reference"},
      {"std::bad_alloc", "exception text"},
      {"what():  basic_string::_M_create", "exception text"},
      {"stoi", "exception text"},
      {"terminate called after throwing an instance of 'std::runtime_error'", "exception text"},
      {"boom\nstack traceback:\n\t[C]: in ?", "stack detail"},
      {"Segmentation fault (core dumped)", "stack detail"},
      {"object at 0x7ffd5e8a1c20 freed", "a memory address"},
      {"step: UNIQUE constraint failed: users.username", "SQLite internals"},
      {"SQLITE_BUSY: database is locked", "SQLite internals"},
      {"prepare: no such table: api_keys", "SQLite internals"},
      {"sqlite3_open_v2 failed", "SQLite internals"},
      {"prepare: near \"SELEC\": syntax error", "SQLite internals"},
      {"error:0A000086:SSL routines::certificate verify failed", "OpenSSL internals"},
      {"OPENSSL_init_ssl failed", "OpenSSL internals"},
      {"EVP_DigestSignInit failed", "OpenSSL internals"},
      {"Socket closed", "gRPC internals"},
      {"DNS resolution failed for storage:7003", "gRPC internals"},
      {"grpc_call_start_batch returned 8", "gRPC internals"},
      {"Received message larger than max (83886097 vs. 67108864)", "gRPC internals"},
      {"Stream removed", "gRPC internals"},
  };
  for (const auto& [text, kind] : leaks) {
    const std::string found = InternalDetailText(text);
    EXPECT_NE(found.find(kind), std::string::npos) << "'" << text << "' → '" << found << "'";
  }
}

// What Cloister's services and gateway write for clients passes.
TEST(PublicErrorTest, MessagesWrittenForClientsAreClean) {
  for (const std::string text : {
           "no public method /cloister.api.Exec/Call",
           "request to /cloister.filestore.Storage/UploadChunks is not a valid protobuf message "
           "of its type",
           "the storage service is unavailable; retry later (request 3f2a9c1b7d)",
           "internal error in the exec service (request 3f2a9c1b7d)",
           "file_id '../../etc/passwd' is not 32 hexadecimal characters",
           "[string \"scaled_sum\"]:3: attempt to perform arithmetic on a nil value (field 'x')",
           "scaled_sum.lua:3: attempt to index a nil value",
           "INVALID_ARGUMENT [LUA_SYNTAX_ERROR]: line 1: syntax error near 'is'",
           "argument 'min_common' wants an integer",
           "quota of 10 files reached; delete one first",
           "a message of UploadChunks is 9437187 bytes; the limit is 8 MiB",
           "task not found",
           "the approved digest is stale: the task changed at version 4",
           "input/output slot 'total' is not yours",
           "version 1.2.3 of the function is disabled",
       }) {
    EXPECT_EQ(InternalDetailText(text), "") << text;
  }
}

TEST(PublicErrorTest, ExtraInternalStringsAreFound) {
  EXPECT_EQ(InternalDetailText("lost cluster-7f secret", {"cluster-7f"}).find("an internal string"),
            0u);
  EXPECT_EQ(InternalDetailText("all good", {"cluster-7f", ""}), "");
}

TEST(PublicErrorTest, ReasonMustBeAnUpperSnakeToken) {
  EXPECT_TRUE(IsStableReason("TASK_NOT_FOUND"));
  EXPECT_TRUE(IsStableReason("QUOTE_V2"));
  EXPECT_FALSE(IsStableReason(""));
  EXPECT_FALSE(IsStableReason("task_not_found"));
  EXPECT_FALSE(IsStableReason("TASK-NOT-FOUND"));
  EXPECT_FALSE(IsStableReason("_LEADING"));
  EXPECT_FALSE(IsStableReason("1ST"));
  EXPECT_FALSE(IsStableReason(std::string(65, 'A')));
  EXPECT_FALSE(IsStableReason("{\"grpc_status\":14}"));
}

TEST(PublicErrorTest, ProblemCoversCodeReasonAndMessage) {
  // OK is always fine.
  EXPECT_EQ(PublicErrorProblem(grpc::Status::OK), "");
  EXPECT_EQ(PublicErrorProblem(OkStatus()), "");
  // A clean refusal.
  EXPECT_EQ(PublicErrorProblem(grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found",
                                            "TASK_NOT_FOUND")),
            "");
  EXPECT_EQ(PublicErrorProblem(NotFound("task not found", "TASK_NOT_FOUND")), "");
  // No reason (what gRPC's own failures look like).
  std::string p = PublicErrorProblem(grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed"));
  EXPECT_NE(p.find("reason"), std::string::npos) << p;
  EXPECT_NE(p.find("gRPC internals"), std::string::npos) << p;
  // A reason but an address in the text.
  p = PublicErrorProblem(Unavailable("backend ipv4:127.0.0.1:7003 down", "BACKEND_UNAVAILABLE"));
  EXPECT_NE(p.find("IPv4"), std::string::npos) << p;
  EXPECT_EQ(p.find("not an UPPER_SNAKE"), std::string::npos) << p;
  // An empty message.
  p = PublicErrorProblem(static_cast<int>(grpc::StatusCode::INTERNAL), "", "BACKEND_INTERNAL");
  EXPECT_NE(p.find("empty"), std::string::npos) << p;
  // The cluster's home as an internal string.
  p = PublicErrorProblem(Internal("lost home-x1", "X"), {"home-x1"});
  EXPECT_NE(p.find("internal string"), std::string::npos) << p;
}

TEST(PublicErrorTest, TheClientsOwnTextCanBeSetAside) {
  const Status st = DataLoss("download f1 to /tmp/x/out: corrupt", "BLOB_CORRUPT");
  EXPECT_NE(PublicErrorProblem(st), "");
  const Status without = WithoutClientText(st, "/tmp/x/out");
  EXPECT_EQ(without.error().message(), "download f1 to <client>: corrupt");
  EXPECT_EQ(without.error().reason(), "BLOB_CORRUPT");
  EXPECT_EQ(PublicErrorProblem(without), "");
  EXPECT_TRUE(WithoutClientText(OkStatus(), "x").ok());
}

TEST(PublicErrorTest, PublicReasonChecksAsItReturns) {
  EXPECT_EQ(PublicReason(PermissionDenied("not yours", "NOT_RESOURCE_OWNER")), "NOT_RESOURCE_OWNER");
  EXPECT_EQ(PublicReason(Result<int>(NotFound("no key", "API_KEY_NOT_FOUND"))), "API_KEY_NOT_FOUND");
  EXPECT_EQ(PublicReason(Result<int>(7)), "<ok>");
  EXPECT_EQ(PublicReason(OkStatus()), "<ok>");
  const std::string leaky = PublicReason(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "step: CHECK constraint failed: x",
                   "STORAGE_CONSTRAINT"));
  EXPECT_EQ(leaky.rfind("<not a public error: ", 0), 0u) << leaky;
  EXPECT_NE(leaky.find("SQLite"), std::string::npos) << leaky;
}

}  // namespace
}  // namespace cloister::testing
