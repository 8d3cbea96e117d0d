// `cloister key ...`: the key vault from the command line (docs/keyvault.md),
// through the gateway with the saved session. Binary outputs (plaintext,
// signatures, exported keys) go raw to --out FILE, else base64 on stdout;
// --json prints the response message as JSON (bytes in base64).
//
//   cloister key create db --type aes256-gcm
//   echo -n secret | cloister key encrypt db --aad file-1      # → cloister:alice/db:v1:...
//   cloister key sign signer --in msg.bin --out msg.sig && openssl dgst -sha256 -verify pub.pem ...
//   cloister key encrypt bob/shared --data x                   # bob's key, through his grant
//
// Names: NAME is always one of your keys; OWNER/NAME is the key of user
// OWNER (a username) and works only through a grant (docs/keyvault.md,
// "Names and namespaces"). `create` and `import` take a bare NAME.
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/fs.h"
#include "sdk/keyvault_client.h"

namespace cloister::cli {
namespace {

constexpr size_t kMaxInput = 32u << 20;

struct KeyFlags {
  std::string name, type, ops, data, in, out, aad, ciphertext, signature, signature_file, mac,
      algorithm = "default", grantee, grant_id;
  bool exportable = false, digest = false, wrapped_only = false, cancel = false, retire_only = false,
       owned_only = false;
  uint32_t version = 0, min_decryption_version = 0;
  int64_t expires_unix = 0, wait_seconds = 0;
};

nlohmann::json ProtoJson(const google::protobuf::Message& m) {
  std::string s;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &s, o).ok()) return nlohmann::json::object();
  return nlohmann::json::parse(s, nullptr, false);
}

struct Session {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::KeyVaultClient> kv;
};

Session Connect(const Globals& g, std::string_view cmd) {
  Session s;
  s.client = ConnectForCommand(g, cmd, true);
  auto saved = LoadSession(ClusterPaths::For(g.home));
  if (!saved.ok()) FailError(cmd, saved.error());
  auto kv = sdk::KeyVaultClient::Create(
      s.client.get(), {.gateway_address = saved->gateway, .trust_path = saved->trust_path});
  if (!kv.ok()) FailError(cmd, kv.error());
  s.kv = std::move(*kv);
  return s;
}

// --data TEXT, else --in FILE, else all of stdin.
std::string Input(const KeyFlags& f, std::string_view cmd) {
  if (!f.data.empty()) return f.data;
  if (!f.in.empty()) {
    auto r = ReadFile(f.in, kMaxInput);
    if (!r.ok()) FailError(cmd, r.error());
    return *r;
  }
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (all.size() > kMaxInput) Fail(cmd, "input larger than 32 MiB");
  return all;
}

// Ciphertexts come from --ciphertext or stdin (one line).
std::string CiphertextArg(const KeyFlags& f) {
  if (!f.ciphertext.empty()) return f.ciphertext;
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  return line;
}

void WriteBinary(const KeyFlags& f, std::string_view cmd, const std::string& bytes) {
  if (!f.out.empty()) {
    std::ofstream o(f.out, std::ios::binary | std::ios::trunc);
    o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!o) Fail(cmd, "cannot write " + f.out);
    return;
  }
  std::cout << Base64Encode(AsBytes(bytes)) << "\n";
}

keyvault::KeyType TypeArg(const KeyFlags& f, std::string_view cmd) {
  static const std::map<std::string, keyvault::KeyType> kTypes = {
      {"aes256-gcm", keyvault::KEY_TYPE_AES256_GCM}, {"rsa-2048", keyvault::KEY_TYPE_RSA_2048},
      {"rsa-3072", keyvault::KEY_TYPE_RSA_3072},     {"rsa-4096", keyvault::KEY_TYPE_RSA_4096},
      {"ecdsa-p256", keyvault::KEY_TYPE_ECDSA_P256}, {"ed25519", keyvault::KEY_TYPE_ED25519},
      {"hmac-sha256", keyvault::KEY_TYPE_HMAC_SHA256}};
  auto it = kTypes.find(f.type);
  if (it == kTypes.end())
    Fail(cmd, "unknown key type '" + f.type +
                  "' (aes256-gcm, rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ed25519, hmac-sha256)");
  return it->second;
}

