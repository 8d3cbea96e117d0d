// Unit tests of TasksCore over a real SQLite file, with a fake FileLookup
// (the storage boundary) and a controlled clock: function hashes and
// versions, participants, assignment rules, the digest and its approvals,
// every transition and refusal, the version guard, the lease/fencing-token
// queue, visibility, `missing` texts, the event log, the long poll, audit.
#include "services/tasks/tasks_core.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <array>
#include <future>
#include <mutex>
#include <thread>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "services/tasks/canonical.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {

namespace fs = std::filesystem;
using services::MakeCallerForTesting;

const Caller kAlice = MakeCallerForTesting({.user_id = "u-alice", .username = "alice"});
const Caller kBob = MakeCallerForTesting({.user_id = "u-bob", .username = "bob"});
const Caller kCarol = MakeCallerForTesting({.user_id = "u-carol", .username = "carol"});
const Caller kMallory = MakeCallerForTesting({.user_id = "u-mallory", .username = "mallory"});

template <typename T>
void ExpectError(const Result<T>& r, Code code, std::string_view reason) {
  ASSERT_FALSE(r.ok()) << "expected " << reason;
  EXPECT_EQ(r.code(), code) << r.error().ToString();
  EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
}

Bytes Sha(std::string_view s) { return crypto::DigestBytes(crypto::Sha256(s)); }

tasks::FunctionSpec SumSpec() {
  tasks::FunctionSpec s;
  s.set_name("joint_sum");
  auto* a = s.add_args();
  a->set_name("column");
  a->set_type(tasks::ARG_TYPE_STRING);
  a->mutable_default_value()->set_string_value("amount");
  auto* b = s.add_args();
  b->set_name("scale");
  b->set_type(tasks::ARG_TYPE_DOUBLE);
  b->mutable_default_value()->set_double_value(1.0);
  b->mutable_min()->set_value(0);
  b->mutable_max()->set_value(10);
  auto* in = s.add_inputs();
  in->set_name("table");
  in->set_variadic(true);
  in->set_min_count(2);
  in->set_max_count(8);
  auto* out = s.add_outputs();
  out->set_name("sum");
  return s;
}

constexpr std::string_view kSumSource = "local t = cloister.args\ncloister.output('sum', 'x')\n";

class TasksCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tasks-core-" + crypto::RandomId());
    fs::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    core_.reset();
    fs::remove_all(dir_);
  }
  void Reopen(TasksOptions options = {.lease_ms = 1000, .max_attempts = 3, .backoff_ms = 100}) {
    core_.reset();
    FileLookup lookup = [this](const Caller& c, std::string_view file_id) -> Result<FileFacts> {
      std::lock_guard lock(files_mu_);
      lookups_++;
      auto it = files_.find(std::string(file_id));
      // As storage answers: absent and not-yours are the same.
      if (it == files_.end() || it->second.owner != c.user_id())
        return NotFound("no such file", reason::kFileNotFound);
      return it->second;
    };
    auto core = TasksCore::Open("sqlite://" + (dir_ / "tasks.db").string(), lookup, audit_, options,
                                [this] { return now_ms_.load(); });
    ASSERT_TRUE(core.ok()) << core.error().ToString();
    core_ = *std::move(core);
  }

  std::string AddFile(const Caller& owner, std::string content = "") {
    const std::string id = crypto::RandomId();
    std::lock_guard lock(files_mu_);
    files_[id] = {owner.user_id(), Sha(content.empty() ? id : content)};
    return id;
  }

  tasks::FunctionVersion RegisterSum(const Caller& c, bool is_public = true,
                                     std::vector<std::string> allowed = {},
                                     std::string source = std::string(kSumSource),
                                     std::string function_id = "") {
    tasks::RegisterTaskFunctionRequest r;
    r.set_kind(tasks::FUNCTION_KIND_LUA);
    r.set_lua_source(source);
    *r.mutable_spec() = SumSpec();
    r.set_public_(is_public);
    for (auto& u : allowed) r.add_allowed_users(u);
    r.set_function_id(function_id);
    auto resp = core_->RegisterTaskFunction(c, r);
    EXPECT_TRUE(resp.ok()) << resp.error().ToString();
    return resp.ok() ? resp->function() : tasks::FunctionVersion();
  }

  // A two-party task: alice and bob each own one input, alice gets the sum,
  // carol too (an output-only participant).
  tasks::CreateTaskRequest SumTask(const tasks::FunctionVersion& fn) {
    tasks::CreateTaskRequest r;
    r.set_function_hash(fn.hash());
    (*r.mutable_inputs())["table.alice"] = "u-alice";
    (*r.mutable_inputs())["table.bob"] = "u-bob";
    auto& owners = (*r.mutable_outputs())["sum"];
    owners.add_user_ids("u-alice");
    owners.add_user_ids("u-carol");
    return r;
  }

  tasks::Task Create(const Caller& c, const tasks::CreateTaskRequest& r) {
    auto t = core_->CreateTask(c, r);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? t->task() : tasks::Task();
  }

  Result<tasks::AssignInputResponse> Assign(const Caller& c, const std::string& task_id,
                                            const std::string& slot, const std::string& file_id) {
    tasks::AssignInputRequest r;
    r.set_task_id(task_id);
    r.set_slot(slot);
    r.set_file_id(file_id);
    return core_->AssignInput(c, r);
  }
  Result<tasks::ApproveTaskResponse> Approve(const Caller& c, const std::string& task_id,
                                             const std::string& digest) {
    tasks::ApproveTaskRequest r;
    r.set_task_id(task_id);
    r.set_digest(digest);
    return core_->ApproveTask(c, r);
  }
  Result<tasks::InvokeTaskResponse> Invoke(const Caller& c, const std::string& task_id) {
    tasks::InvokeTaskRequest r;
    r.set_task_id(task_id);
    return core_->InvokeTask(c, r);
  }
  Result<tasks::GetTaskResponse> Get(const Caller& c, const std::string& task_id) {
    tasks::GetTaskRequest r;
    r.set_task_id(task_id);
    return core_->GetTask(c, r);
  }
  tasks::Task MustGet(const Caller& c, const std::string& task_id) {
    auto t = Get(c, task_id);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? t->task() : tasks::Task();
  }
  Result<tasks::ClaimTaskResponse> Claim() { return core_->Claim(Worker::ForTesting(), {}); }
  Result<tasks::CompleteTaskResponse> Complete(const std::string& task_id, uint64_t token,
                                               std::map<std::string, std::string> outputs) {
    tasks::CompleteTaskRequest r;
    r.set_task_id(task_id);
    r.set_fencing_token(token);
    // `outputs` names alice's copy of each slot; every other owner gets a
    // distinct id of its own (one file per owner).
    tasks::Task t;
    for (const Caller* c : {&kAlice, &kBob, &kCarol})
      if (auto got = Get(*c, task_id); got.ok()) { t = got->task(); break; }
    int n = 0;
    for (auto& [slot, file] : outputs) {
      std::vector<std::string> owners = {"u-alice"};
      for (const auto& o : t.outputs())
        if (o.slot() == slot) owners.assign(o.owner_user_ids().begin(), o.owner_user_ids().end());
      for (const auto& owner : owners) {
        auto* c = r.add_outputs();
        c->set_slot(slot);
        c->set_owner_user_id(owner);
        c->set_file_id(owner == "u-alice" ? file : std::string(30, 'e') + std::to_string(10 + n++));
      }
    }
    return core_->Complete(Worker::ForTesting(), r);
  }
  Result<tasks::HeartbeatTaskResponse> Heartbeat(const std::string& task_id, uint64_t token) {
    tasks::HeartbeatTaskRequest r;
    r.set_task_id(task_id);
    r.set_fencing_token(token);
    return core_->Heartbeat(Worker::ForTesting(), r);
  }

  // Created, both inputs assigned: DataAssigned.
  tasks::Task AssignedSumTask() {
    if (fn_.hash().empty()) fn_ = RegisterSum(kAlice);
    tasks::Task t = Create(kAlice, SumTask(fn_));
    alice_file_ = AddFile(kAlice);
    bob_file_ = AddFile(kBob);
    EXPECT_TRUE(Assign(kAlice, t.task_id(), "table.alice", alice_file_).ok());
    auto r = Assign(kBob, t.task_id(), "table.bob", bob_file_);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->task() : tasks::Task();
  }
  // Every participant approved: Approved.
  tasks::Task ApprovedSumTask() {
    tasks::Task t = AssignedSumTask();
    for (const Caller* c : {&kAlice, &kBob, &kCarol}) {
      auto a = Approve(*c, t.task_id(), t.digest());
      EXPECT_TRUE(a.ok()) << a.error().ToString();
      if (a.ok()) t = a->task();
    }
    return t;
  }
  // Invoked and claimed: Running.
  tasks::TaskLease RunningSumTask() {
    tasks::Task t = ApprovedSumTask();
    EXPECT_TRUE(Invoke(kBob, t.task_id()).ok());
    auto c = Claim();
    EXPECT_TRUE(c.ok() && c->claimed());
    return c.ok() ? c->lease() : tasks::TaskLease();
  }

  fs::path dir_;
  std::unique_ptr<TasksCore> core_;
  services::AuditLog* audit_ = nullptr;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::mutex files_mu_;
  std::map<std::string, FileFacts> files_;
  int lookups_ = 0;
  tasks::FunctionVersion fn_;
  std::string alice_file_, bob_file_;
};

