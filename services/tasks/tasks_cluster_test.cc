// cloister-tasks in a real cluster (`cloister cluster up`), through the
// gateway with raw Tasks stubs (the SDK's Tasks client comes with the
// worker half of issue 13): a function registered, a two-party task whose
// inputs are real encrypted files checked by cloister-storage
// (StatFileForTask), approvals of the digest, invocation, the long poll,
// the event log, and a non-participant who sees nothing.
#include <gtest/gtest.h>

#include <fstream>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "proto/tasks.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

class TasksClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    // This suite follows a task up to Queued: no worker may claim it
    // under the test's feet (exec's claims are long polls, answered at once).
    Status st = cluster_->Start([](std::string toml) {
      const size_t at = toml.find("\ntask_workers = ");
      if (at != std::string::npos)
        toml.replace(at + 1, toml.find('\n', at + 1) - at - 1, "task_workers = 0");
      return toml;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Connect();
    ASSERT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"alice", "bob", "mallory"}) {
      auto created = admin->CreateUser(u, kPassword);
      ASSERT_TRUE(created.ok()) << created.error().ToString();
      ids_[u] = created->user_id();
    }
    auto trust = attestation::TrustConfig::Load(cluster_->trust_path());
    ASSERT_TRUE(trust.ok());
    auto channel = grpc::CreateChannel(
        cluster_->gateway(),
        attestation::AttestingChannelCredentials(
            std::make_shared<attestation::TrustConfig>(*std::move(trust)), {"gateway"}));
    stub_ = tasks::Tasks::NewStub(channel);
  }
  static void TearDownTestSuite() {
    stub_.reset();
    cluster_.reset();
  }

  static sdk::ClientOptions Options() {
    return {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()};
  }
  static std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect(Options());
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  struct User {
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::FilesClient> files;
    std::string token() const { return client->session()->token; }
  };
  static User Login(const std::string& name) {
    User u;
    u.client = Connect();
    EXPECT_TRUE(u.client->Login(name, kPassword).ok());
    auto f = sdk::FilesClient::Create(u.client.get(), Options());
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    if (f.ok()) u.files = std::move(*f);
    return u;
  }
  static std::string UploadCsv(User& u, const std::string& name, const std::string& text) {
    const std::string path = cluster_->scratch() + "/" + name;
    std::ofstream(path) << text;
    auto f = u.files->Upload(path);
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    return f.ok() ? f->file_id() : "";
  }

  // One unary Tasks call through the gateway as `u`.
  template <typename Resp, typename Req>
  static grpc::Status Call(const User& u, const Req& req, Resp* resp,
                           grpc::Status (tasks::Tasks::Stub::*fn)(grpc::ClientContext*, const Req&,
                                                                   Resp*)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx.AddMetadata("authorization", "Bearer " + u.token());
    return (stub_.get()->*fn)(&ctx, req, resp);
  }

  static std::unique_ptr<ClusterFixture> cluster_;
  static std::unique_ptr<tasks::Tasks::Stub> stub_;
  static std::map<std::string, std::string> ids_;
};

std::unique_ptr<ClusterFixture> TasksClusterTest::cluster_;
std::unique_ptr<tasks::Tasks::Stub> TasksClusterTest::stub_;
std::map<std::string, std::string> TasksClusterTest::ids_;

