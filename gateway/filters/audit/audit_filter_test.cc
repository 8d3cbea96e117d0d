// AuditFilter alone: allow and deny are both recorded, and a log that
// cannot be written refuses the request (fail closed).
#include "gateway/filters/audit/audit_filter.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/fs.h"

namespace cloister::gateway {
namespace {

TEST(AuditFilterTest, RecordsAllowAndDenyAndFailsClosed) {
  char tmpl[] = "/tmp/cloister-auditf-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/gw.log";
  {
    auto log = services::AuditLog::Open(path, "gateway", SecretBytes::Random(32));
    ASSERT_TRUE(log.ok());
    AuditFilter f(log->get());
    RequestContext c;
    c.method = "Call";
    c.principal = services::MakeCallerForTesting({.user_id = "u-1"});
    EXPECT_TRUE(f.OnRequest(c).ok());
    Error why = PermissionDenied("no", "ROLE_NOT_PERMITTED");
    EXPECT_TRUE(f.Record(c, &why).ok());
    auto rep = services::VerifyAuditLog(path);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok);
    EXPECT_EQ(rep->entries, 2u);
    std::string content = *ReadFile(path);
    EXPECT_NE(content.find("\"decision\":\"deny\""), std::string::npos);
    EXPECT_NE(content.find("ROLE_NOT_PERMITTED"), std::string::npos);
  }
  {
    // A log that cannot grow (file size limit reached): every append fails.
    auto log = services::AuditLog::Open(path, "gateway", SecretBytes::Random(32));
    ASSERT_TRUE(log.ok());
    struct rlimit old {};
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    struct stat st {};
    stat(path.c_str(), &st);
    struct rlimit lim = old;
    lim.rlim_cur = static_cast<rlim_t>(st.st_size);
    setrlimit(RLIMIT_FSIZE, &lim);
    AuditFilter f(log->get());
    RequestContext c;
    c.method = "Call";
    auto result = f.OnRequest(c);
    setrlimit(RLIMIT_FSIZE, &old);
    EXPECT_EQ(result.code(), Code::kUnavailable);
    EXPECT_EQ(result.error().reason(), "AUDIT_UNAVAILABLE");
    EXPECT_TRUE(services::VerifyAuditLog(path)->ok);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cloister::gateway