// ---- function hashes and versions ----

TEST(FunctionHashTest, StableAndChangedByEveryField) {
  const tasks::FunctionSpec base = *NormalizeLuaSpec(SumSpec());
  const std::string h = FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, base);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h, FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, base));
  // The order of arguments and slots is not meaning: sorted by name.
  tasks::FunctionSpec reordered = base;
  reordered.mutable_args()->SwapElements(0, 1);
  EXPECT_EQ(h, FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, reordered));
  // The encoding itself is pinned (the test vector of docs/tasks.md,
  // recomputed independently): a change here changes every stored hash.
  EXPECT_EQ(FunctionHash(tasks::FUNCTION_KIND_BUILTIN, "echo", tasks::FunctionSpec()),
            "344baec6a15f85ece913519b59e1ec9509e352a67587cc47364d94abbb9552cf");

  std::vector<std::pair<std::string, std::function<void(tasks::FunctionSpec&)>>> edits = {
      {"spec name", [](auto& s) { s.set_name("other"); }},
      {"arg name", [](auto& s) { s.mutable_args(0)->set_name("col"); }},
      {"arg type", [](auto& s) { s.mutable_args(1)->set_type(tasks::ARG_TYPE_INT); }},
      {"arg default", [](auto& s) { s.mutable_args(0)->mutable_default_value()->set_string_value("x"); }},
      {"arg default removed", [](auto& s) { s.mutable_args(0)->clear_default_value(); }},
      {"arg min", [](auto& s) { s.mutable_args(1)->mutable_min()->set_value(1); }},
      {"arg max removed", [](auto& s) { s.mutable_args(1)->clear_max(); }},
      {"arg help", [](auto& s) { s.mutable_args(0)->set_help("h"); }},
      {"arg added", [](auto& s) { s.add_args()->set_name("z"); }},
      {"input name", [](auto& s) { s.mutable_inputs(0)->set_name("rows"); }},
      {"input help", [](auto& s) { s.mutable_inputs(0)->set_help("h"); }},
      {"input optional", [](auto& s) { s.mutable_inputs(0)->set_optional(true); }},
      {"input variadic", [](auto& s) { s.mutable_inputs(0)->set_variadic(false); }},
      {"input min", [](auto& s) { s.mutable_inputs(0)->set_min_count(3); }},
      {"input max", [](auto& s) { s.mutable_inputs(0)->set_max_count(9); }},
      {"output name", [](auto& s) { s.mutable_outputs(0)->set_name("total"); }},
      {"output added", [](auto& s) { s.add_outputs()->set_name("log"); }},
      {"memory limit", [](auto& s) { s.mutable_limits()->set_memory_bytes(1); }},
      {"instruction limit", [](auto& s) { s.mutable_limits()->set_instructions(1); }},
      {"wall limit", [](auto& s) { s.mutable_limits()->set_wall_time_ms(1); }},
      {"output limit", [](auto& s) { s.mutable_limits()->set_output_bytes(1); }},
      {"outputs limit", [](auto& s) { s.mutable_limits()->set_max_outputs(1); }},
  };
  std::set<std::string> seen = {h};
  for (auto& [what, edit] : edits) {
    tasks::FunctionSpec s = base;
    edit(s);
    const std::string e = FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, s);
    EXPECT_NE(e, h) << what;
    EXPECT_TRUE(seen.insert(e).second) << what << " collides with another edit";
  }
  EXPECT_NE(h, FunctionHash(tasks::FUNCTION_KIND_BUILTIN, kSumSource, base)) << "kind";
  EXPECT_NE(h, FunctionHash(tasks::FUNCTION_KIND_LUA, std::string(kSumSource) + " ", base))
      << "source";
  // Length prefixes: moving a byte between two fields is a different encoding.
  tasks::FunctionSpec a = base, b = base;
  a.mutable_args(0)->set_help("ab");
  a.mutable_args(1)->set_help("");
  b.mutable_args(0)->set_help("a");
  b.mutable_args(1)->set_help("b");
  EXPECT_NE(FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, a),
            FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, b));
}

TEST(TaskDigestTest, IsTheDocumentedEncoding) {
  TaskRow t;
  t.function_hash = std::string(32, 'a') + std::string(32, 'b');
  for (size_t i = 0; i < 64; i += 2) t.function_hash.replace(i, 2, "ab");
  t.args = {{"n", int64_t{7}}, {"s", std::string("x")}};
  t.inputs["in.a"] = {"in.a", "u-a", std::string(32, 'f'), Bytes(32, 0x11)};
  t.outputs["out"] = {"out", {"u-b", "u-a"}, {}};
  // Recomputed by hand from docs/tasks.md "Encodings".
  EXPECT_EQ(TaskDigest(t), "64c40d71d774218eab918dc4240be9ee908e3c02212394a3067105983c2204d3");
  t.creator = "u-z";  // not covered
  t.approvals["u-a"] = {"u-a", "d", 1};
  EXPECT_EQ(TaskDigest(t), "64c40d71d774218eab918dc4240be9ee908e3c02212394a3067105983c2204d3");
}

TEST_F(TasksCoreTest, VersionsAreImmutableAndAnUpdateIsANewHash) {
  tasks::FunctionVersion v1 = RegisterSum(kAlice);
  EXPECT_EQ(v1.version(), 1u);
  EXPECT_EQ(v1.hash(), FunctionHash(tasks::FUNCTION_KIND_LUA, kSumSource, *NormalizeLuaSpec(SumSpec())));
  // The same content again: the stored version, unchanged.
  tasks::RegisterTaskFunctionRequest again;
  again.set_kind(tasks::FUNCTION_KIND_LUA);
  again.set_lua_source(std::string(kSumSource));
  *again.mutable_spec() = SumSpec();
  again.set_function_id(v1.function_id());
  again.set_description("a different description is not a new version");
  auto same = core_->RegisterTaskFunction(kAlice, again);
  ASSERT_TRUE(same.ok()) << same.error().ToString();
  EXPECT_FALSE(same->created());
  EXPECT_EQ(same->function().hash(), v1.hash());
  EXPECT_EQ(same->function().version(), 1u);
  // "Updating": a new version with a new hash; the old one stays as it was.
  tasks::FunctionVersion v2 =
      RegisterSum(kAlice, true, {}, std::string(kSumSource) + "-- v2\n", v1.function_id());
  EXPECT_EQ(v2.function_id(), v1.function_id());
  EXPECT_EQ(v2.version(), 2u);
  EXPECT_NE(v2.hash(), v1.hash());
  tasks::GetTaskFunctionRequest g;
  g.set_function_id(v1.function_id());
  g.set_hash(v1.hash());
  g.set_include_source(true);
  auto old = core_->GetTaskFunction(kBob, g);
  ASSERT_TRUE(old.ok()) << old.error().ToString();
  EXPECT_EQ(old->function().source(), kSumSource);
  EXPECT_EQ(old->versions_size(), 2);
  // Only the owner adds versions.
  tasks::RegisterTaskFunctionRequest steal = again;
  steal.set_lua_source("return 1");
  ExpectError(core_->RegisterTaskFunction(kBob, steal), Code::kPermissionDenied,
              reason::kNotFunctionOwner);
}

TEST_F(TasksCoreTest, BuiltinsTakeTheirSpecFromTheRegistry) {
  tasks::RegisterTaskFunctionRequest r;
  r.set_kind(tasks::FUNCTION_KIND_BUILTIN);
  r.set_builtin_name("psi");
  r.set_public_(true);
  auto psi = core_->RegisterTaskFunction(kAlice, r);
  ASSERT_TRUE(psi.ok()) << psi.error().ToString();
  EXPECT_EQ(psi->function().spec().name(), "psi");
  ASSERT_EQ(psi->function().spec().inputs_size(), 1);
  EXPECT_TRUE(psi->function().spec().inputs(0).variadic());
  EXPECT_FALSE(psi->function().description().empty());
  r.set_builtin_name("nonesuch");
  ExpectError(core_->RegisterTaskFunction(kAlice, r), Code::kInvalidArgument, reason::kBuiltinUnknown);
  r.set_builtin_name("echo");
  *r.mutable_spec() = SumSpec();
  ExpectError(core_->RegisterTaskFunction(kAlice, r), Code::kInvalidArgument, reason::kSpecInvalid);
  r.clear_spec();
  r.set_kind(tasks::FUNCTION_KIND_UNSPECIFIED);
  ExpectError(core_->RegisterTaskFunction(kAlice, r), Code::kInvalidArgument, reason::kKindInvalid);
}

