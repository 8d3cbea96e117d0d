// The tasks client: the client-side task digest against docs/tasks.md's
// test vector (and the tampering it exposes), state names, the plan of
// which output files to fetch (never a path outside the directory, never
// another owner's file), and, against an in-process fake of the Tasks and
// Auth services (plaintext gRPC, a level-1 trust file), the long-poll loop
// (changes reported, transient refusals retried, the deadline, the server's
// reason kept), fetching from a task that did not succeed or names a bad
// slot, and resolving usernames.
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include "attestation/manifest.h"
#include "attestation/testing/fake_platform.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "common/grpc_status.h"
#include "sdk/tasks_client.h"

namespace cloister::sdk {
namespace {

namespace fs = std::filesystem;

const std::string kAlice = "u-" + std::string(32, 'a');
const std::string kBob = "u-" + std::string(32, 'b');
const std::string kAdmin = "u-" + std::string(32, 'c');

// docs/tasks.md's task digest test vector, as GetTask would show it.
tasks::Task VectorTask() {
  tasks::Task t;
  t.set_task_id(std::string(32, '1'));
  std::string hash;
  for (int i = 0; i < 32; ++i) hash += "ab";
  t.set_function_hash(hash);
  (*t.mutable_args())["n"].set_int_value(7);
  (*t.mutable_args())["s"].set_string_value("x");
  auto* in = t.add_inputs();
  in->set_slot("in.a");
  in->set_owner_user_id("u-a");
  in->set_file_id(std::string(32, 'f'));
  in->set_ciphertext_sha256(std::string(32, '\x11'));
  auto* out = t.add_outputs();
  out->set_slot("out");
  out->add_owner_user_ids("u-a");
  out->add_owner_user_ids("u-b");
  t.set_digest("64c40d71d774218eab918dc4240be9ee908e3c02212394a3067105983c2204d3");
  return t;
}

TEST(TaskDigestTest, IsTheDocumentedEncoding) {
  tasks::Task t = VectorTask();
  auto d = ComputeTaskDigest(t);
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_EQ(*d, t.digest());
  EXPECT_TRUE(VerifyTaskDigest(t).ok());
  // What the digest does not cover: creator, description, state, approvals.
  t.set_creator_user_id("u-z");
  t.set_description("note");
  t.set_state(tasks::TASK_STATE_APPROVED);
  t.add_approvals()->set_user_id("u-a");
  EXPECT_TRUE(VerifyTaskDigest(t).ok());
}

TEST(TaskDigestTest, OrderInTheMessageIsNotMeaning) {
  tasks::Task t = VectorTask();
  auto* in2 = t.add_inputs();
  in2->set_slot("in.b");
  in2->set_owner_user_id("u-b");
  const std::string d = *ComputeTaskDigest(t);
  t.mutable_inputs()->SwapElements(0, 1);
  t.mutable_outputs(0)->mutable_owner_user_ids()->SwapElements(0, 1);
  EXPECT_EQ(*ComputeTaskDigest(t), d);
}

// The attack: a task shown with one content and another content's digest.
// Approving that digest would approve what the participant never saw.
TEST(TaskDigestTest, AShownTaskThatDoesNotHashToItsDigestIsRefused) {
  std::vector<std::pair<std::string, std::function<void(tasks::Task&)>>> tampers = {
      {"output owner swapped", [](tasks::Task& t) { t.mutable_outputs(0)->set_owner_user_ids(1, "u-m"); }},
      {"output owner added", [](tasks::Task& t) { t.mutable_outputs(0)->add_owner_user_ids("u-m"); }},
      {"arg value", [](tasks::Task& t) { (*t.mutable_args())["n"].set_int_value(8); }},
      {"arg type", [](tasks::Task& t) { (*t.mutable_args())["n"].set_string_value("7"); }},
      {"input file", [](tasks::Task& t) { t.mutable_inputs(0)->set_file_id(std::string(32, 'e')); }},
      {"input sha", [](tasks::Task& t) { t.mutable_inputs(0)->set_ciphertext_sha256(std::string(32, 0)); }},
      {"input owner", [](tasks::Task& t) { t.mutable_inputs(0)->set_owner_user_id("u-m"); }},
      {"input unassigned", [](tasks::Task& t) { t.mutable_inputs(0)->clear_file_id(); }},
      {"function", [](tasks::Task& t) { t.set_function_hash(std::string(64, 'c')); }},
      {"slot renamed", [](tasks::Task& t) { t.mutable_outputs(0)->set_slot("out2"); }},
  };
  for (auto& [what, tamper] : tampers) {
    tasks::Task t = VectorTask();
    tamper(t);
    Status st = VerifyTaskDigest(t);
    ASSERT_FALSE(st.ok()) << what;
    EXPECT_EQ(st.error().reason(), kTaskDigestMismatch) << what;
    EXPECT_EQ(st.code(), Code::kDataLoss) << what;
  }
}

TEST(TaskDigestTest, DoublesAreEncodedAsTheServiceDoes) {
  tasks::Task a = VectorTask(), b = VectorTask();
  (*a.mutable_args())["x"].set_double_value(0.0);
  (*b.mutable_args())["x"].set_double_value(-0.0);
  EXPECT_EQ(*ComputeTaskDigest(a), *ComputeTaskDigest(b));
  (*b.mutable_args())["x"].set_double_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(ComputeTaskDigest(b).ok());
  (*b.mutable_args())["x"].Clear();  // no value at all
  EXPECT_FALSE(ComputeTaskDigest(b).ok());
}

TEST(TaskStateTest, NamesAndTheirSpellings) {
  EXPECT_EQ(TaskStateName(tasks::TASK_STATE_DATA_ASSIGNED), "DataAssigned");
  for (const char* s : {"DataAssigned", "dataassigned", "data_assigned", "DATA_ASSIGNED",
                        "TASK_STATE_DATA_ASSIGNED", "data-assigned"})
    EXPECT_EQ(*ParseTaskState(s), tasks::TASK_STATE_DATA_ASSIGNED) << s;
  EXPECT_EQ(*ParseTaskState(""), tasks::TASK_STATE_UNSPECIFIED);
  EXPECT_EQ(*ParseTaskState("any"), tasks::TASK_STATE_UNSPECIFIED);
  for (int i = 1; i <= 9; ++i) {
    auto s = static_cast<tasks::TaskState>(i);
    EXPECT_EQ(*ParseTaskState(TaskStateName(s)), s);
  }
  auto bad = ParseTaskState("finished");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason(), kStateFilterInvalid);
  EXPECT_NE(bad.error().message().find("Succeeded"), std::string::npos);
  EXPECT_TRUE(IsFinalTaskState(tasks::TASK_STATE_REJECTED));
  EXPECT_FALSE(IsFinalTaskState(tasks::TASK_STATE_RUNNING));
}

TEST(UserIdTest, OnlyTheIssuedFormIsAnId) {
  EXPECT_TRUE(LooksLikeUserId(kAlice));
  EXPECT_FALSE(LooksLikeUserId("alice"));
  EXPECT_FALSE(LooksLikeUserId("u-" + std::string(31, 'a')));
  EXPECT_FALSE(LooksLikeUserId("u-" + std::string(32, 'A')));
  EXPECT_FALSE(LooksLikeUserId("x-" + std::string(32, 'a')));
}

tasks::Task SucceededWithOutputs() {
  tasks::Task t;
  t.set_task_id(std::string(32, '2'));
  t.set_state(tasks::TASK_STATE_SUCCEEDED);
  auto* a = t.add_outputs();
  a->set_slot("result");
  a->add_owner_user_ids(kAlice);
  auto* f = a->add_files();
  f->set_owner_user_id(kAlice);
  f->set_file_id(std::string(32, 'a'));
  auto* b = t.add_outputs();
  b->set_slot("set.bob");
  b->add_owner_user_ids(kBob);
  auto* g = b->add_files();
  g->set_owner_user_id(kBob);
  g->set_file_id(std::string(32, 'b'));
  return t;
}

TEST(PlanOutputFetchTest, TheCallersOwnFilesOnePerSlot) {
  tasks::Task t = SucceededWithOutputs();
  auto plan = PlanOutputFetch(t, kAlice);
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].slot, "result");
  EXPECT_EQ((*plan)[0].file_name, "result");
  EXPECT_EQ((*plan)[0].file_id, std::string(32, 'a'));
  // Without a known caller id every listed file is taken (the service
  // lists the caller's own only), in slot order.
  auto all = PlanOutputFetch(t, "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].slot, "result");
  EXPECT_EQ((*all)[1].file_name, "set.bob");
}

