// The two tables agree: every backend the method table routes to is a
// service of the topology that the gateway may call, each such service
// has an internal Health RPC (the gateway's and the CLI's probe), product
// ids are unique, and the table's own rules hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "proto/method_table.h"
#include "services/topology/service_spec.h"

namespace cloister::topology {
namespace {

TEST(TopologyTest, NamesAndProductIdsAreUnique) {
  std::set<std::string_view> names;
  std::set<uint32_t> products;
  for (const auto& s : Topology()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_TRUE(products.insert(s.product_id).second) << s.name;
  }
  ASSERT_NE(FindService("gateway"), nullptr);
  EXPECT_TRUE(FindService("gateway")->is_public());
  EXPECT_EQ(FindService("nonesuch"), nullptr);
  EXPECT_EQ(FindService("auth")->binary(), "cloister-auth");
  // Every enclave service may reach auth (for its token keys; which RPCs
  // each may call is the method table's rule), never the platform.
  EXPECT_TRUE(FindService("auth")->CalledBy("gateway"));
  EXPECT_TRUE(FindService("auth")->CalledBy("keyvault"));
  EXPECT_FALSE(FindService("auth")->CalledBy("platform"));
  EXPECT_EQ(FindService("exec")->caller_roles(), std::vector<std::string>{"gateway"});
}

TEST(TopologyTest, EveryRoutedBackendIsAGatewayBackendWithHealth) {
  const auto& table = rpc::MethodTable::Get();
  for (const auto& m : table.all()) {
    const ServiceSpec* s = FindService(m.backend);
    ASSERT_NE(s, nullptr) << m.full_method << " routes to unknown backend " << m.backend;
    if (m.backend != rpc::kGatewayBackend) {
      EXPECT_TRUE(s->is_gateway_backend()) << m.backend << " serves " << m.full_method
                                           << " but the gateway may not call it";
    }
  }
  for (const auto& s : Topology()) {
    if (!s.is_gateway_backend()) continue;
    bool health = false;
    for (const auto* m : table.ServedBy(s.name)) health |= (m->name == "Health" && m->internal);
    EXPECT_TRUE(health) << s.name << " has no internal Health RPC in its proto";
  }
}

// An internal method's named callers must be allowed by its backend's
// callers column (or the RA-TLS server would refuse them before the table's
// rule is read), and each such caller gets a --<backend>-addr (PeersOf).
TEST(TopologyTest, InternalCallersAreReachableAndArePeers) {
  const auto& table = rpc::MethodTable::Get();
  for (const auto& m : table.all()) {
    if (!m.internal) continue;
    const ServiceSpec* backend = FindService(m.backend);
    ASSERT_NE(backend, nullptr) << m.full_method;
    for (const auto& c : m.callers) {
      if (c == "*") continue;
      ASSERT_NE(FindService(c), nullptr) << m.full_method << " names unknown caller " << c;
      EXPECT_TRUE(backend->CalledBy(c)) << m.full_method << ": " << m.backend
                                        << "'s callers column lacks " << c;
      auto peers = table.PeersOf(c);
      EXPECT_NE(std::find(peers.begin(), peers.end(), m.backend), peers.end()) << c;
    }
  }
  EXPECT_EQ(table.PeersOf("auth"), std::vector<std::string>{});
  EXPECT_EQ(table.PeersOf("exec"), (std::vector<std::string>{"auth", "keyvault", "storage", "tasks"}));
  EXPECT_EQ(table.PeersOf("tasks"), (std::vector<std::string>{"auth", "storage"}));
  EXPECT_EQ(table.PeersOf("storage"), (std::vector<std::string>{"auth", "keyvault"}));
}

TEST(MethodTableTest, StreamingDirectionsComeFromTheProto) {
  const auto& t = rpc::MethodTable::Get();
  const auto* up = t.FindPublic("UploadChunks");
  const auto* down = t.FindPublic("Download");
  ASSERT_NE(up, nullptr);
  ASSERT_NE(down, nullptr);
  EXPECT_TRUE(up->client_streaming);
  EXPECT_FALSE(up->server_streaming);
  EXPECT_TRUE(down->server_streaming);
  EXPECT_FALSE(down->client_streaming);
  EXPECT_FALSE(t.FindPublic("Login")->client_streaming || t.FindPublic("Login")->server_streaming);
}

// Issue 11: each RPC's request cap is its (cloister.options.rule)
// .max_request_bytes, 1 MiB when unset; a cap of 0 or above gRPC's message
// limit is refused.
TEST(MethodTableTest, RequestCapsComeFromTheProtoWithADefault) {
  const auto& t = rpc::MethodTable::Get();
  EXPECT_EQ(t.FindPublic("Login")->max_request_bytes, 4096u);
  EXPECT_EQ(t.FindPublic("WhoAmI")->max_request_bytes, rpc::kDefaultMaxRequestBytes);
  EXPECT_EQ(t.FindPublic("Call")->max_request_bytes, size_t{64} << 20);
  EXPECT_EQ(t.FindPublic("UploadChunks")->max_request_bytes, size_t{8} << 20);
  EXPECT_EQ(t.Find("/cloister.api.Auth/TokenKeys")->max_request_bytes,
            rpc::kDefaultMaxRequestBytes);
  EXPECT_EQ(t.LargestRequestServedBy("exec"), size_t{64} << 20);
  EXPECT_EQ(t.LargestRequestServedBy("storage"), size_t{8} << 20);
  for (const auto& m : t.all()) {
    EXPECT_GT(m.max_request_bytes, 0u) << m.full_method;
    EXPECT_LE(m.max_request_bytes, rpc::kMaxRequestBytesCeiling) << m.full_method;
  }
  rpc::MethodEntry e;
  e.full_method = "/a.A/Foo";
  e.name = "Foo";
  e.backend = "auth";
  EXPECT_EQ(rpc::MethodTable::Check({e}), "");
  e.max_request_bytes = 0;
  EXPECT_NE(rpc::MethodTable::Check({e}), "");
  e.max_request_bytes = rpc::kMaxRequestBytesCeiling + 1;
  EXPECT_NE(rpc::MethodTable::Check({e}), "");
}

TEST(MethodTableTest, RulesRefuseAmbiguousOrBrokenTables) {
  EXPECT_EQ(rpc::MethodTable::Check(rpc::GeneratedMethods()), "");
  auto entry = [](std::string path, std::string name, bool internal) {
    rpc::MethodEntry e;
    e.full_method = std::move(path);
    e.name = std::move(name);
    e.backend = "auth";
    e.internal = internal;
    return e;
  };
  EXPECT_NE(rpc::MethodTable::Check({entry("/a.A/Foo", "Foo", false), entry("/b.B/Foo", "Foo", false)}),
            "");  // two public Foo: the policy key would be ambiguous
  EXPECT_EQ(rpc::MethodTable::Check({entry("/a.A/Foo", "Foo", false), entry("/b.B/Foo", "Foo", true)}),
            "");  // an internal Foo next to a public one is fine
  EXPECT_NE(rpc::MethodTable::Check({entry("/a.A/Foo", "Foo", false), entry("/a.A/Foo", "Foo", true)}),
            "");
  auto bad_role = entry("/a.A/Foo", "Foo", false);
  bad_role.declared_roles = {"root"};
  EXPECT_NE(rpc::MethodTable::Check({bad_role}), "");
  // Lookups.
  const auto& t = rpc::MethodTable::Get();
  ASSERT_NE(t.Find("/cloister.api.Auth/Login"), nullptr);
  EXPECT_EQ(t.Find("/cloister.api.Auth/Login")->backend, "auth");
  EXPECT_EQ(t.FindPublic("TokenKeys"), nullptr);  // internal
  EXPECT_NE(t.Find("/cloister.api.Auth/TokenKeys"), nullptr);
}

}  // namespace
}  // namespace cloister::topology