TEST_F(TasksCoreTest, LargeLuaSourcesWorkUpToTheBound) {
  std::string big = std::string(kSumSource) + "--[[\n" + std::string(1536 << 10, 'x') + "\n]]\n";
  tasks::FunctionVersion v = RegisterSum(kAlice, true, {}, big);
  ASSERT_FALSE(v.hash().empty());
  EXPECT_EQ(v.source_size(), big.size());
  tasks::GetTaskFunctionRequest g;
  g.set_hash(v.hash());
  g.set_include_source(true);
  auto got = core_->GetTaskFunction(kAlice, g);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->function().source(), big);
  // Listings never carry the source.
  auto list = core_->ListTaskFunctions(kAlice, {});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->functions_size(), 1);
  EXPECT_TRUE(list->functions(0).source().empty());
  tasks::RegisterTaskFunctionRequest r;
  r.set_kind(tasks::FUNCTION_KIND_LUA);
  r.set_lua_source(std::string(kMaxSourceBytes + 1, ' '));
  *r.mutable_spec() = SumSpec();
  ExpectError(core_->RegisterTaskFunction(kAlice, r), Code::kInvalidArgument, reason::kSourceTooLarge);
  r.set_lua_source("local x = = 1");
  ExpectError(core_->RegisterTaskFunction(kAlice, r), Code::kInvalidArgument, "LUA_SYNTAX_ERROR");
  r.set_lua_source("return 1");
  r.mutable_spec()->mutable_args(0)->set_name("bad name");
  auto bad = core_->RegisterTaskFunction(kAlice, r);
  ExpectError(bad, Code::kInvalidArgument, reason::kSpecInvalid);
  EXPECT_NE(bad.error().message().find("spec.args[0].name"), std::string::npos) << bad.error().message();
}

TEST_F(TasksCoreTest, PrivateFunctionsAreUsableOnlyByOwnerAndAllowlist) {
  tasks::FunctionVersion fn = RegisterSum(kAlice, false, {"u-bob"});
  tasks::GetTaskFunctionRequest g;
  g.set_hash(fn.hash());
  ExpectError(core_->GetTaskFunction(kMallory, g), Code::kNotFound, reason::kFunctionNotFound);
  EXPECT_TRUE(core_->GetTaskFunction(kBob, g).ok());
  // The allowlist is shown to the owner only.
  EXPECT_EQ(core_->GetTaskFunction(kBob, g)->function().allowed_users_size(), 0);
  EXPECT_EQ(core_->GetTaskFunction(kAlice, g)->function().allowed_users_size(), 1);
  auto req = SumTask(fn);
  ExpectError(core_->CreateTask(kMallory, req), Code::kNotFound, reason::kFunctionNotFound);
  auto list = core_->ListTaskFunctions(kMallory, {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->functions_size(), 0);
  EXPECT_EQ(core_->ListTaskFunctions(kBob, {})->functions_size(), 1);
}

TEST_F(TasksCoreTest, DisabledVersionsCannotStartOrRun) {
  tasks::Task t = ApprovedSumTask();
  tasks::DisableTaskFunctionRequest d;
  d.set_function_id(fn_.function_id());
  ExpectError(core_->DisableTaskFunction(kBob, d), Code::kPermissionDenied, reason::kNotFunctionOwner);
  auto n = core_->DisableTaskFunction(kAlice, d);
  ASSERT_TRUE(n.ok()) << n.error().ToString();
  EXPECT_EQ(n->disabled(), 1u);
  ExpectError(core_->CreateTask(kAlice, SumTask(fn_)), Code::kFailedPrecondition,
              reason::kFunctionDisabled);
  ExpectError(Invoke(kAlice, t.task_id()), Code::kFailedPrecondition, reason::kFunctionDisabled);
}

// ---- tasks: participants, assignment, the digest ----

TEST_F(TasksCoreTest, ParticipantsAreCreatorSlotOwnersAndAPrivateFunctionsOwner) {
  tasks::FunctionVersion pub = RegisterSum(kAlice);
  tasks::CreateTaskRequest r = SumTask(pub);
  tasks::Task t = Create(kMallory, r);
  EXPECT_EQ(std::vector<std::string>(t.participants().begin(), t.participants().end()),
            (std::vector<std::string>{"u-alice", "u-bob", "u-carol", "u-mallory"}));
  // Bob creates a task of alice's private function: alice participates.
  tasks::FunctionVersion priv = RegisterSum(kAlice, false, {"u-bob"}, "return 2");
  r = SumTask(priv);
  (*r.mutable_inputs())["table.alice"] = "u-bob";
  (*r.mutable_outputs())["sum"].clear_user_ids();
  (*r.mutable_outputs())["sum"].add_user_ids("u-bob");
  t = Create(kBob, r);
  EXPECT_EQ(std::vector<std::string>(t.participants().begin(), t.participants().end()),
            (std::vector<std::string>{"u-alice", "u-bob"}));
  EXPECT_EQ(t.state(), tasks::TASK_STATE_CREATED);
}

TEST_F(TasksCoreTest, CreateChecksArgumentsAndSlotsAgainstTheSpec) {
  tasks::FunctionVersion fn = RegisterSum(kAlice);
  tasks::Task t = Create(kAlice, SumTask(fn));
  // Defaults filled in, typed.
  EXPECT_EQ(t.args().at("column").string_value(), "amount");
  EXPECT_EQ(t.args().at("scale").double_value(), 1.0);
  auto bad = [&](auto edit, std::string_view reason, std::string_view field) {
    tasks::CreateTaskRequest r = SumTask(fn);
    edit(r);
    auto c = core_->CreateTask(kAlice, r);
    ExpectError(c, Code::kInvalidArgument, reason);
    if (!c.ok()) {
      EXPECT_NE(c.error().message().find(field), std::string::npos) << c.error().message();
    }
  };
  bad([](auto& r) { (*r.mutable_args())["scale"].set_double_value(11); }, reason::kArgsInvalid, "scale");
  bad([](auto& r) { (*r.mutable_args())["nope"].set_int_value(1); }, reason::kArgsInvalid, "nope");
  bad([](auto& r) { (*r.mutable_args())["column"].set_int_value(1); }, reason::kArgsInvalid, "column");
  bad([](auto& r) { (*r.mutable_args())["column"]; }, reason::kArgsInvalid, "args[column]");
  bad([](auto& r) { r.mutable_inputs()->erase("table.bob"); }, reason::kSlotsInvalid, "table");
  bad([](auto& r) { (*r.mutable_inputs())["rows"] = "u-bob"; }, reason::kSlotsInvalid, "rows");
  bad([](auto& r) { (*r.mutable_inputs())["table.bad party"] = "u-bob"; }, reason::kSlotsInvalid,
      "inputs[table.bad party]");
  bad([](auto& r) { (*r.mutable_inputs())["table.bob"] = "service:exec"; }, reason::kUserIdInvalid,
      "inputs[table.bob]");
  bad([](auto& r) { r.mutable_outputs()->clear(); }, reason::kSlotsInvalid, "outputs");
  bad([](auto& r) { (*r.mutable_outputs())["sum"].clear_user_ids(); }, reason::kSlotsInvalid, "outputs[sum]");
  bad([](auto& r) { r.set_function_hash("abc"); }, reason::kFunctionHashInvalid, "function_hash");
  // Nothing was stored by a refusal.
  auto list = core_->ListTasks(kAlice, {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->tasks_size(), 1);
}

TEST_F(TasksCoreTest, OnlyTheSlotOwnerAssignsAndOnlyItsOwnFiles) {
  fn_ = RegisterSum(kAlice);
  tasks::Task t = Create(kAlice, SumTask(fn_));
  const std::string alice_file = AddFile(kAlice), bob_file = AddFile(kBob);
  ExpectError(Assign(kBob, t.task_id(), "table.alice", bob_file), Code::kPermissionDenied,
              reason::kNotSlotOwner);
  ExpectError(Assign(kAlice, t.task_id(), "table.alice", bob_file), Code::kNotFound,
              reason::kFileNotFound);
  ExpectError(Assign(kMallory, t.task_id(), "table.alice", AddFile(kMallory)), Code::kNotFound,
              reason::kTaskNotFound);
  ExpectError(Assign(kAlice, t.task_id(), "table.carol", alice_file), Code::kInvalidArgument,
              reason::kSlotUnknown);
  ExpectError(Assign(kAlice, t.task_id(), "table.alice", "not-a-file"), Code::kInvalidArgument,
              reason::kFileIdInvalid);
  EXPECT_EQ(MustGet(kAlice, t.task_id()).version(), 1u) << "a refusal changed the task";
  auto a = Assign(kAlice, t.task_id(), "table.alice", alice_file);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->task().state(), tasks::TASK_STATE_CREATED);
  EXPECT_NE(a->task().digest(), t.digest()) << "the assigned file is in the digest";
  auto b = Assign(kBob, t.task_id(), "table.bob", bob_file);
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  EXPECT_EQ(b->task().inputs(1).ciphertext_sha256(), std::string(AsChars(files_[bob_file].sha256)));
}

TEST_F(TasksCoreTest, TheDigestIsTheCanonicalEncodingOfWhatRuns) {
  tasks::Task t = AssignedSumTask();
  auto row = [&](auto edit) {
    TaskRow r;
    r.function_hash = fn_.hash();
    r.args = {{"column", std::string("amount")}, {"scale", 1.0}};
    r.inputs["table.alice"] = {"table.alice", "u-alice", alice_file_, files_[alice_file_].sha256};
    r.inputs["table.bob"] = {"table.bob", "u-bob", bob_file_, files_[bob_file_].sha256};
    r.outputs["sum"] = {"sum", {"u-alice", "u-carol"}, {}};
    edit(r);
    return TaskDigest(r);
  };
  EXPECT_EQ(t.digest(), row([](TaskRow&) {}));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.function_hash[0] ^= 1; }));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.args["scale"] = 2.0; }));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.args["scale"] = int64_t{1}; })) << "type is in it";
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.inputs["table.bob"].owner = "u-carol"; }));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.inputs["table.bob"].sha256[0] ^= 1; }));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.inputs["table.bob"].file_id[0] ^= 1; }));
  EXPECT_NE(t.digest(), row([](TaskRow& r) { r.outputs["sum"].owners.erase("u-carol"); }));
  // Not in it: who created it, its description, its state.
  EXPECT_EQ(t.digest(), row([](TaskRow& r) {
              r.creator = "u-x";
              r.description = "d";
              r.state = tasks::TASK_STATE_QUEUED;
            }));
}

