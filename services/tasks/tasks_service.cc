// cloister-tasks' gRPC handlers; see tasks_service.h.
#include "services/tasks/tasks_service.h"

#include "common/grpc_status.h"
#include "services/common/serve_unary.h"

namespace cloister::tasks_service {
namespace {

constexpr std::string_view kBackend = "/cloister.tasks.Tasks/";

std::string MethodPath(std::string_view method) {
  return std::string(kBackend) + std::string(method);
}

}  // namespace

template <typename Req, typename Resp, typename Fn>
grpc::Status TasksService::Serve(grpc::ServerContext* ctx, const Req* req, Resp* resp,
                                   std::string_view method, Fn fn) {
  return services::ServeUnary(*verifier_, ctx, req, resp, MethodPath(method), std::move(fn),
                              [this] { core_->CountRefusal(); });
}

#define CLOISTER_TASKS_SERVE(M)                                                            \
  grpc::Status TasksService::M(grpc::ServerContext* ctx, const tasks::M##Request* req,     \
                               tasks::M##Response* resp) {                                 \
    return Serve(ctx, req, resp, #M, [this](const Caller& c, const tasks::M##Request& r) { \
      return core_->M(c, r);                                                               \
    });                                                                                    \
  }
CLOISTER_TASKS_SERVE(RegisterTaskFunction)
CLOISTER_TASKS_SERVE(ListTaskFunctions)
CLOISTER_TASKS_SERVE(GetTaskFunction)
CLOISTER_TASKS_SERVE(DisableTaskFunction)
CLOISTER_TASKS_SERVE(CreateTask)
CLOISTER_TASKS_SERVE(UpdateTask)
CLOISTER_TASKS_SERVE(AssignInput)
CLOISTER_TASKS_SERVE(ApproveTask)
CLOISTER_TASKS_SERVE(RejectTask)
CLOISTER_TASKS_SERVE(RevokeApproval)
CLOISTER_TASKS_SERVE(InvokeTask)
CLOISTER_TASKS_SERVE(CancelTask)
CLOISTER_TASKS_SERVE(GetTask)
CLOISTER_TASKS_SERVE(ListTasks)
CLOISTER_TASKS_SERVE(GetTaskLog)
CLOISTER_TASKS_SERVE(ClaimTask)
CLOISTER_TASKS_SERVE(HeartbeatTask)
CLOISTER_TASKS_SERVE(CompleteTask)
CLOISTER_TASKS_SERVE(FailTask)
#undef CLOISTER_TASKS_SERVE

grpc::Status TasksService::WaitTask(grpc::ServerContext* ctx, const tasks::WaitTaskRequest* req,
                                    tasks::WaitTaskResponse* resp) {
  return Serve(ctx, req, resp, "WaitTask", [this, ctx](const Caller& c, const tasks::WaitTaskRequest& r) {
    // A client (or the gateway) that gave up frees its waiter at once.
    return core_->WaitTask(c, r, [ctx] { return ctx->IsCancelled(); });
  });
}

grpc::Status TasksService::Health(grpc::ServerContext* ctx, const tasks::TasksHealthRequest* req,
                                  tasks::TasksHealthResponse* resp) {
  auto authz = verifier_->Admit(*ctx, *req, MethodPath("Health"));
  if (!authz.ok()) {
    core_->CountRefusal();
    return ToGrpcStatus(authz.error());
  }
  resp->set_status("SERVING");
  resp->set_security_level(security_level_);
  for (const auto& [name, value] : core_->Counters()) (*resp->mutable_counters())[name] = value;
  return grpc::Status::OK;
}

}  // namespace cloister::tasks_service