std::vector<keyvault::Operation> OpsArg(const std::string& text, std::string_view cmd) {
  static const std::map<std::string, keyvault::Operation> kOps = {
      {"encrypt", keyvault::OPERATION_ENCRYPT},     {"decrypt", keyvault::OPERATION_DECRYPT},
      {"sign", keyvault::OPERATION_SIGN},           {"verify", keyvault::OPERATION_VERIFY},
      {"hmac", keyvault::OPERATION_HMAC},           {"verify-hmac", keyvault::OPERATION_VERIFY_HMAC},
      {"rewrap", keyvault::OPERATION_REWRAP},       {"describe", keyvault::OPERATION_DESCRIBE},
      {"export", keyvault::OPERATION_EXPORT}};
  std::vector<keyvault::Operation> out;
  std::stringstream ss(text);
  for (std::string op; std::getline(ss, op, ',');) {
    if (op.empty()) continue;
    auto it = kOps.find(op);
    if (it == kOps.end()) Fail(cmd, "unknown operation '" + op + "'");
    out.push_back(it->second);
  }
  return out;
}

keyvault::SignatureAlgorithm AlgArg(const KeyFlags& f, std::string_view cmd) {
  if (f.algorithm == "default") return keyvault::SIGNATURE_ALGORITHM_DEFAULT;
  if (f.algorithm == "pss") return keyvault::SIGNATURE_ALGORITHM_RSA_PSS_SHA256;
  if (f.algorithm == "pkcs1") return keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256;
  Fail(cmd, "--algorithm must be default, pss or pkcs1");
}

std::string StateName(keyvault::KeyState s) {
  switch (s) {
    case keyvault::KEY_STATE_ENABLED: return "enabled";
    case keyvault::KEY_STATE_DISABLED: return "disabled";
    case keyvault::KEY_STATE_PENDING_DELETION: return "pending-deletion";
    default: return "unknown";
  }
}

std::string TypeName(keyvault::KeyType t) {
  std::string n = keyvault::KeyType_Name(t);
  return n.rfind("KEY_TYPE_", 0) == 0 ? n.substr(9) : n;
}

void PrintKey(const Globals& g, const keyvault::KeyMetadata& k) {
  if (g.json) return PrintJson(ProtoJson(k));
  std::cout << "name:            " << (k.full_name().empty() ? k.name() : k.full_name()) << "\n"
            << "type:            " << TypeName(k.type()) << "\n"
            << "owner:           "
            << (k.owner_username().empty() ? k.owner_user_id()
                                           : k.owner_username() + " (" + k.owner_user_id() + ")")
            << "\n"
            << "state:           " << StateName(k.state()) << "\n"
            << "exportable:      " << (k.exportable() ? "yes" : "no") << "\n"
            << "latest version:  " << k.latest_version() << "\n"
            << "min decryption:  " << k.min_decryption_version() << "\n";
  if (k.deletion_unix() != 0) std::cout << "deletion at:     " << k.deletion_unix() << "\n";
  for (const auto& v : k.versions())
    std::cout << "version " << v.version() << (v.retired() ? " (retired)" : "") << "\n"
              << v.public_key_pem();
  for (const auto& gr : k.grants())
    std::cout << "grant " << gr.grant_id() << " → " << gr.grantee_user_id()
              << (gr.expires_unix() ? " until " + std::to_string(gr.expires_unix()) : "") << "\n";
}

template <typename T>
T Must(Result<T> r, std::string_view cmd) {
  if (!r.ok()) FailError(cmd, r.error());
  return *std::move(r);
}