TEST_F(TasksCoreTest, AnyChangeVoidsEveryApprovalAndAStaleDigestIsRefused) {
  tasks::Task t = AssignedSumTask();
  const std::string d1 = t.digest();
  ASSERT_TRUE(Approve(kAlice, t.task_id(), d1).ok());
  ASSERT_TRUE(Approve(kCarol, t.task_id(), d1).ok());
  EXPECT_EQ(MustGet(kAlice, t.task_id()).approvals_size(), 2);
  // Bob swaps his file: a new digest, and no approval survives.
  auto b = Assign(kBob, t.task_id(), "table.bob", AddFile(kBob));
  ASSERT_TRUE(b.ok());
  const std::string d2 = b->task().digest();
  EXPECT_NE(d2, d1);
  EXPECT_EQ(b->task().approvals_size(), 0);
  EXPECT_EQ(b->task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  auto stale = Approve(kBob, t.task_id(), d1);
  ExpectError(stale, Code::kFailedPrecondition, reason::kDigestStale);
  EXPECT_NE(stale.error().message().find(d2), std::string::npos) << stale.error().message();
  // An argument change (by the creator) voids approvals the same way.
  ASSERT_TRUE(Approve(kBob, t.task_id(), d2).ok());
  tasks::UpdateTaskRequest u;
  u.set_task_id(t.task_id());
  u.set_set_args(true);
  (*u.mutable_args())["scale"].set_double_value(2);
  ExpectError(core_->UpdateTask(kBob, u), Code::kPermissionDenied, reason::kNotCreator);
  auto up = core_->UpdateTask(kAlice, u);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  EXPECT_NE(up->task().digest(), d2);
  EXPECT_EQ(up->task().approvals_size(), 0);
  ExpectError(Approve(kBob, t.task_id(), d2), Code::kFailedPrecondition, reason::kDigestStale);
  // A new slot owner loses the old owner's file and voids approvals.
  const std::string d3 = up->task().digest();
  ASSERT_TRUE(Approve(kCarol, t.task_id(), d3).ok());
  u.Clear();
  u.set_task_id(t.task_id());
  u.set_set_inputs(true);
  (*u.mutable_inputs())["table.alice"] = "u-alice";
  (*u.mutable_inputs())["table.bob"] = "u-carol";
  up = core_->UpdateTask(kAlice, u);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  EXPECT_EQ(up->task().state(), tasks::TASK_STATE_CREATED);
  EXPECT_EQ(up->task().approvals_size(), 0);
  EXPECT_EQ(up->task().inputs(1).file_id(), "");
  // Bob is no longer a participant: the task is gone for him.
  ExpectError(Get(kBob, t.task_id()), Code::kNotFound, reason::kTaskNotFound);
}

TEST_F(TasksCoreTest, AnUpdatedFunctionNeverRunsInPlaceOfTheApprovedOne) {
  tasks::Task t = ApprovedSumTask();
  // Alice "updates" the function after everyone approved: a new version.
  tasks::FunctionVersion v2 =
      RegisterSum(kAlice, true, {}, "cloister.output('sum', 'evil')\n", fn_.function_id());
  ASSERT_NE(v2.hash(), fn_.hash());
  EXPECT_EQ(MustGet(kAlice, t.task_id()).function_hash(), fn_.hash());
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  auto c = Claim();
  ASSERT_TRUE(c.ok() && c->claimed());
  EXPECT_EQ(c->lease().function_hash(), fn_.hash());
  EXPECT_EQ(c->lease().lua_source(), kSumSource);
  EXPECT_EQ(c->lease().digest(), t.digest());
  // Moving a task to the new version is a change: approvals void.
  tasks::Task t2 = AssignedSumTask();
  for (const Caller* p : {&kAlice, &kBob, &kCarol}) ASSERT_TRUE(Approve(*p, t2.task_id(), t2.digest()).ok());
  tasks::UpdateTaskRequest u;
  u.set_task_id(t2.task_id());
  tasks::FunctionVersion v3 = RegisterSum(kAlice, true, {}, "return 3", fn_.function_id());
  u.set_function_hash(v3.hash());
  auto up = core_->UpdateTask(kAlice, u);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  EXPECT_EQ(up->task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  ExpectError(Invoke(kAlice, t2.task_id()), Code::kFailedPrecondition, reason::kApprovalsMissing);
}

// ---- the lifecycle ----

TEST_F(TasksCoreTest, InvokingBeforeEveryApprovalIsRefusedNamingWho) {
  fn_ = RegisterSum(kAlice);
  ASSERT_TRUE(core_->ListTasks(kBob, {}).ok());  // the service learns bob's name
  ASSERT_TRUE(core_->ListTasks(kCarol, {}).ok());
  tasks::Task t = Create(kAlice, SumTask(fn_));
  auto early = Invoke(kAlice, t.task_id());
  ExpectError(early, Code::kFailedPrecondition, reason::kInputsMissing);
  EXPECT_NE(early.error().message().find("waiting for bob to assign slot `table.bob`"),
            std::string::npos) << early.error().message();
  ExpectError(Approve(kAlice, t.task_id(), t.digest()), Code::kFailedPrecondition,
              reason::kInputsMissing);
  t = AssignedSumTask();
  ASSERT_TRUE(Approve(kAlice, t.task_id(), t.digest()).ok());
  ASSERT_TRUE(Approve(kBob, t.task_id(), t.digest()).ok());
  auto r = Invoke(kAlice, t.task_id());
  ExpectError(r, Code::kFailedPrecondition, reason::kApprovalsMissing);
  EXPECT_NE(r.error().message().find("waiting for approval from carol"), std::string::npos)
      << r.error().message();
  auto last = Approve(kCarol, t.task_id(), t.digest());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->task().state(), tasks::TASK_STATE_APPROVED);
  auto q = Invoke(kCarol, t.task_id());
  ASSERT_TRUE(q.ok()) << q.error().ToString();
  EXPECT_EQ(q->task().state(), tasks::TASK_STATE_QUEUED);
}

TEST_F(TasksCoreTest, MissingSaysWhatEachStepWaitsFor) {
  fn_ = RegisterSum(kAlice);
  // Bob and carol have called the service once, so their names are known.
  ASSERT_TRUE(core_->ListTasks(kBob, {}).ok());
  ASSERT_TRUE(core_->ListTasks(kCarol, {}).ok());
  tasks::Task t = Create(kAlice, SumTask(fn_));
  EXPECT_EQ(std::vector<std::string>(t.missing().begin(), t.missing().end()),
            (std::vector<std::string>{"waiting for alice to assign slot `table.alice`",
                                      "waiting for bob to assign slot `table.bob`"}));
  ASSERT_TRUE(Assign(kAlice, t.task_id(), "table.alice", AddFile(kAlice)).ok());
  t = MustGet(kCarol, t.task_id());
  EXPECT_EQ(std::vector<std::string>(t.missing().begin(), t.missing().end()),
            (std::vector<std::string>{"waiting for bob to assign slot `table.bob`"}));
  t = Assign(kBob, t.task_id(), "table.bob", AddFile(kBob))->task();
  ASSERT_TRUE(Approve(kAlice, t.task_id(), t.digest()).ok());
  t = MustGet(kAlice, t.task_id());
  EXPECT_EQ(std::vector<std::string>(t.missing().begin(), t.missing().end()),
            (std::vector<std::string>{"waiting for approval from bob", "waiting for approval from carol"}));
  // A user the service never saw is named by id.
  tasks::CreateTaskRequest r = SumTask(fn_);
  (*r.mutable_inputs())["table.bob"] = "u-dave";
  t = Create(kAlice, r);
  EXPECT_EQ(t.missing(1), "waiting for u-dave to assign slot `table.bob`");
}

TEST_F(TasksCoreTest, RejectEndsTheTaskWithWhoAndWhy) {
  tasks::Task t = AssignedSumTask();
  tasks::RejectTaskRequest r;
  r.set_task_id(t.task_id());
  r.set_reason("the scale should be 2");
  auto rej = core_->RejectTask(kCarol, r);
  ASSERT_TRUE(rej.ok()) << rej.error().ToString();
  EXPECT_EQ(rej->task().state(), tasks::TASK_STATE_REJECTED);
  EXPECT_EQ(rej->task().end().reason(), reason::kEndRejected);
  EXPECT_EQ(rej->task().end().by_user_id(), "u-carol");
  EXPECT_EQ(rej->task().end().message(), "the scale should be 2");
  ExpectError(Approve(kAlice, t.task_id(), t.digest()), Code::kFailedPrecondition, reason::kTaskFinished);
  ExpectError(Assign(kBob, t.task_id(), "table.bob", AddFile(kBob)), Code::kFailedPrecondition,
              reason::kTaskFinished);
  ExpectError(core_->RejectTask(kAlice, r), Code::kFailedPrecondition, reason::kTaskFinished);
  tasks::CancelTaskRequest c;
  c.set_task_id(t.task_id());
  ExpectError(core_->CancelTask(kAlice, c), Code::kFailedPrecondition, reason::kTaskFinished);
}

TEST_F(TasksCoreTest, RevokeBeforeItRunsEvenFromTheQueue) {
  tasks::Task t = ApprovedSumTask();
  tasks::RevokeApprovalRequest r;
  r.set_task_id(t.task_id());
  auto rev = core_->RevokeApproval(kBob, r);
  ASSERT_TRUE(rev.ok()) << rev.error().ToString();
  EXPECT_EQ(rev->task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  ExpectError(core_->RevokeApproval(kBob, r), Code::kFailedPrecondition, reason::kNotApproved);
  ASSERT_TRUE(Approve(kBob, t.task_id(), t.digest()).ok());
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  // Queued, not yet running: a revoke takes it out of the queue.
  rev = core_->RevokeApproval(kCarol, r);
  ASSERT_TRUE(rev.ok()) << rev.error().ToString();
  EXPECT_EQ(rev->task().state(), tasks::TASK_STATE_DATA_ASSIGNED);
  auto none = Claim();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->claimed());
  ASSERT_TRUE(Approve(kCarol, t.task_id(), t.digest()).ok());
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  ASSERT_TRUE(Claim()->claimed());
  ExpectError(core_->RevokeApproval(kAlice, r), Code::kFailedPrecondition, reason::kTaskRunning);
}

TEST_F(TasksCoreTest, AnyParticipantCancelsBeforeItFinishes) {
  tasks::TaskLease lease = RunningSumTask();
  tasks::CancelTaskRequest c;
  c.set_task_id(lease.task_id());
  c.set_reason("wrong data");
  auto can = core_->CancelTask(kCarol, c);
  ASSERT_TRUE(can.ok()) << can.error().ToString();
  EXPECT_EQ(can->task().state(), tasks::TASK_STATE_CANCELED);
  EXPECT_EQ(can->task().end().by_user_id(), "u-carol");
  // The worker learns it at its next heartbeat; its result is refused.
  ExpectError(Heartbeat(lease.task_id(), lease.fencing_token()), Code::kFailedPrecondition,
              reason::kTaskCanceled);
  ExpectError(Complete(lease.task_id(), lease.fencing_token(), {{"sum", AddFile(kAlice)}}),
              Code::kFailedPrecondition, reason::kTaskCanceled);
  ExpectError(core_->CancelTask(kAlice, c), Code::kFailedPrecondition, reason::kTaskFinished);
}

// An idle worker's claim is a long poll: a task invoked while it waits is
// handed to it in that same call, not at its next poll.
TEST_F(TasksCoreTest, AWaitingClaimGetsATaskInvokedDuringTheWait) {
  tasks::Task t = ApprovedSumTask();
  tasks::ClaimTaskRequest wait;
  wait.set_worker_id("w");
  wait.set_wait_ms(8000);
  auto claim = std::async(std::launch::async, [&] { return core_->Claim(Worker::ForTesting(), wait); });
  // Nothing is queued yet: the claim is still waiting.
  EXPECT_EQ(claim.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  auto got = claim.get();
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_TRUE(got->claimed());
  EXPECT_EQ(got->lease().task_id(), t.task_id());

  // With nothing to do it answers empty at its deadline; past the cap it is refused.
  tasks::ClaimTaskRequest brief;
  brief.set_wait_ms(50);
  auto empty = core_->Claim(Worker::ForTesting(), brief);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->claimed());
  tasks::ClaimTaskRequest too_long;
  too_long.set_wait_ms(10'001);
  ExpectError(core_->Claim(Worker::ForTesting(), too_long), Code::kInvalidArgument,
              reason::kTimeoutInvalid);
}

TEST_F(TasksCoreTest, StatesFollowTheLifecycleAndTheLogRecordsEachTransition) {
  fn_ = RegisterSum(kAlice);
  tasks::Task t = Create(kAlice, SumTask(fn_));
  EXPECT_EQ(t.state(), tasks::TASK_STATE_CREATED);
  EXPECT_EQ(t.version(), 1u);
  ASSERT_TRUE(Assign(kAlice, t.task_id(), "table.alice", AddFile(kAlice)).ok());
  t = Assign(kBob, t.task_id(), "table.bob", AddFile(kBob))->task();
  EXPECT_EQ(t.state(), tasks::TASK_STATE_DATA_ASSIGNED);
  for (const Caller* c : {&kAlice, &kBob, &kCarol}) t = Approve(*c, t.task_id(), t.digest())->task();
  EXPECT_EQ(t.state(), tasks::TASK_STATE_APPROVED);
  t = Invoke(kAlice, t.task_id())->task();
  EXPECT_EQ(t.state(), tasks::TASK_STATE_QUEUED);
  // Invoking twice is harmless.
  EXPECT_EQ(Invoke(kBob, t.task_id())->task().version(), t.version());
  auto claim = Claim();
  ASSERT_TRUE(claim.ok() && claim->claimed());
  EXPECT_EQ(MustGet(kAlice, t.task_id()).state(), tasks::TASK_STATE_RUNNING);
  ExpectError(Assign(kAlice, t.task_id(), "table.alice", AddFile(kAlice)), Code::kFailedPrecondition,
              reason::kTaskRunning);
  ExpectError(Invoke(kAlice, t.task_id()), Code::kFailedPrecondition, reason::kTaskRunning);
  const std::string out = AddFile(kAlice);
  ASSERT_TRUE(Complete(t.task_id(), claim->lease().fencing_token(), {{"sum", out}}).ok());
  t = MustGet(kCarol, t.task_id());
  EXPECT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(t.missing().empty());
  ASSERT_EQ(t.outputs(0).files_size(), 1);  // carol's view: her own copy only
  EXPECT_EQ(t.outputs(0).files(0).owner_user_id(), "u-carol");
  EXPECT_NE(t.outputs(0).files(0).file_id(), out);
  t = MustGet(kAlice, t.task_id());
  ASSERT_EQ(t.outputs(0).files_size(), 1);
  EXPECT_EQ(t.outputs(0).files(0).file_id(), out);
  EXPECT_EQ(t.outputs(0).files(0).owner_user_id(), "u-alice");
  // An output's file id is for its owners only.
  EXPECT_EQ(MustGet(kBob, t.task_id()).outputs(0).files_size(), 0);
  ExpectError(Invoke(kAlice, t.task_id()), Code::kFailedPrecondition, reason::kTaskFinished);
  tasks::RejectTaskRequest rej;
  rej.set_task_id(t.task_id());
  ExpectError(core_->RejectTask(kAlice, rej), Code::kFailedPrecondition, reason::kTaskFinished);

  tasks::GetTaskLogRequest lr;
  lr.set_task_id(t.task_id());
  auto log = core_->GetTaskLog(kBob, lr);
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  std::vector<std::string> events;
  for (const auto& e : log->events()) events.push_back(e.event());
  EXPECT_EQ(events, (std::vector<std::string>{"created", "assigned", "assigned", "approved",
                                              "approved", "approved", "invoked", "claimed",
                                              "succeeded"}));
  EXPECT_EQ(log->events(3).actor(), "u-alice");
  EXPECT_EQ(log->events(5).to_state(), tasks::TASK_STATE_APPROVED);
  EXPECT_EQ(log->events(7).actor(), "service:exec");
  EXPECT_EQ(log->events(8).version(), t.version());
  // Paging.
  lr.set_page_size(4);
  auto p1 = core_->GetTaskLog(kBob, lr);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->events_size(), 4);
  lr.set_page_token(p1->next_page_token());
  auto p2 = core_->GetTaskLog(kBob, lr);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->events(0).seq(), 5u);
}