// The attack: a slot name that is a path. It would write outside the
// directory the user chose (or over a file there by another name).
TEST(PlanOutputFetchTest, ASlotThatIsNotASlotNameIsNeverAFileName) {
  for (const char* slot : {"../evil", "a/b", ".", "..", "x.", ".x", "a.b.c", "", "bad\nname",
                           "/etc/passwd"}) {
    tasks::Task t = SucceededWithOutputs();
    t.mutable_outputs(0)->set_slot(slot);
    auto plan = PlanOutputFetch(t, kAlice);
    ASSERT_FALSE(plan.ok()) << slot;
    EXPECT_EQ(plan.error().reason(), kOutputSlotInvalid) << slot;
  }
}

TEST(PlanOutputFetchTest, InconsistentListingsAreRefused) {
  tasks::Task t = SucceededWithOutputs();
  auto* extra = t.mutable_outputs(0)->add_files();  // two of alice's files in one slot
  extra->set_owner_user_id(kAlice);
  extra->set_file_id(std::string(32, 'c'));
  auto plan = PlanOutputFetch(t, kAlice);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().reason(), kTaskOutputsInconsistent);

  tasks::Task u = SucceededWithOutputs();
  u.mutable_outputs(0)->mutable_files(0)->set_file_id("../../x");
  plan = PlanOutputFetch(u, kAlice);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().reason(), kTaskOutputsInconsistent);

  tasks::Task v = SucceededWithOutputs();  // the same slot listed twice
  *v.add_outputs() = v.outputs(0);
  plan = PlanOutputFetch(v, kAlice);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().reason(), kTaskOutputsInconsistent);
}

