// AuthorizeFilter alone: policy from a TOML literal, a fake request context.
#include "gateway/filters/authorize/authorize_filter.h"

#include <gtest/gtest.h>

#include "gateway/gateway.h"

namespace cloister::gateway {
namespace {

Policy TestPolicy() {
  auto p = Policy::Parse(R"(
[methods]
Login = ["anonymous"]
Call = ["user", "admin"]
CreateUser = ["admin"]
ChangePassword = ["user", "admin"]
[predicates]
ChangePassword = "self_or_admin"
)", "test.toml", PublicMethods());
  EXPECT_TRUE(p.ok()) << p.error().ToString();
  return *p;
}

RequestContext As(std::string method, std::vector<api::Role> roles, std::string user = "alice") {
  RequestContext c;
  c.method = std::move(method);
  if (!roles.empty()) {
    c.principal = services::MakeCallerForTesting(
        {.user_id = "u-" + user, .username = user, .roles = std::move(roles)});
  }
  return c;
}

TEST(AuthorizeFilterTest, AllowsByRole) {
  AuthorizeFilter f(TestPolicy());
  auto c1 = As("Login", {});
  EXPECT_TRUE(f.OnRequest(c1).ok());
  auto c2 = As("Call", {api::ROLE_USER});
  EXPECT_TRUE(f.OnRequest(c2).ok());
  auto c3 = As("CreateUser", {api::ROLE_ADMIN});
  EXPECT_TRUE(f.OnRequest(c3).ok());
  EXPECT_EQ(f.denied(), 0u);
}

TEST(AuthorizeFilterTest, UserCallingAdminMethodDenied) {
  AuthorizeFilter f(TestPolicy());
  auto c = As("CreateUser", {api::ROLE_USER});
  auto st = f.OnRequest(c);
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(st.error().reason(), "ROLE_NOT_PERMITTED");
  EXPECT_EQ(f.denied(), 1u);
}

TEST(AuthorizeFilterTest, AnonymousNeedsLoginAndUnlistedMethodDenied) {
  AuthorizeFilter f(TestPolicy());
  auto c = As("Call", {});
  EXPECT_EQ(f.OnRequest(c).error().reason(), "LOGIN_REQUIRED");
  auto d = As("ListUsers", {api::ROLE_ADMIN});  // not in the policy: default deny
  EXPECT_EQ(f.OnRequest(d).error().reason(), "ROLE_NOT_PERMITTED");
}

TEST(AuthorizeFilterTest, SelfOrAdminPredicate) {
  AuthorizeFilter f(TestPolicy());
  api::ChangePasswordRequest other;
  other.set_username("bob");
  auto c = As("ChangePassword", {api::ROLE_USER});
  c.body = &other;
  EXPECT_EQ(f.OnRequest(c).error().reason(), "NOT_RESOURCE_OWNER");
  api::ChangePasswordRequest self;
  self.set_username("alice");
  auto s = As("ChangePassword", {api::ROLE_USER});
  s.body = &self;
  EXPECT_TRUE(f.OnRequest(s).ok());
  auto a = As("ChangePassword", {api::ROLE_ADMIN}, "root");
  a.body = &other;
  EXPECT_TRUE(f.OnRequest(a).ok());
}

// ListApiKeys shares the predicate: the request's `username` field names
// the account, read generically from the message.
TEST(AuthorizeFilterTest, SelfOrAdminReadsAnyUsernameField) {
  AuthorizeFilter f(Policy::Default());
  api::ListApiKeysRequest other;
  other.set_username("bob");
  auto c = As("ListApiKeys", {api::ROLE_USER});
  c.body = &other;
  EXPECT_EQ(f.OnRequest(c).error().reason(), "NOT_RESOURCE_OWNER");
  api::ListApiKeysRequest mine;
  auto s = As("ListApiKeys", {api::ROLE_USER});
  s.body = &mine;
  ASSERT_TRUE(f.OnRequest(s).ok());
  EXPECT_EQ(s.resources, std::vector<std::string>{"user:alice"});
  auto a = As("ListApiKeys", {api::ROLE_USER, api::ROLE_ADMIN}, "root");
  a.body = &other;
  EXPECT_TRUE(f.OnRequest(a).ok());
}

RequestContext AsKey(std::string method, api::ApiKeyScope scope) {
  RequestContext c;
  c.method = std::move(method);
  c.principal = services::MakeCallerForTesting({.user_id = "u-bot",
                                                .username = "bot",
                                                .token_id = "apikey:ak0123456789abcdef",
                                                .scope = std::move(scope)});
  return c;
}

TEST(AuthorizeFilterTest, ApiKeyScopeNarrowsTheRoles) {
  AuthorizeFilter f(Policy::Default());
  api::ApiKeyScope ro;
  ro.set_read_only(true);
  auto list = AsKey("ListFunctions", ro);
  EXPECT_TRUE(f.OnRequest(list).ok());
  auto call = AsKey("Call", ro);
  auto st = f.OnRequest(call);
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(st.error().reason(), "API_KEY_SCOPE");
  api::ApiKeyScope only_call;
  only_call.add_methods("Call");
  auto call2 = AsKey("Call", only_call);
  EXPECT_TRUE(f.OnRequest(call2).ok());
  auto who = AsKey("WhoAmI", only_call);
  EXPECT_EQ(f.OnRequest(who).error().reason(), "API_KEY_SCOPE");
  // A scope never adds a role: a user's key naming an admin method is refused by role.
  api::ApiKeyScope admin_method;
  admin_method.add_methods("CreateUser");
  auto create = AsKey("CreateUser", admin_method);
  EXPECT_EQ(f.OnRequest(create).error().reason(), "ROLE_NOT_PERMITTED");
  // Unscoped keys and tokens are unaffected.
  auto plain = AsKey("Call", {});
  EXPECT_TRUE(f.OnRequest(plain).ok());
}

TEST(PolicyTest, TyposStopLoading) {
  auto bad_method = Policy::Parse("[methods]\nLogn = [\"anonymous\"]\n", "p.toml", PublicMethods());
  ASSERT_FALSE(bad_method.ok());
  EXPECT_NE(bad_method.error().message().find("methods.Logn"), std::string::npos);
  auto bad_role = Policy::Parse("[methods]\nCall = [\"usr\"]\n", "p.toml", PublicMethods());
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.error().message().find("usr"), std::string::npos);
  auto bad_key = Policy::Parse("[rate_limt]\nx = 1\n", "p.toml", PublicMethods());
  EXPECT_FALSE(bad_key.ok());
  auto bad_pred = Policy::Parse("[methods]\nCall=[\"user\"]\n[predicates]\nCall = \"owner\"\n",
                                "p.toml", PublicMethods());
  EXPECT_FALSE(bad_pred.ok());
}

TEST(PolicyTest, BuiltInDefaultPolicyCoversEveryMethodAndRoundTrips) {
  Policy d = Policy::Default();
  for (const auto& m : PublicMethods()) EXPECT_TRUE(d.allowed.count(m)) << m;
  // What `cluster init` writes reads back to exactly the built-in policy.
  auto p = Policy::Parse(Policy::ToToml(d), "policy.toml", PublicMethods());
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_TRUE(*p == d);
  // The declared rules survive: anonymous login, admin-only user creation,
  // the self-or-admin predicate on password changes.
  EXPECT_EQ(d.allowed.at("Login"), std::set<std::string>{"anonymous"});
  EXPECT_EQ(d.allowed.at("CreateUser"), std::set<std::string>{"admin"});
  EXPECT_EQ(d.allowed.at("Call"), (std::set<std::string>{"admin", "user"}));
  EXPECT_EQ(d.predicates.at("ChangePassword"), Predicate::kSelfOrAdmin);
}

TEST(PolicyTest, EveryDeclaredPredicateIsOneThePolicyKnows) {
  for (const auto& m : rpc::MethodTable::Get().all()) {
    if (m.predicate.empty()) continue;
    auto p = Policy::Parse("[methods]\n" + m.name + " = [\"user\"]\n[predicates]\n" + m.name +
                               " = \"" + m.predicate + "\"\n",
                           "p.toml", PublicMethods());
    EXPECT_TRUE(p.ok()) << m.full_method << ": " << p.error().ToString();
  }
}

}  // namespace
}  // namespace cloister::gateway