TEST_F(TasksCoreTest, TheVersionGuardLetsOneOfTwoConcurrentChangesWin) {
  tasks::Task t = AssignedSumTask();
  // Two changes computed from one snapshot, straight at the store.
  auto store = TaskStore::Open("sqlite://" + (dir_ / "tasks.db").string());
  ASSERT_TRUE(store.ok());
  auto snap = (*store)->LoadTask(t.task_id());
  ASSERT_TRUE(snap.ok() && snap->has_value());
  TaskRow a = **snap, b = **snap;
  a.version++;
  a.description = "first";
  b.version++;
  b.description = "second";
  EventRow ev;
  ev.event = "test";
  ev.to = a.state;
  ASSERT_TRUE((*store)->CommitTask(a, (*snap)->version, (*snap)->state, ev).ok());
  Status lost = (*store)->CommitTask(b, (*snap)->version, (*snap)->state, ev);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), Code::kAborted);
  EXPECT_EQ(lost.error().reason(), reason::kTaskChanged);
  auto after = (*store)->LoadTask(t.task_id());
  EXPECT_EQ((*after)->description, "first");
  EXPECT_EQ((*after)->version, (*snap)->version + 1);
  EXPECT_EQ((*store)->Events(t.task_id(), 0, 100)->size(), 4u) << "the loser wrote an event";
  // The same race through the core: bob approves what he read while alice
  // swaps her file in between. Bob's approval must not land on the new content.
  tasks::Task fresh = MustGet(kBob, t.task_id());
  core_->SetBeforeCommitForTesting([&] {
    ASSERT_TRUE(Assign(kAlice, t.task_id(), "table.alice", AddFile(kAlice)).ok());
  });
  ExpectError(Approve(kBob, t.task_id(), fresh.digest()), Code::kAborted, reason::kTaskChanged);
  tasks::Task now = MustGet(kBob, t.task_id());
  EXPECT_EQ(now.approvals_size(), 0);
  EXPECT_NE(now.digest(), fresh.digest());
  ExpectError(Approve(kBob, t.task_id(), fresh.digest()), Code::kFailedPrecondition,
              reason::kDigestStale);
}