// ---- against in-process fakes ----

std::string UserOf(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return "";
  std::string v(it->second.data(), it->second.size());
  return v.rfind("Bearer ", 0) == 0 ? v.substr(7) : "";
}

grpc::Status Refuse(Error e) { return ToGrpcStatus(Status(std::move(e))); }

class FakeTasks final : public tasks::Tasks::Service {
 public:
  grpc::Status WaitTask(grpc::ServerContext*, const tasks::WaitTaskRequest* r,
                        tasks::WaitTaskResponse* resp) override {
    {
      // Nothing scripted and nothing new: a long poll that times out.
      std::unique_lock lock(mu);
      if (script.empty() && current.version() <= r->after_version()) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(r->timeout_ms(), 1000u)));
      }
    }
    std::lock_guard lock(mu);
    after_versions.push_back(r->after_version());
    if (r->task_id() != current.task_id())
      return Refuse(NotFound("no such task", "TASK_NOT_FOUND"));
    if (!script.empty()) {
      auto step = std::move(script.front());
      script.pop_front();
      if (auto* e = std::get_if<Error>(&step)) return Refuse(*e);
      current = std::get<tasks::Task>(step);
    }
    *resp->mutable_task() = current;
    resp->set_changed(current.version() > r->after_version());
    return grpc::Status::OK;
  }
  grpc::Status GetTask(grpc::ServerContext*, const tasks::GetTaskRequest* r,
                       tasks::GetTaskResponse* resp) override {
    std::lock_guard lock(mu);
    if (r->task_id() != current.task_id())
      return Refuse(NotFound("no such task", "TASK_NOT_FOUND"));
    *resp->mutable_task() = current;
    return grpc::Status::OK;
  }
  grpc::Status ApproveTask(grpc::ServerContext*, const tasks::ApproveTaskRequest* r,
                           tasks::ApproveTaskResponse*) override {
    return Refuse(FailedPrecondition("the task changed; its digest is now " + std::string(64, 'd') +
                                         " (you sent " + r->digest() + ")",
                                     "DIGEST_STALE"));
  }

  std::mutex mu;
  tasks::Task current;
  std::deque<std::variant<tasks::Task, Error>> script;
  std::vector<uint64_t> after_versions;
};