TEST_F(TasksClusterTest, ATwoPartyTaskGoesFromCreatedToQueuedThroughTheGateway) {
  User alice = Login("alice"), bob = Login("bob"), mallory = Login("mallory");
  const std::string alice_file = UploadCsv(alice, "alice.csv", "id\n1\n2\n3\n");
  const std::string bob_file = UploadCsv(bob, "bob.csv", "id\n2\n3\n4\n");
  ASSERT_FALSE(alice_file.empty() || bob_file.empty());

  tasks::RegisterTaskFunctionRequest reg;
  reg.set_kind(tasks::FUNCTION_KIND_BUILTIN);
  reg.set_builtin_name("psi");
  reg.set_public_(true);
  tasks::RegisterTaskFunctionResponse fn;
  grpc::Status st = Call(alice, reg, &fn, &tasks::Tasks::Stub::RegisterTaskFunction);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(fn.function().hash().size(), 64u);

  // Bob has called once, so the service can name him.
  tasks::ListTasksResponse none;
  ASSERT_TRUE(Call(bob, tasks::ListTasksRequest(), &none, &tasks::Tasks::Stub::ListTasks).ok());
  tasks::CreateTaskRequest create;
  create.set_function_hash(fn.function().hash());
  (*create.mutable_inputs())["set.alice"] = ids_["alice"];
  (*create.mutable_inputs())["set.bob"] = ids_["bob"];
  (*create.mutable_outputs())["result.alice"].add_user_ids(ids_["alice"]);
  (*create.mutable_outputs())["result.bob"].add_user_ids(ids_["bob"]);
  tasks::CreateTaskResponse created;
  st = Call(alice, create, &created, &tasks::Tasks::Stub::CreateTask);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const std::string id = created.task().task_id();
  EXPECT_EQ(created.task().state(), tasks::TASK_STATE_CREATED);
  EXPECT_EQ(created.task().missing(1), "waiting for bob to assign slot `set.bob`");

  // Storage decides whose file it is: bob cannot assign alice's file.
  tasks::AssignInputRequest assign;
  assign.set_task_id(id);
  assign.set_slot("set.bob");
  assign.set_file_id(alice_file);
  tasks::AssignInputResponse assigned;
  st = Call(bob, assign, &assigned, &tasks::Tasks::Stub::AssignInput);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_EQ(st.error_details(), "FILE_NOT_FOUND");
  assign.set_file_id(bob_file);
  st = Call(bob, assign, &assigned, &tasks::Tasks::Stub::AssignInput);
  ASSERT_TRUE(st.ok()) << st.error_message();
  assign.set_slot("set.alice");
  assign.set_file_id(alice_file);
  st = Call(alice, assign, &assigned, &tasks::Tasks::Stub::AssignInput);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(assigned.task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  EXPECT_EQ(assigned.task().inputs(0).ciphertext_sha256().size(), 32u);

  // A non-participant sees nothing, exactly as for an absent task.
  tasks::GetTaskRequest get;
  get.set_task_id(id);
  tasks::GetTaskResponse got;
  st = Call(mallory, get, &got, &tasks::Tasks::Stub::GetTask);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_details(), "TASK_NOT_FOUND");

  const std::string digest = assigned.task().digest();
  tasks::ApproveTaskRequest approve;
  approve.set_task_id(id);
  approve.set_digest(std::string(64, '0'));
  tasks::ApproveTaskResponse approved;
  st = Call(alice, approve, &approved, &tasks::Tasks::Stub::ApproveTask);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_details(), "DIGEST_STALE");
  EXPECT_NE(st.error_message().find(digest), std::string::npos) << st.error_message();
  approve.set_digest(digest);
  ASSERT_TRUE(Call(alice, approve, &approved, &tasks::Tasks::Stub::ApproveTask).ok());
  EXPECT_EQ(approved.task().missing(0), "waiting for approval from bob");
  tasks::InvokeTaskRequest invoke;
  invoke.set_task_id(id);
  tasks::InvokeTaskResponse invoked;
  st = Call(alice, invoke, &invoked, &tasks::Tasks::Stub::InvokeTask);
  EXPECT_EQ(st.error_details(), "APPROVALS_MISSING") << st.error_message();

  // Bob's approval wakes alice's long poll.
  tasks::WaitTaskRequest wait;
  wait.set_task_id(id);
  wait.set_after_version(approved.task().version());
  wait.set_timeout_ms(20'000);
  std::thread approver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    tasks::ApproveTaskResponse r;
    EXPECT_TRUE(Call(bob, approve, &r, &tasks::Tasks::Stub::ApproveTask).ok());
  });
  tasks::WaitTaskResponse waited;
  st = Call(alice, wait, &waited, &tasks::Tasks::Stub::WaitTask);
  approver.join();
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(waited.changed());
  EXPECT_EQ(waited.task().state(), tasks::TASK_STATE_APPROVED);

  ASSERT_TRUE(Call(bob, invoke, &invoked, &tasks::Tasks::Stub::InvokeTask).ok());
  EXPECT_EQ(invoked.task().state(), tasks::TASK_STATE_QUEUED);
  tasks::GetTaskLogRequest log_req;
  log_req.set_task_id(id);
  tasks::GetTaskLogResponse log;
  ASSERT_TRUE(Call(bob, log_req, &log, &tasks::Tasks::Stub::GetTaskLog).ok());
  ASSERT_EQ(log.events_size(), 6);
  EXPECT_EQ(log.events(0).event(), "created");
  EXPECT_EQ(log.events(5).event(), "invoked");
  st = Call(mallory, log_req, &log, &tasks::Tasks::Stub::GetTaskLog);
  EXPECT_EQ(st.error_details(), "TASK_NOT_FOUND");

  // The queue is exec's alone: it is not even reachable through the gateway.
  tasks::ClaimTaskResponse claimed;
  st = Call(alice, tasks::ClaimTaskRequest(), &claimed, &tasks::Tasks::Stub::ClaimTask);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(st.error_details(), "METHOD_UNKNOWN");
}

}  // namespace
}  // namespace cloister::testing