TEST_F(TasksCoreTest, ConcurrentApprovalsAllLandOrAreToldToRetry) {
  tasks::Task t = AssignedSumTask();
  std::vector<std::future<Result<tasks::ApproveTaskResponse>>> runs;
  for (const Caller* c : {&kAlice, &kBob, &kCarol})
    runs.push_back(std::async(std::launch::async, [&, c] {
      for (;;) {
        auto r = Approve(*c, t.task_id(), t.digest());
        if (r.ok() || r.error().reason() != reason::kTaskChanged) return r;
      }
    }));
  for (auto& f : runs) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(MustGet(kAlice, t.task_id()).state(), tasks::TASK_STATE_APPROVED);
}

// ---- the queue ----

TEST_F(TasksCoreTest, OnlyTheExecServicePullsWork) {
  tasks::Task t = ApprovedSumTask();
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  const Caller impostor = MakeCallerForTesting({.user_id = "service:exec"});
  for (const Caller* c : {&kAlice, &impostor}) {
    ExpectError(core_->ClaimTask(*c, {}), Code::kPermissionDenied, reason::kWorkerOnly);
    tasks::CompleteTaskRequest r;
    r.set_task_id(t.task_id());
    r.set_fencing_token(1);
    ExpectError(core_->CompleteTask(*c, r), Code::kPermissionDenied, reason::kWorkerOnly);
  }
  ExpectError(core_->HeartbeatTask(Caller::Anonymous(), {}), Code::kPermissionDenied,
              reason::kWorkerOnly);
  EXPECT_EQ(MustGet(kAlice, t.task_id()).state(), tasks::TASK_STATE_QUEUED);
  EXPECT_FALSE(Worker::FromCaller(impostor).ok());
}

TEST_F(TasksCoreTest, TheOldestQueuedTaskIsClaimedFirst) {
  tasks::Task first = ApprovedSumTask();
  tasks::Task second = ApprovedSumTask();
  ASSERT_TRUE(Invoke(kAlice, first.task_id()).ok());
  now_ms_ += 5;
  ASSERT_TRUE(Invoke(kAlice, second.task_id()).ok());
  auto a = Claim();
  auto b = Claim();
  ASSERT_TRUE(a->claimed() && b->claimed());
  EXPECT_EQ(a->lease().task_id(), first.task_id());
  EXPECT_EQ(b->lease().task_id(), second.task_id());
  EXPECT_FALSE(Claim()->claimed());
  // The lease carries what the worker needs.
  EXPECT_EQ(a->lease().attempt(), 1u);
  EXPECT_EQ(a->lease().inputs_size(), 2);
  EXPECT_EQ(a->lease().inputs(0).file_id(), MustGet(kAlice, first.task_id()).inputs(0).file_id());
  EXPECT_EQ(a->lease().outputs(0).owner_user_ids_size(), 2);
  EXPECT_EQ(a->lease().args().at("column").string_value(), "amount");
  EXPECT_EQ(a->lease().lease_expires_unix_ms(), now_ms_.load() + 1000);
}

TEST_F(TasksCoreTest, AStaleFencingTokenIsRefusedAndATaskSucceedsOnce) {
  tasks::TaskLease first = RunningSumTask();
  const std::string id = first.task_id();
  ExpectError(Heartbeat(id, first.fencing_token() + 1), Code::kFailedPrecondition, reason::kLeaseLost);
  ExpectError(Complete(id, first.fencing_token() + 1, {{"sum", AddFile(kAlice)}}),
              Code::kFailedPrecondition, reason::kLeaseLost);
  // A heartbeat extends the lease.
  now_ms_ += 900;
  auto hb = Heartbeat(id, first.fencing_token());
  ASSERT_TRUE(hb.ok()) << hb.error().ToString();
  EXPECT_EQ(hb->lease_expires_unix_ms(), now_ms_.load() + 1000);
  now_ms_ += 900;
  ASSERT_TRUE(Heartbeat(id, first.fencing_token()).ok()) << "the extended lease expired";
  // The worker goes silent: the lease expires, the task is requeued.
  now_ms_ += 1001;
  ExpectError(Heartbeat(id, first.fencing_token()), Code::kFailedPrecondition, reason::kLeaseLost);
  auto n = core_->ExpireLeases();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(MustGet(kAlice, id).state(), tasks::TASK_STATE_QUEUED);
  // Not before the backoff.
  EXPECT_FALSE(Claim()->claimed());
  now_ms_ += 100;
  auto second = Claim();
  ASSERT_TRUE(second.ok() && second->claimed());
  EXPECT_GT(second->lease().fencing_token(), first.fencing_token());
  EXPECT_EQ(second->lease().attempt(), 2u);
  // The first worker comes back with its late result: refused.
  ExpectError(Complete(id, first.fencing_token(), {{"sum", AddFile(kAlice)}}),
              Code::kFailedPrecondition, reason::kLeaseLost);
  ExpectError(Heartbeat(id, first.fencing_token()), Code::kFailedPrecondition, reason::kLeaseLost);
  const std::string out = AddFile(kAlice);
  ASSERT_TRUE(Complete(id, second->lease().fencing_token(), {{"sum", out}}).ok());
  // Once: the same token again, or any other, finds it done.
  ExpectError(Complete(id, second->lease().fencing_token(), {{"sum", AddFile(kAlice)}}),
              Code::kFailedPrecondition, reason::kLeaseLost);
  EXPECT_EQ(MustGet(kAlice, id).outputs(0).files(0).file_id(), out);
  EXPECT_EQ(core_->Counters()["succeeded"], 1u);
}

