// cloister-exec request handling; see exec_service.h.
#include "services/exec/exec_service.h"

#include <chrono>

#include "common/grpc_status.h"
#include "common/logging.h"
#include "functions/builtin/registry.h"
#include "services/exec/task_runner.h"

namespace cloister::exec {
namespace {

constexpr const char* kCall = "/cloister.api.Exec/Call";
constexpr const char* kList = "/cloister.api.Exec/ListFunctions";
constexpr const char* kHealth = "/cloister.api.Exec/Health";
constexpr size_t kMaxArgs = 256;
constexpr size_t kMaxInputs = 256;

Error WithReason(const Error& e, const char* fallback) {
  return e.reason().empty() ? Error(e.code(), e.message(), fallback) : e;
}

std::string DefaultText(const functions::ArgValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return std::get<bool>(v) ? "true" : "false";
}

}  // namespace

Result<api::CallResponse> ExecCore::Call(const Authorized<api::CallRequest>& authz) const {
  const api::CallRequest& req = authz.request();
  if (req.function().empty() || req.function().size() > 128)
    return InvalidArgument("field 'function' must name a built-in function", "FUNCTION_REQUIRED");
  if (static_cast<size_t>(req.args_size()) > kMaxArgs)
    return InvalidArgument("too many arguments (at most 256)", "TOO_MANY_ARGS");
  if (static_cast<size_t>(req.inputs_size()) > kMaxInputs)
    return InvalidArgument("too many inputs (at most 256)", "TOO_MANY_INPUTS");
  const functions::Function* fn = functions::builtin::Builtins().Find(req.function());
  if (fn == nullptr)
    return NotFound("no built-in function '" + req.function().substr(0, 64) + "'",
                    "FUNCTION_NOT_FOUND");

  std::map<std::string, functions::ArgValue> args;
  for (const auto& [name, value] : req.args()) {
    switch (value.value_case()) {
      case api::ArgumentValue::kStringValue: args[name] = value.string_value(); break;
      case api::ArgumentValue::kIntValue: args[name] = value.int_value(); break;
      case api::ArgumentValue::kDoubleValue: args[name] = value.double_value(); break;
      case api::ArgumentValue::kBoolValue: args[name] = value.bool_value(); break;
      default:
        return InvalidArgument("argument '" + name.substr(0, 64) + "' has no value",
                               "ARG_VALUE_MISSING");
    }
  }
  functions::Inputs inputs;
  for (const auto& [name, bytes] : req.inputs()) inputs.emplace(name, bytes);

  auto start = std::chrono::steady_clock::now();
  // The runtime's and the built-ins' refusals name arguments, slots and
  // values (the caller's own), but not all carry a reason: a public error
  // does (issue 11), so the worker's names for them are used (task_runner.h).
  auto rt = functions::Runtime::CreateTyped(fn->spec(), args, std::move(inputs));
  if (!rt.ok()) return WithReason(rt.error(), reason::kBindingInvalid);
  if (Status ran = fn->Run(**rt); !ran.ok()) return WithReason(ran.error(), reason::kFunctionError);
  functions::Outputs outputs = std::move(**rt).TakeOutputs();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  api::CallResponse resp;
  resp.set_function(req.function());
  resp.set_duration_us(us);
  for (auto& [name, bytes] : outputs) (*resp.mutable_outputs())[name] = std::move(bytes);
  LOG_INFO("call done", {{"function", req.function()}, {"principal", authz.user_id()},
                         {"duration_us", us}});
  return resp;
}

Result<api::ListFunctionsResponse> ExecCore::ListFunctions(
    const Authorized<api::ListFunctionsRequest>&) const {
  api::ListFunctionsResponse resp;
  for (const functions::FunctionSpec* spec : functions::builtin::Builtins().List()) {
    auto* f = resp.add_functions();
    f->set_name(spec->name);
    f->set_description(spec->description);
    for (const auto& a : spec->args) {
      std::string s = a.name + ":" + std::string(functions::ArgTypeName(a.type));
      if (a.default_value) s += "=" + DefaultText(*a.default_value);
      f->add_args(s);
    }
    for (const auto& s : spec->inputs) f->add_inputs(s.variadic ? s.name + ".<name>" : s.name);
    for (const auto& s : spec->outputs) f->add_outputs(s.variadic ? s.name + ".<name>" : s.name);
  }
  return resp;
}

grpc::Status ExecService::Call(grpc::ServerContext* ctx, const api::CallRequest* req,
                               api::CallResponse* resp) {
  auto authz = verifier_->Admit(*ctx, *req, kCall);
  if (!authz.ok()) return ToGrpcStatus(authz.error());
  auto r = core_.Call(*authz);
  if (!r.ok()) return ToGrpcStatus(r.error());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status ExecService::ListFunctions(grpc::ServerContext* ctx,
                                        const api::ListFunctionsRequest* req,
                                        api::ListFunctionsResponse* resp) {
  auto authz = verifier_->Admit(*ctx, *req, kList);
  if (!authz.ok()) return ToGrpcStatus(authz.error());
  auto r = core_.ListFunctions(*authz);
  if (!r.ok()) return ToGrpcStatus(r.error());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status ExecService::Health(grpc::ServerContext* ctx, const api::HealthRequest* req,
                                 api::HealthResponse* resp) {
  auto authz = verifier_->Admit(*ctx, *req, kHealth);
  if (!authz.ok()) return ToGrpcStatus(authz.error());
  resp->set_status("SERVING");
  resp->set_service("exec");
  resp->set_version(CLOISTER_VERSION);
  resp->set_security_level(security_level_);
  return grpc::Status::OK;
}

}  // namespace cloister::exec
