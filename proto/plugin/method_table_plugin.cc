// protoc-gen-cloister: a protoc plugin that turns the service protos into
// the cluster's one method table (gen/proto/method_table.gen.cc). For every
// RPC of every service with a (cloister.options.route) it emits the full
// method path, the short public name (the policy and audit key), the
// backend that serves it, the default roles and predicate from
// (cloister.options.rule), whether it is internal or read-only, its request
// cap (max_request_bytes, the default filled in), and factories for the
// request and response messages. Build-time tool only;
// never installed.
//
// A plugin rather than runtime descriptor lookups: the table is complete at
// compile time (a service proto that is not linked cannot silently vanish
// from it), and it references every request type, so the linker keeps them.
#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/compiler/plugin.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <memory>
#include <string>
#include <vector>

#include "proto/method_table.h"
#include "proto/options.pb.h"

namespace {

namespace pb = google::protobuf;

// "cloister.api.LoginRequest" → "::cloister::api::LoginRequest"
std::string CppName(const std::string& full) {
  std::string out = "::";
  for (char c : full) {
    if (c == '.')
      out += "::";
    else
      out += c;
  }
  return out;
}

// "proto/auth.proto" → "proto/auth.pb.h"
std::string PbHeader(const std::string& file) {
  return file.substr(0, file.size() - std::string(".proto").size()) + ".pb.h";
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

class MethodTableGenerator final : public pb::compiler::CodeGenerator {
 public:
  bool Generate(const pb::FileDescriptor*, const std::string&, pb::compiler::GeneratorContext*,
                std::string* error) const override {
    *error = "protoc-gen-cloister generates one table for all files (GenerateAll)";
    return false;
  }
  bool HasGenerateAll() const override { return true; }

  bool GenerateAll(const std::vector<const pb::FileDescriptor*>& files, const std::string&,
                   pb::compiler::GeneratorContext* ctx, std::string* error) const override {
    std::string includes, entries;
    for (const auto* file : files) {
      includes += "#include " + Quote(PbHeader(file->name())) + "\n";
      for (int s = 0; s < file->service_count(); ++s) {
        const pb::ServiceDescriptor* svc = file->service(s);
        const auto& route = svc->options().GetExtension(cloister::options::route);
        if (route.backend().empty()) {
          *error = svc->full_name() + ": missing option (cloister.options.route).backend";
          return false;
        }
        for (int m = 0; m < svc->method_count(); ++m) {
          const pb::MethodDescriptor* md = svc->method(m);
          // One direction may stream (upload: client, download: server);
          // the gateway relays both kinds. Bidirectional calls have no use
          // yet and no relay.
          if (md->client_streaming() && md->server_streaming()) {
            *error = md->full_name() + ": bidirectional streaming RPCs are not supported";
            return false;
          }
          const auto& rule = md->options().GetExtension(cloister::options::rule);
          std::string roles;
          for (const auto& r : rule.roles()) roles += (roles.empty() ? "" : ", ") + Quote(r);
          std::string callers;
          for (const auto& c : rule.callers()) callers += (callers.empty() ? "" : ", ") + Quote(c);
          if (!rule.internal() && rule.callers_size() > 0) {
            *error = md->full_name() + ": (cloister.options.rule).callers is for internal RPCs";
            return false;
          }
          // The cap is resolved here so the table never holds a 0; a cap
          // above gRPC's message limit could never be reached.
          const uint64_t cap = rule.max_request_bytes() == 0
                                   ? cloister::rpc::kDefaultMaxRequestBytes
                                   : rule.max_request_bytes();
          if (cap > cloister::rpc::kMaxRequestBytesCeiling) {
            *error = md->full_name() + ": (cloister.options.rule).max_request_bytes " +
                     std::to_string(cap) + " is above the gRPC message limit " +
                     std::to_string(cloister::rpc::kMaxRequestBytesCeiling);
            return false;
          }
          entries += "      {" + Quote("/" + svc->full_name() + "/" + md->name()) + ", " +
                     Quote(md->name()) + ", " + Quote(svc->full_name()) + ", " +
                     Quote(route.backend()) + ", {" + roles + "}, " + Quote(rule.predicate()) +
                     ", " + (rule.internal() ? "true" : "false") + ", {" + callers + "},\n       " +
                     "[]() -> const ::google::protobuf::Message& { return " +
                     CppName(md->input_type()->full_name()) + "::default_instance(); },\n       " +
                     "[]() -> const ::google::protobuf::Message& { return " +
                     CppName(md->output_type()->full_name()) + "::default_instance(); },\n       " +
                     (md->client_streaming() ? "true" : "false") + ", " +
                     (md->server_streaming() ? "true" : "false") + ", " +
                     (rule.read_only() ? "true" : "false") + ", " + std::to_string(cap) +
                     "u},\n";
        }
      }
    }
    std::unique_ptr<pb::io::ZeroCopyOutputStream> out(ctx->Open("proto/method_table.gen.cc"));
    pb::io::Printer p(out.get(), '$');
    p.PrintRaw(
        "// Generated by protoc-gen-cloister (proto/plugin/) from the service protos.\n"
        "// Do not edit: change the proto and its (cloister.options.*) instead.\n"
        "#include \"proto/method_table.h\"\n\n" +
        includes +
        "\nnamespace cloister::rpc {\n\n"
        "const std::vector<MethodEntry>& GeneratedMethods() {\n"
        "  static const std::vector<MethodEntry> kMethods = {\n" +
        entries +
        "  };\n  return kMethods;\n}\n\n}  // namespace cloister::rpc\n");
    return !p.failed();
  }
};

}  // namespace

int main(int argc, char* argv[]) {
  MethodTableGenerator generator;
  return pb::compiler::PluginMain(argc, argv, &generator);
}