// A claim carries a grant naming exactly the task's inputs and outputs, to
// its lease's expiry; a heartbeat re-signs it to the new expiry.
TEST_F(TasksCoreTest, AClaimCarriesATaskGrantScopedToTheTaskAndItsLease) {
  std::vector<internal::TaskGrant> signed_grants;
  std::mutex mu;
  Reopen({.lease_ms = 1000, .max_attempts = 3, .backoff_ms = 100,
          .sign_task_grant = [&](internal::TaskGrant g) -> Result<std::string> {
            std::lock_guard<std::mutex> lock(mu);
            signed_grants.push_back(g);
            return "signed:" + g.SerializeAsString();
          }});
  tasks::Task t = ApprovedSumTask();
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  auto claim = Claim();
  ASSERT_TRUE(claim.ok() && claim->claimed());
  const auto& lease = claim->lease();
  ASSERT_EQ(signed_grants.size(), 1u);
  const internal::TaskGrant g = signed_grants[0];
  EXPECT_EQ(lease.task_grant(), "signed:" + g.SerializeAsString());
  EXPECT_EQ(g.task_id(), t.task_id());
  EXPECT_EQ(g.fencing_token(), lease.fencing_token());
  EXPECT_EQ(g.expires_unix_ms(), lease.lease_expires_unix_ms());
  EXPECT_EQ(g.worker_role(), "exec");
  EXPECT_EQ(g.digest(), lease.digest());
  ASSERT_EQ(g.inputs_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(g.inputs(i).file_id(), lease.inputs(i).file_id());
    EXPECT_EQ(g.inputs(i).owner_user_id(), lease.inputs(i).owner_user_id());
    EXPECT_EQ(g.inputs(i).ciphertext_sha256(), lease.inputs(i).ciphertext_sha256());
  }
  ASSERT_EQ(g.outputs_size(), 1);
  EXPECT_EQ(g.outputs(0).slot(), "sum");
  EXPECT_EQ(std::vector<std::string>(g.outputs(0).owner_user_ids().begin(),
                                     g.outputs(0).owner_user_ids().end()),
            (std::vector<std::string>{"u-alice", "u-carol"}));
  now_ms_ += 500;
  auto hb = Heartbeat(t.task_id(), lease.fencing_token());
  ASSERT_TRUE(hb.ok()) << hb.error().ToString();
  ASSERT_EQ(signed_grants.size(), 2u);
  EXPECT_EQ(signed_grants[1].expires_unix_ms(), hb->lease_expires_unix_ms());
  EXPECT_GT(hb->lease_expires_unix_ms(), lease.lease_expires_unix_ms());
  EXPECT_EQ(hb->task_grant(), "signed:" + signed_grants[1].SerializeAsString());
}

// A completion must give one file per (slot, owner): a missing owner's
// copy, an extra owner, a repeat or one file for two owners is refused and
// the task stays running.
TEST_F(TasksCoreTest, ACompletionNamesOneFilePerOutputOwner) {
  tasks::Task t = ApprovedSumTask();
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  auto claim = Claim();
  ASSERT_TRUE(claim.ok() && claim->claimed());
  const uint64_t token = claim->lease().fencing_token();
  auto complete = [&](std::vector<std::array<std::string, 3>> outs) {
    tasks::CompleteTaskRequest r;
    r.set_task_id(t.task_id());
    r.set_fencing_token(token);
    for (const auto& [slot, owner, file] : outs) {
      auto* o = r.add_outputs();
      o->set_slot(slot);
      o->set_owner_user_id(owner);
      o->set_file_id(file);
    }
    return core_->Complete(Worker::ForTesting(), r);
  };
  const std::string a(32, 'a'), c(32, 'c');
  ExpectError(complete({{"sum", "u-alice", a}}), Code::kInvalidArgument, reason::kOutputsInvalid);
  ExpectError(complete({{"sum", "u-alice", a}, {"sum", "u-carol", c}, {"sum", "u-bob", std::string(32, 'b')}}),
              Code::kInvalidArgument, reason::kOutputsInvalid);
  ExpectError(complete({{"sum", "u-alice", a}, {"sum", "u-alice", c}}), Code::kInvalidArgument,
              reason::kOutputsInvalid);
  ExpectError(complete({{"sum", "u-alice", a}, {"sum", "u-carol", a}}), Code::kInvalidArgument,
              reason::kOutputsInvalid);
  ExpectError(complete({{"sum", "u-alice", a}, {"sum", "u-carol", "not-hex"}}), Code::kInvalidArgument,
              reason::kFileIdInvalid);
  EXPECT_EQ(MustGet(kAlice, t.task_id()).state(), tasks::TASK_STATE_RUNNING);
  ASSERT_TRUE(complete({{"sum", "u-carol", c}, {"sum", "u-alice", a}}).ok());
  EXPECT_EQ(MustGet(kCarol, t.task_id()).outputs(0).files(0).file_id(), c);
  EXPECT_EQ(MustGet(kAlice, t.task_id()).outputs(0).files(0).file_id(), a);
}

TEST_F(TasksCoreTest, AnExpiredLeaseIsRetriedThenFailsAfterMaxAttempts) {
  tasks::TaskLease lease = RunningSumTask();
  const std::string id = lease.task_id();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    if (attempt > 1) {
      now_ms_ += 10'000;  // past any backoff
      auto c = Claim();
      ASSERT_TRUE(c.ok() && c->claimed()) << attempt;
      EXPECT_EQ(c->lease().attempt(), static_cast<uint32_t>(attempt));
    }
    now_ms_ += 1001;
    ASSERT_TRUE(core_->ExpireLeases().ok());
  }
  tasks::Task t = MustGet(kBob, id);
  EXPECT_EQ(t.state(), tasks::TASK_STATE_FAILED);
  EXPECT_EQ(t.end().reason(), reason::kEndAttemptsExhausted);
  EXPECT_NE(t.end().message().find("3 attempts"), std::string::npos) << t.end().message();
  EXPECT_EQ(t.attempts(), 3u);
  now_ms_ += 100'000;
  EXPECT_FALSE(Claim()->claimed());
}

TEST_F(TasksCoreTest, BackoffGrowsBetweenRetries) {
  tasks::TaskLease lease = RunningSumTask();
  now_ms_ += 1001;
  ASSERT_TRUE(core_->ExpireLeases().ok());
  now_ms_ += 99;
  EXPECT_FALSE(Claim()->claimed());
  now_ms_ += 1;
  ASSERT_TRUE(Claim()->claimed());
  now_ms_ += 1001;
  ASSERT_TRUE(core_->ExpireLeases().ok());
  now_ms_ += 199;
  EXPECT_FALSE(Claim()->claimed()) << "the second backoff is twice the first";
  now_ms_ += 1;
  EXPECT_TRUE(Claim()->claimed());
}

TEST_F(TasksCoreTest, FailRequeuesRetryableFaultsAndEndsTheRest) {
  tasks::TaskLease lease = RunningSumTask();
  tasks::FailTaskRequest f;
  f.set_task_id(lease.task_id());
  f.set_fencing_token(lease.fencing_token());
  f.set_reason("STORAGE_UNAVAILABLE");
  f.set_retryable(true);
  auto r = core_->Fail(Worker::ForTesting(), f);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state(), tasks::TASK_STATE_QUEUED);
  now_ms_ += 100;
  auto c = Claim();
  ASSERT_TRUE(c->claimed());
  f.set_fencing_token(c->lease().fencing_token());
  f.set_reason("bad reason");
  ExpectError(core_->Fail(Worker::ForTesting(), f), Code::kInvalidArgument,
              reason::kFailureReasonInvalid);
  f.set_reason("LUA_MEMORY_LIMIT");
  f.set_message("the function used more than 64 MiB");
  f.set_retryable(false);
  r = core_->Fail(Worker::ForTesting(), f);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state(), tasks::TASK_STATE_FAILED);
  tasks::Task t = MustGet(kCarol, lease.task_id());
  EXPECT_EQ(t.end().reason(), "LUA_MEMORY_LIMIT");
  EXPECT_EQ(t.end().by_user_id(), "service:exec");
}

TEST_F(TasksCoreTest, CompleteNamesExactlyTheOutputSlots) {
  tasks::TaskLease lease = RunningSumTask();
  ExpectError(Complete(lease.task_id(), lease.fencing_token(), {}), Code::kInvalidArgument,
              reason::kOutputsInvalid);
  ExpectError(Complete(lease.task_id(), lease.fencing_token(),
                       {{"sum", AddFile(kAlice)}, {"extra", AddFile(kAlice)}}),
              Code::kInvalidArgument, reason::kOutputsInvalid);
  ExpectError(Complete(lease.task_id(), lease.fencing_token(), {{"sum", "nope"}}),
              Code::kInvalidArgument, reason::kFileIdInvalid);
  EXPECT_EQ(MustGet(kAlice, lease.task_id()).state(), tasks::TASK_STATE_RUNNING);
}