class FakeAuth final : public api::Auth::Service {
 public:
  grpc::Status LookupUsers(grpc::ServerContext* ctx, const api::LookupUsersRequest* r,
                           api::LookupUsersResponse* resp) override {
    if (UserOf(ctx).empty()) return Refuse(Unauthenticated("no credential", "UNAUTHENTICATED"));
    ++lookups;
    const std::map<std::string, std::string> users = {
        {"alice", kAlice}, {"bob", kBob}, {"admin", kAdmin}};
    for (const auto& name : r->usernames()) {
      auto it = users.find(name);
      if (it == users.end()) return Refuse(NotFound("no user named '" + name + "'", "USER_NOT_FOUND"));
      auto* u = resp->add_users();
      u->set_username(name);
      u->set_user_id(it->second);
    }
    return grpc::Status::OK;
  }
  std::atomic<int> lookups{0};
};

tasks::Task AtVersion(uint64_t v, tasks::TaskState s, std::vector<std::string> missing = {}) {
  tasks::Task t;
  t.set_task_id(std::string(32, '3'));
  t.set_version(v);
  t.set_state(s);
  for (auto& m : missing) t.add_missing(m);
  return t;
}

class TasksFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tasks-flow-" + crypto::RandomId());
    fs::create_directories(dir_);
    WriteTrust();
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&tasks_);
    b.RegisterService(&auth_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
    tasks_.current = AtVersion(1, tasks::TASK_STATE_CREATED);
  }
  void TearDown() override {
    users_.clear();
    server_->Shutdown();
    fs::remove_all(dir_);
  }

  // A level-1 trust file (plaintext, no quote to check).
  void WriteTrust() {
    attestation::testing::FakePlatform platform({"gateway"});
    ASSERT_TRUE(WriteFileAtomic(dir_ / "root.pem", platform.root().Pem(), 0644).ok());
    auto signed_manifest =
        attestation::SignManifest(platform.manifest_body(), platform.auditor_keys());
    ASSERT_TRUE(signed_manifest.ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "manifest.bin", *signed_manifest, 0644).ok());
    std::string keys;
    for (size_t i = 0; i < platform.auditor_keys().size(); ++i) {
      const std::string name = "auditor-" + std::to_string(i) + ".pub";
      ASSERT_TRUE(
          WriteFileAtomic(dir_ / name, platform.auditor_keys()[i].public_key().Pem(), 0644).ok());
      keys += (i ? ", \"" : "\"") + name + "\"";
    }
    const std::string toml =
        "[attestation]\nroot_ca = \"root.pem\"\nmanifest = \"manifest.bin\"\n"
        "auditor_keys = [" + keys + "]\nauditor_threshold = 2\nsecurity_level = 1\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "trust.toml", toml, 0644).ok());
  }

  struct User {
    std::unique_ptr<Client> client;
    std::unique_ptr<Tasks> tasks;
    std::unique_ptr<FilesClient> files;
  };
  User& Connect(const std::string& id, const std::string& username) {
    User u;
    ClientOptions o{.gateway_address = address_, .trust_path = dir_ / "trust.toml"};
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    u.client = *std::move(c);
    api::User who;
    who.set_user_id(id);
    who.set_username(username);
    u.client->Resume({.token = id, .expires_unix = std::time(nullptr) + 3600, .user = who});
    auto t = Tasks::Create(u.client.get(), o);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    u.tasks = *std::move(t);
    auto f = FilesClient::Create(u.client.get(), o);
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    u.files = *std::move(f);
    users_.push_back(std::move(u));
    return users_.back();
  }

  fs::path dir_;
  FakeTasks tasks_;
  FakeAuth auth_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::deque<User> users_;  // references stay valid as users are added
};

TEST_F(TasksFlowTest, WaitReportsEachChangeRetriesTransientRefusalsAndEndsAtAFinalState) {
  tasks_.script = {
      Error(ResourceExhausted("too many waiters", "WAITERS_EXHAUSTED")),
      AtVersion(1, tasks::TASK_STATE_CREATED, {"waiting for bob to assign slot `b`"}),
      Error(Unavailable("gateway restarting")),
      AtVersion(4, tasks::TASK_STATE_QUEUED),
      AtVersion(4, tasks::TASK_STATE_QUEUED),  // a long poll that timed out unchanged
      AtVersion(6, tasks::TASK_STATE_SUCCEEDED),
  };
  User& alice = Connect(kAlice, "alice");
  std::vector<uint64_t> seen;
  auto done = alice.tasks->Wait(tasks_.current.task_id(),
                                {.timeout = std::chrono::seconds(20),
                                 .on_change = [&](const tasks::Task& t) { seen.push_back(t.version()); },
                                 .initial_backoff = std::chrono::milliseconds(1)});
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_EQ(done->state(), tasks::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 4, 6}));
  // The cursor moves with what was seen, so no change is reported twice.
  EXPECT_EQ(tasks_.after_versions, (std::vector<uint64_t>{0, 0, 1, 1, 4, 4}));
}

