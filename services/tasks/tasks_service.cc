// cloister-tasks' gRPC handlers; see tasks_service.h.
#include "services/tasks/tasks_service.h"

#include "common/grpc_status.h"
#include "services/common/serve_unary.h"

namespace cloister::tasks_service {
namespace {

std::string MethodPath(std::string_view method) {
  return services::FullMethod(tasks::Tasks::service_full_name(), method);
}

}  // namespace

template <typename Req, typename Resp, typename Fn>
grpc::Status TasksService::Serve(grpc::ServerContext* ctx, const Req* req, Resp* resp,
                                 std::string_view method, Fn fn) {
  return services::ServeUnary(*verifier_, ctx, req, resp, MethodPath(method), std::move(fn),
                              [this] { core_->CountRefusal(); });
}

CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, RegisterTaskFunction)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, ListTaskFunctions)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, GetTaskFunction)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, DisableTaskFunction)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, CreateTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, UpdateTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, AssignInput)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, ApproveTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, RejectTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, RevokeApproval)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, InvokeTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, CancelTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, GetTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, ListTasks)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, GetTaskLog)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, ClaimTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, HeartbeatTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, CompleteTask)
CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, FailTask)

grpc::Status TasksService::WaitTask(grpc::ServerContext* ctx, const tasks::WaitTaskRequest* req,
                                    tasks::WaitTaskResponse* resp) {
  return Serve(ctx, req, resp, "WaitTask", [this, ctx](const Caller& c, const tasks::WaitTaskRequest& r) {
    // A client (or the gateway) that gave up frees its waiter at once.
    return core_->WaitTask(c, r, [ctx] { return ctx->IsCancelled(); });
  });
}

grpc::Status TasksService::Health(grpc::ServerContext* ctx, const tasks::TasksHealthRequest* req,
                                  tasks::TasksHealthResponse* resp) {
  return Serve(ctx, req, resp, "Health", [this](const Caller&, const tasks::TasksHealthRequest&) {
    return Result<tasks::TasksHealthResponse>(
        services::HealthReply<tasks::TasksHealthResponse>(security_level_, core_->Counters()));
  });
}

}  // namespace cloister::tasks_service