void Run(const std::string& sub, const KeyFlags& f, const Globals& g) {
  const std::string cmd = "key " + sub;
  Session s = Connect(g, cmd);
  auto& kv = *s.kv;
  if (sub == "create") {
    PrintKey(g, Must(kv.CreateKey(f.name, TypeArg(f, cmd), f.exportable, OpsArg(f.ops, cmd)), cmd));
  } else if (sub == "list") {
    auto keys = Must(kv.ListKeys(f.owned_only), cmd);
    if (g.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& k : keys) arr.push_back(ProtoJson(k));
      PrintJson(arr);
    } else {
      // NAME is what to type: bare for your own keys, OWNER/NAME for keys
      // granted to you, so where a key comes from is always on screen.
      auto session = s.client->session();
      const std::string me = session ? session->user.user_id() : "";
      std::vector<std::vector<std::string>> rows;
      for (const auto& k : keys) {
        const bool mine = !me.empty() && k.owner_user_id() == me;
        const std::string full = k.full_name().empty() ? k.name() : k.full_name();
        rows.push_back({mine ? k.name() : full,
                        k.owner_username().empty() ? k.owner_user_id() : k.owner_username(),
                        TypeName(k.type()), StateName(k.state()),
                        std::to_string(k.latest_version())});
      }
      PrintTable({"NAME", "OWNER", "TYPE", "STATE", "VERSION"}, rows);
    }
  } else if (sub == "describe") {
    PrintKey(g, Must(kv.DescribeKey(f.name), cmd));
  } else if (sub == "encrypt") {
    std::string in = Input(f, cmd);
    auto r = Must(kv.Encrypt(f.name, AsBytes(in), AsBytes(f.aad)), cmd);
    Cleanse(in);
    if (g.json) PrintJson(ProtoJson(r));
    else std::cout << r.ciphertext() << "\n";
  } else if (sub == "decrypt") {
    auto r = Must(kv.Decrypt(f.name, CiphertextArg(f), AsBytes(f.aad)), cmd);
    if (g.json) PrintJson(ProtoJson(r));
    else if (f.out.empty()) std::cout << r.plaintext();
    else WriteBinary(f, cmd, r.plaintext());
  } else if (sub == "sign" || sub == "verify") {
    std::string in = Input(f, cmd);
    if (f.digest && in.size() != crypto::kSha256Size) {
      auto d = crypto::Sha256(std::string_view(in));  // --digest over a message: hash it here
      in.assign(d.begin(), d.end());
    }
    if (sub == "sign") {
      auto r = Must(kv.Sign(f.name, AsBytes(in), f.digest, AlgArg(f, cmd)), cmd);
      if (g.json) PrintJson(ProtoJson(r));
      else WriteBinary(f, cmd, r.signature());
      return;
    }
    std::string sig;
    if (!f.signature_file.empty()) sig = Must(ReadFile(f.signature_file, 1 << 16), cmd);
    else sig = ToString(Must(Base64Decode(f.signature), cmd));
    bool ok = Must(kv.Verify(f.name, AsBytes(in), AsBytes(sig), f.digest, AlgArg(f, cmd), f.version),
                   cmd);
    if (g.json) PrintJson({{"valid", ok}});
    else std::cout << (ok ? "valid" : "INVALID") << "\n";
    if (!ok) throw CLI::RuntimeError(kExitFailure);
  } else if (sub == "hmac") {
    std::string in = Input(f, cmd);
    if (!f.mac.empty()) {
      Bytes mac = Must(Base64Decode(f.mac), cmd);
      bool ok = Must(kv.VerifyHmac(f.name, AsBytes(in), mac, f.version), cmd);
      if (g.json) PrintJson({{"valid", ok}});
      else std::cout << (ok ? "valid" : "INVALID") << "\n";
      if (!ok) throw CLI::RuntimeError(kExitFailure);
      return;
    }
    auto r = Must(kv.Hmac(f.name, AsBytes(in)), cmd);
    if (g.json) PrintJson(ProtoJson(r));
    else std::cout << Base64Encode(AsBytes(r.mac())) << "\n";
  } else if (sub == "datakey") {
    auto r = Must(kv.GenerateDataKey(f.name, AsBytes(f.aad), f.wrapped_only), cmd);
    if (g.json) {
      PrintJson(ProtoJson(r));
    } else {
      std::cout << "ciphertext: " << r.ciphertext() << "\n";
      if (!r.plaintext().empty()) std::cout << "plaintext:  " << Base64Encode(AsBytes(r.plaintext())) << "\n";
    }
  } else if (sub == "rewrap") {
    auto r = Must(kv.Rewrap(f.name, CiphertextArg(f), AsBytes(f.aad)), cmd);
    if (g.json) PrintJson(ProtoJson(r));
    else std::cout << r.ciphertext() << "\n";
  } else if (sub == "rotate") {
    if (f.retire_only && f.min_decryption_version == 0)
      Fail(cmd, "--retire-only needs --min-decryption-version N");
    PrintKey(g, Must(f.retire_only ? kv.SetMinDecryptionVersion(f.name, f.min_decryption_version)
                                   : kv.RotateKey(f.name, f.min_decryption_version),
                     cmd));
  } else if (sub == "import") {
    std::string material = Input(f, cmd);
    auto r = kv.ImportKey(f.name, TypeArg(f, cmd), AsBytes(material), f.exportable);
    Cleanse(material);
    PrintKey(g, Must(std::move(r), cmd));
  } else if (sub == "export") {
    auto r = Must(kv.ExportKey(f.name, f.version), cmd);
    if (g.json) PrintJson(ProtoJson(r));
    else if (f.out.empty() && r.key_material().rfind("-----BEGIN", 0) == 0) std::cout << r.key_material();
    else WriteBinary(f, cmd, r.key_material());
  } else if (sub == "grant") {
    auto r = Must(kv.CreateGrant(f.name, f.grantee, OpsArg(f.ops, cmd), f.expires_unix), cmd);
    if (g.json) PrintJson(ProtoJson(r));
    else
      std::cout << "Granted " << r.grant_id() << " to " << r.grantee_user_id()
                << " (they name the key "
                << (f.name.find('/') == std::string::npos ? "<your username>/" + f.name : f.name)
                << ")\n";
  } else if (sub == "revoke") {
    Status st = kv.RevokeGrant(f.name, f.grant_id);
    if (!st.ok()) FailError(cmd, st.error());
    if (g.json) PrintJson({{"grant_id", f.grant_id}, {"revoked", true}});
    else std::cout << "Revoked " << f.grant_id << "\n";
  } else if (sub == "disable" || sub == "enable") {
    PrintKey(g, Must(kv.SetKeyEnabled(f.name, sub == "enable"), cmd));
  } else if (sub == "delete") {
    PrintKey(g, Must(f.cancel ? kv.CancelKeyDeletion(f.name)
                              : kv.ScheduleKeyDeletion(f.name, f.wait_seconds),
                     cmd));
  }
  PersistSession(g, *s.client);
}

