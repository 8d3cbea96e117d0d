// The cluster's one method table, generated from the service protos by
// proto/plugin/ (see proto/options.proto): every RPC with its full path,
// short public name (the policy and audit key), the backend that serves
// it, its default roles and predicate, whether it is internal, whether
// it is read-only (what a read-only API key may call) and the largest
// request it accepts. The
// gateway forwards, the default policy is built and the audit names are
// taken from this table; tests check that the backends serve what it says.
//
//   const rpc::MethodEntry* m = rpc::MethodTable::Get().Find("/cloister.api.Auth/Login");
//   std::unique_ptr<google::protobuf::Message> req(m->request().New());
#pragma once

#include <google/protobuf/message.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cloister::rpc {

// Roles a public method without a (cloister.options.rule).roles allows.
inline const std::vector<std::string> kDefaultRoles = {"user", "admin"};
// The backend name meaning "the gateway answers it itself".
inline constexpr std::string_view kGatewayBackend = "gateway";
// The request cap of an RPC without (cloister.options.rule).max_request_bytes.
inline constexpr size_t kDefaultMaxRequestBytes = 1u << 20;
// The most an RPC may declare: the gRPC message limit of every Cloister
// server and channel (services::kMaxMessageBytes).
inline constexpr size_t kMaxRequestBytesCeiling = 64u << 20;

struct MethodEntry {
  std::string full_method;                 // "/cloister.api.Auth/Login"
  std::string name;                        // "Login": policy key, audit method name
  std::string service;                     // "cloister.api.Auth"
  std::string backend;                     // a ServiceSpec name: "auth", or "gateway"
  std::vector<std::string> declared_roles; // as written in the proto (may be empty)
  std::string predicate;                   // "" or e.g. "self_or_admin"
  bool internal = false;                   // never forwarded by the gateway
  // Internal only: enclave roles that may call it ("*": every service of
  // the topology); empty: the gateway only.
  std::vector<std::string> callers;
  const google::protobuf::Message& (*request)();   // default instance
  const google::protobuf::Message& (*response)();  // default instance
  // Streaming direction (never both): the request is the first of many
  // messages (an upload), or the response is (a download). The gateway's
  // grant covers the first request message; the rest ride the same attested
  // call.
  bool client_streaming = false;
  bool server_streaming = false;
  // (cloister.options.rule).read_only: changes nothing, so an API key of
  // scope "read-only" may call it.
  bool read_only = false;
  // (cloister.options.rule).max_request_bytes, resolved (never 0): the
  // largest request message (each one of a request stream) the gateway and
  // the backend accept. Last: the generated table is positional.
  size_t max_request_bytes = kDefaultMaxRequestBytes;

  bool is_public() const { return !internal; }
  // The default policy's roles: declared, else kDefaultRoles.
  const std::vector<std::string>& default_roles() const {
    return declared_roles.empty() ? kDefaultRoles : declared_roles;
  }
};

// Defined in the generated gen/proto/method_table.gen.cc.
const std::vector<MethodEntry>& GeneratedMethods();

class MethodTable {
 public:
  // The table of this build. Aborts at first use if the protos break a
  // table rule (two public methods with one short name, a request cap of 0
  // or above kMaxRequestBytesCeiling): a build/test-time
  // error, never a runtime surprise.
  static const MethodTable& Get();

  const std::vector<MethodEntry>& all() const { return *methods_; }
  // By full path; nullptr if unknown.
  const MethodEntry* Find(std::string_view full_method) const;
  // A public method by short name; nullptr if there is none.
  const MethodEntry* FindPublic(std::string_view name) const;
  // Short names of every public method, in proto order.
  std::vector<std::string> PublicNames() const;
  // Every method `backend` serves (internal ones included).
  std::vector<const MethodEntry*> ServedBy(std::string_view backend) const;
  // The services whose internal methods `role` may call (its callers rule
  // names it, or "*"), other than itself, sorted: the peers an enclave of
  // that role needs an address for (--<peer>-addr). Auth for every service,
  // keyvault for storage (DestroyFileKey), ...
  std::vector<std::string> PeersOf(std::string_view role) const;
  // The largest max_request_bytes among the methods `backend` serves (what
  // its server must take in one message).
  size_t LargestRequestServedBy(std::string_view backend) const;

  // "" when the table is consistent, else what is wrong.
  static std::string Check(const std::vector<MethodEntry>& methods);

 private:
  explicit MethodTable(const std::vector<MethodEntry>* methods);
  const std::vector<MethodEntry>* methods_;
  std::map<std::string, const MethodEntry*, std::less<>> by_path_;
  std::map<std::string, const MethodEntry*, std::less<>> public_by_name_;
};

}  // namespace cloister::rpc