// ---- visibility, listing, waiting, audit ----

TEST_F(TasksCoreTest, NonParticipantsSeeNotFoundExactlyAsForAnAbsentTask) {
  tasks::Task t = AssignedSumTask();
  const std::string absent = crypto::RandomId();
  for (const std::string& id : {t.task_id(), absent}) {
    auto g = Get(kMallory, id);
    ExpectError(g, Code::kNotFound, reason::kTaskNotFound);
    EXPECT_EQ(g.error().message(), Get(kMallory, absent).error().message());
    ExpectError(Approve(kMallory, id, t.digest()), Code::kNotFound, reason::kTaskNotFound);
    ExpectError(Invoke(kMallory, id), Code::kNotFound, reason::kTaskNotFound);
    tasks::CancelTaskRequest c;
    c.set_task_id(id);
    ExpectError(core_->CancelTask(kMallory, c), Code::kNotFound, reason::kTaskNotFound);
    tasks::RejectTaskRequest rj;
    rj.set_task_id(id);
    ExpectError(core_->RejectTask(kMallory, rj), Code::kNotFound, reason::kTaskNotFound);
    tasks::RevokeApprovalRequest rv;
    rv.set_task_id(id);
    ExpectError(core_->RevokeApproval(kMallory, rv), Code::kNotFound, reason::kTaskNotFound);
    tasks::GetTaskLogRequest l;
    l.set_task_id(id);
    ExpectError(core_->GetTaskLog(kMallory, l), Code::kNotFound, reason::kTaskNotFound);
    tasks::WaitTaskRequest w;
    w.set_task_id(id);
    w.set_timeout_ms(1);
    ExpectError(core_->WaitTask(kMallory, w), Code::kNotFound, reason::kTaskNotFound);
  }
  EXPECT_EQ(core_->ListTasks(kMallory, {})->tasks_size(), 0);
  EXPECT_EQ(MustGet(kAlice, t.task_id()).version(), t.version());
}

TEST_F(TasksCoreTest, ListTasksShowsWhereIParticipateFilteredAndPaged) {
  fn_ = RegisterSum(kAlice);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create(kAlice, SumTask(fn_)).task_id());
  tasks::CreateTaskRequest solo = SumTask(fn_);
  (*solo.mutable_inputs())["table.alice"] = "u-mallory";
  (*solo.mutable_inputs())["table.bob"] = "u-mallory";
  (*solo.mutable_outputs())["sum"].clear_user_ids();
  (*solo.mutable_outputs())["sum"].add_user_ids("u-mallory");
  Create(kMallory, solo);
  tasks::RejectTaskRequest rj;
  rj.set_task_id(ids[1]);
  ASSERT_TRUE(core_->RejectTask(kBob, rj).ok());
  tasks::ListTasksRequest r;
  r.set_page_size(2);
  std::vector<std::string> seen;
  for (;;) {
    auto page = core_->ListTasks(kCarol, r);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
    for (const auto& t : page->tasks()) seen.push_back(t.task_id());
    if (page->next_page_token().empty()) break;
    r.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
  tasks::ListTasksRequest rejected;
  rejected.set_state(tasks::TASK_STATE_REJECTED);
  auto only = core_->ListTasks(kBob, rejected);
  ASSERT_EQ(only->tasks_size(), 1);
  EXPECT_EQ(only->tasks(0).task_id(), ids[1]);
  r.set_page_token("p0x");
  ExpectError(core_->ListTasks(kBob, r), Code::kInvalidArgument, reason::kPageTokenInvalid);
}

TEST_F(TasksCoreTest, WaitTaskReturnsOnAChangeOrAtItsTimeout) {
  tasks::Task t = AssignedSumTask();
  tasks::WaitTaskRequest w;
  w.set_task_id(t.task_id());
  w.set_after_version(t.version());
  w.set_timeout_ms(50);
  auto idle = core_->WaitTask(kCarol, w);
  ASSERT_TRUE(idle.ok()) << idle.error().ToString();
  EXPECT_FALSE(idle->changed());
  w.set_timeout_ms(10'000);
  auto waiting = std::async(std::launch::async, [&] { return core_->WaitTask(kCarol, w); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Approve(kAlice, t.task_id(), t.digest()).ok());
  auto woke = waiting.get();
  ASSERT_TRUE(woke.ok()) << woke.error().ToString();
  EXPECT_TRUE(woke->changed());
  EXPECT_EQ(woke->task().approvals_size(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  w.set_timeout_ms(30'001);
  ExpectError(core_->WaitTask(kCarol, w), Code::kInvalidArgument, reason::kTimeoutInvalid);
  // A client that went away frees its slot at once.
  w.set_timeout_ms(30'000);
  w.set_after_version(100);
  auto gone = core_->WaitTask(kCarol, w, [] { return true; });
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->changed());
}

TEST_F(TasksCoreTest, BadInputNamesTheFieldAndChangesNothing) {
  tasks::Task t = AssignedSumTask();
  auto expect_field = [](const auto& r, std::string_view field) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << r.error().ToString();
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  };
  expect_field(Get(kAlice, "x"), "task_id");
  expect_field(Approve(kAlice, t.task_id(), "zz"), "digest");
  expect_field(Assign(kAlice, t.task_id(), "", alice_file_), "slot");
  expect_field(Assign(kAlice, t.task_id(), "table.alice", ""), "file_id");
  expect_field(core_->CreateTask(kAlice, {}), "function_hash");
  expect_field(core_->RegisterTaskFunction(kAlice, {}), "kind");
  expect_field(core_->GetTaskFunction(kAlice, {}), "function_id");
  expect_field(core_->DisableTaskFunction(kAlice, {}), "function_id");
  tasks::RejectTaskRequest rj;
  rj.set_task_id(t.task_id());
  rj.set_reason(std::string(2000, 'x'));
  expect_field(core_->RejectTask(kAlice, rj), "reason");
  rj.set_reason("bell\x07");
  expect_field(core_->RejectTask(kAlice, rj), "reason");
  EXPECT_EQ(MustGet(kAlice, t.task_id()).version(), t.version());
  ExpectError(core_->GetTask(Caller::Anonymous(), {}), Code::kUnauthenticated,
              reason::kUnauthenticated);
}

TEST_F(TasksCoreTest, EveryTransitionAndRefusalIsAudited) {
  const std::string log_path = (dir_ / "audit.log").string();
  auto log = services::AuditLog::Open(log_path, "tasks", SecretBytes::Random(32));
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  audit_ = log->get();
  Reopen();
  tasks::TaskLease lease = RunningSumTask();
  ASSERT_TRUE(Complete(lease.task_id(), lease.fencing_token(), {{"sum", AddFile(kAlice)}}).ok());
  ExpectError(Get(kMallory, lease.task_id()), Code::kNotFound, reason::kTaskNotFound);
  ExpectError(Approve(kBob, lease.task_id(), lease.digest()), Code::kFailedPrecondition,
              reason::kTaskFinished);
  core_.reset();
  audit_ = nullptr;
  auto text = ReadFile(log_path);
  ASSERT_TRUE(text.ok());
  for (const char* m : {"tasks.RegisterTaskFunction", "tasks.CreateTask", "tasks.AssignInput",
                        "tasks.ApproveTask", "tasks.InvokeTask", "tasks.ClaimTask",
                        "tasks.CompleteTask", "tasks.GetTask", "TASK_NOT_FOUND", "TASK_FINISHED",
                        "service:exec"})
    EXPECT_NE(text->find(m), std::string::npos) << m;
  EXPECT_EQ(text->find(lease.task_id()), std::string::npos) << "resources are HMAC'd";
  auto report = services::VerifyAuditLog(log_path);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

TEST_F(TasksCoreTest, StateSurvivesARestart) {
  tasks::Task t = ApprovedSumTask();
  ASSERT_TRUE(Invoke(kAlice, t.task_id()).ok());
  Reopen();
  auto c = Claim();
  ASSERT_TRUE(c.ok() && c->claimed());
  EXPECT_EQ(c->lease().task_id(), t.task_id());
  Reopen();
  EXPECT_EQ(MustGet(kAlice, t.task_id()).state(), tasks::TASK_STATE_RUNNING);
  ASSERT_TRUE(Complete(t.task_id(), c->lease().fencing_token(), {{"sum", AddFile(kAlice)}}).ok());
}

}  // namespace
}  // namespace cloister::tasks_service