CommandRegistrar reg("key", [](CLI::App& app, Globals& g) {
  auto* key = app.add_subcommand("key", "key vault: keys that never leave the keyvault enclave");
  key->require_subcommand(1);
  key->footer(
      "Key names: NAME is always one of YOUR keys; OWNER/NAME (OWNER a username) is another "
      "user's key and works only through a grant they gave you. create and import take a bare "
      "NAME: keys are made in your own namespace only.");
  const std::string any_name = "NAME (your key) or OWNER/NAME (a key granted to you)";
  const std::string own_name = "NAME of your key (bare: no OWNER/)";
  auto add = [&](const std::string& name, const std::string& help, bool needs_name = true,
                 const std::string& name_help = "") {
    auto flags = std::make_shared<KeyFlags>();
    auto* sub = key->add_subcommand(name, help);
    if (needs_name)
      sub->add_option("name", flags->name, name_help.empty() ? any_name : name_help)->required();
    sub->add_flag("--json", g.json, "machine-readable output");
    sub->callback([flags, &g, name] { Run(name, *flags, g); });
    return std::make_pair(sub, flags);
  };
  auto input = [](CLI::App* sub, KeyFlags& f) {
    sub->add_option("--data", f.data, "input as text (else --in, else stdin)");
    sub->add_option("--in", f.in, "read the input from this file");
  };
  {
    auto [sub, f] = add("create", "create a key in your namespace", true, own_name);
    sub->add_option("--type", f->type, "aes256-gcm|rsa-2048|rsa-3072|rsa-4096|ecdsa-p256|ed25519|hmac-sha256")
        ->required();
    sub->add_flag("--exportable", f->exportable, "allow export (cannot be changed later)");
    sub->add_option("--ops", f->ops, "allowed operations, comma-separated (default: all of the type)");
  }
  {
    auto [sub, f] = add("list", "list your keys and the keys granted to you, with their OWNER",
                        false);
    sub->alias("ls");
    sub->add_flag("--mine", f->owned_only, "only your own keys");
  }
  add("describe", "metadata, versions, public keys and grants");
  {
    auto [sub, f] = add("encrypt", "encrypt (prints cloister:<key>:v<n>:<base64>)");
    input(sub, *f);
    sub->add_option("--aad", f->aad, "associated data (must match on decrypt)");
  }
  for (const std::string name : {"decrypt", "rewrap"}) {
    auto [sub, f] = add(name, name == "decrypt" ? "decrypt a ciphertext" : "re-encrypt to the latest version");
    sub->add_option("--ciphertext", f->ciphertext, "the ciphertext (else one line of stdin)");
    sub->add_option("--aad", f->aad, "associated data");
    if (name == "decrypt") sub->add_option("--out", f->out, "write the plaintext to this file");
  }
  for (const std::string name : {"sign", "verify"}) {
    auto [sub, f] = add(name, name == "sign" ? "sign data (or a SHA-256 digest)" : "verify a signature");
    input(sub, *f);
    sub->add_flag("--digest", f->digest, "the input is (or is hashed here to) a SHA-256 digest");
    sub->add_option("--algorithm", f->algorithm, "RSA padding: default|pss|pkcs1");
    if (name == "sign") {
      sub->add_option("--out", f->out, "write the raw signature here (else base64 on stdout)");
    } else {
      sub->add_option("--signature", f->signature, "base64 signature");
      sub->add_option("--signature-file", f->signature_file, "raw signature file");
      sub->add_option("--version", f->version, "key version (default latest)");
    }
  }
  {
    auto [sub, f] = add("hmac", "compute (or with --verify, check) an HMAC-SHA256");
    input(sub, *f);
    sub->add_option("--verify", f->mac, "base64 MAC to verify");
    sub->add_option("--version", f->version, "key version for --verify (default latest)");
  }
  {
    auto [sub, f] = add("datakey", "generate a data key wrapped under this key");
    sub->add_option("--aad", f->aad, "associated data (e.g. the file id)");
    sub->add_flag("--wrapped-only", f->wrapped_only, "do not return the plaintext key");
  }
  {
    auto [sub, f] = add("rotate", "add a new version (optionally retiring older ones)");
    sub->add_option("--min-decryption-version", f->min_decryption_version, "retire versions below this");
    sub->add_flag("--retire-only", f->retire_only,
                  "only set the minimum decryption version (no new version; may also lower it)");
  }
  {
    auto [sub, f] = add("import", "import key material (wrapped here for the vault)", true,
                        own_name);
    sub->add_option("--type", f->type, "key type")->required();
    sub->add_option("--in", f->in, "material: 32 raw bytes or a PKCS#8 PEM/DER file")->required();
    sub->add_flag("--exportable", f->exportable, "allow export");
  }
  {
    auto [sub, f] = add("export", "export an exportable key");
    sub->add_option("--version", f->version, "key version (default latest)");
    sub->add_option("--out", f->out, "write the key here");
  }
  {
    auto [sub, f] = add("grant",
                        "grant another user operations on your key (they name it "
                        "<your username>/NAME)",
                        true, own_name);
    sub->add_option("--to", f->grantee, "grantee user id")->required();
    sub->add_option("--ops", f->ops, "operations, comma-separated")->required();
    sub->add_option("--expires", f->expires_unix, "expiry (unix seconds; default never)");
  }
  {
    auto [sub, f] = add("revoke", "revoke a grant");
    sub->add_option("grant_id", f->grant_id, "grant id")->required();
  }
  add("disable", "disable a key (every use refused)");
  add("enable", "enable a disabled key");
  {
    auto [sub, f] = add("delete", "schedule deletion after a waiting period (or --cancel it)");
    sub->add_option("--wait-seconds", f->wait_seconds, "waiting period (default 7 days)");
    sub->add_flag("--cancel", f->cancel, "cancel a scheduled deletion (key comes back disabled)");
  }
});

}  // namespace
}  // namespace cloister::cli