TEST_F(TasksFlowTest, WaitEndsAtItsDeadlineSayingWhatIsMissing) {
  tasks_.current = AtVersion(2, tasks::TASK_STATE_DATA_ASSIGNED, {"waiting for approval from bob"});
  User& alice = Connect(kAlice, "alice");
  const auto start = std::chrono::steady_clock::now();
  auto r = alice.tasks->Wait(tasks_.current.task_id(),
                             {.timeout = std::chrono::milliseconds(300),
                              .poll = std::chrono::milliseconds(50)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), kTaskWaitTimeout);
  EXPECT_EQ(r.code(), Code::kDeadlineExceeded);
  EXPECT_NE(r.error().message().find("DataAssigned"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("waiting for approval from bob"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(TasksFlowTest, TheServersRefusalsKeepTheirReason) {
  User& alice = Connect(kAlice, "alice");
  auto w = alice.tasks->Wait(std::string(32, '9'));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().reason(), "TASK_NOT_FOUND");  // not retried, not renamed
  EXPECT_EQ(tasks_.after_versions.size(), 1u);
  auto a = alice.tasks->Approve(tasks_.current.task_id(), std::string(64, 'e'));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().reason(), "DIGEST_STALE");
  EXPECT_NE(a.error().message().find(std::string(64, 'd')), std::string::npos);
}

TEST_F(TasksFlowTest, FetchingOutputsNeedsASucceededTaskAndSafeSlots) {
  User& alice = Connect(kAlice, "alice");
  tasks_.current = AtVersion(3, tasks::TASK_STATE_FAILED);
  tasks_.current.mutable_end()->set_reason("LUA_MEMORY_LIMIT");
  auto r = alice.tasks->FetchOutputs(tasks_.current.task_id(), *alice.files, dir_ / "out");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), kTaskNotSucceeded);
  EXPECT_NE(r.error().message().find("LUA_MEMORY_LIMIT"), std::string::npos);

  // A slot that is a path is refused before anything is downloaded or
  // created (this fake has no storage: a download would be UNIMPLEMENTED).
  tasks::Task t = SucceededWithOutputs();
  t.set_task_id(tasks_.current.task_id());
  t.mutable_outputs(0)->set_slot("../escape");
  tasks_.current = t;
  r = alice.tasks->FetchOutputs(t.task_id(), *alice.files, dir_ / "out");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), kOutputSlotInvalid);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(fs::exists(dir_ / "escape"));
  auto m = alice.tasks->FetchOutputsToMemory(t.task_id(), *alice.files);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().reason(), kOutputSlotInvalid);
}

TEST_F(TasksFlowTest, UsernamesResolveThroughAuthOnceEach) {
  User& alice = Connect(kAlice, "alice");
  EXPECT_EQ(*alice.tasks->ResolveUser(kBob), kBob);      // an id is an id
  EXPECT_EQ(*alice.tasks->ResolveUser("alice"), kAlice);  // oneself, from the session
  EXPECT_EQ(auth_.lookups.load(), 0);
  EXPECT_EQ(*alice.tasks->ResolveUser("bob"), kBob);      // anyone else: Auth.LookupUsers
  EXPECT_EQ(*alice.tasks->ResolveUser("bob"), kBob);
  EXPECT_EQ(auth_.lookups.load(), 1);  // a user id never changes: asked once
  auto nobody = alice.tasks->ResolveUser("nobody");
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().reason(), "USER_NOT_FOUND");
  EXPECT_EQ(nobody.code(), Code::kNotFound);
  auto empty = alice.tasks->ResolveUser("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().reason(), kUsernameUnresolved);
}

}  // namespace
}  // namespace cloister::sdk
