// TasksService: the gRPC face of cloister-tasks (cloister.tasks.Tasks, sync
// API). Every call is admitted by the GrantVerifier (a gateway grant over
// the request for the public methods, a grant exec signed for itself for
// the queue's internal ones; the Caller comes from the proof), then handed
// to TasksCore; errors map to gRPC through the one ToGrpcStatus.
//
//   TasksService svc(&verifier, core.get(), enclave->security_level());
//   runner.Serve({&svc});
#pragma once

#include "proto/tasks.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "services/tasks/tasks_core.h"

namespace cloister::tasks_service {

class TasksService final : public tasks::Tasks::Service {
 public:
  // `verifier` and `core` must outlive the service.
  TasksService(services::GrantVerifier* verifier, TasksCore* core, int security_level)
      : verifier_(verifier), core_(core), security_level_(security_level) {}

#define CLOISTER_TASKS_METHOD(M)                                                             \
  grpc::Status M(grpc::ServerContext* ctx, const tasks::M##Request* req, tasks::M##Response* resp) \
      override;
  CLOISTER_TASKS_METHOD(RegisterTaskFunction)
  CLOISTER_TASKS_METHOD(ListTaskFunctions)
  CLOISTER_TASKS_METHOD(GetTaskFunction)
  CLOISTER_TASKS_METHOD(DisableTaskFunction)
  CLOISTER_TASKS_METHOD(CreateTask)
  CLOISTER_TASKS_METHOD(UpdateTask)
  CLOISTER_TASKS_METHOD(AssignInput)
  CLOISTER_TASKS_METHOD(ApproveTask)
  CLOISTER_TASKS_METHOD(RejectTask)
  CLOISTER_TASKS_METHOD(RevokeApproval)
  CLOISTER_TASKS_METHOD(InvokeTask)
  CLOISTER_TASKS_METHOD(CancelTask)
  CLOISTER_TASKS_METHOD(GetTask)
  CLOISTER_TASKS_METHOD(ListTasks)
  CLOISTER_TASKS_METHOD(WaitTask)
  CLOISTER_TASKS_METHOD(GetTaskLog)
  CLOISTER_TASKS_METHOD(ClaimTask)
  CLOISTER_TASKS_METHOD(HeartbeatTask)
  CLOISTER_TASKS_METHOD(CompleteTask)
  CLOISTER_TASKS_METHOD(FailTask)
#undef CLOISTER_TASKS_METHOD
  // Internal (method table): SERVING, the security level and the core's counters.
  grpc::Status Health(grpc::ServerContext* ctx, const tasks::TasksHealthRequest* req,
                      tasks::TasksHealthResponse* resp) override;

 private:
  template <typename Req, typename Resp, typename Fn>
  grpc::Status Serve(grpc::ServerContext* ctx, const Req* req, Resp* resp,
                     std::string_view method, Fn fn);

  services::GrantVerifier* verifier_;
  TasksCore* core_;
  int security_level_;
};

}  // namespace cloister::tasks_service
