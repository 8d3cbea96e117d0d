// The multi-party journey in a real cluster started by the CLI (issue 13,
// must-be-trues 2–6 at the wire level; the SDK and CLI journeys are in
// cluster_task_jobs_test.cc and cluster_task_cli_test.cc): a worker in cloister-exec claims approved
// tasks, reads each input under the task grant, runs the function and
// stores one encrypted copy of each output per owner. Here: what a
// participant may and may not read, a task whose inputs changed after
// approval, Lua limit violations that fail only their task, no state
// carried from one tenant's task to the next, kill -9 of exec mid-task,
// and no plaintext on disk afterwards.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "proto/tasks.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPassword = "correct horse battery staple";

// A Lua function with typed inputs/outputs for the tests below.
tasks::FunctionSpec LuaSpec(const std::string& name, std::vector<std::string> inputs,
                            std::vector<std::string> outputs) {
  tasks::FunctionSpec s;
  s.set_name(name);
  for (const auto& i : inputs) s.add_inputs()->set_name(i);
  for (const auto& o : outputs) s.add_outputs()->set_name(o);
  return s;
}

class ClusterTasksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    // A short lease and backoff so a killed worker's task comes back fast.
    Status st = cluster_->Start([](std::string toml) {
      auto set = [&](const std::string& key, const std::string& value) {
        const size_t at = toml.find("\n" + key + " = ");
        if (at == std::string::npos) return;
        const size_t end = toml.find('\n', at + 1);
        toml.replace(at + 1, end - at - 1, key + " = " + value);
      };
      set("lease_ms", "3000");
      set("backoff_ms", "200");
      return toml;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Connect();
    ASSERT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"bank", "insurer", "mallory"}) {
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

  struct Party {
    std::string name, id;
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::FilesClient> files;
    std::string token() const { return client->session()->token; }
  };
  static Party Login(const std::string& name) {
    Party p;
    p.name = name;
    p.id = ids_[name];
    p.client = Connect();
    EXPECT_TRUE(p.client->Login(name, kPassword).ok());
    auto f = sdk::FilesClient::Create(p.client.get(), Options());
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    if (f.ok()) p.files = std::move(*f);
    return p;
  }
  static std::string Upload(Party& p, const std::string& name, const std::string& text) {
    const std::string path = cluster_->scratch() + "/" + p.name + "-" + name;
    std::ofstream(path, std::ios::binary) << text;
    auto f = p.files->Upload(path);
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    fs::remove(path);  // the marker scan below must find no plaintext copy of ours
    return f.ok() ? f->file_id() : "";
  }
  // Downloads and decrypts one of `p`'s files; the status on failure.
  static Result<std::string> Fetch(Party& p, const std::string& file_id) {
    const std::string path = cluster_->scratch() + "/fetch-" + crypto::RandomId();
    Status st = p.files->Download(file_id, path);
    if (!st.ok()) return st.error();
    auto bytes = ReadFile(path, 64u << 20);
    fs::remove(path);
    return bytes;
  }

  template <typename Resp, typename Req>
  static grpc::Status Call(const Party& p, const Req& req, Resp* resp,
                           grpc::Status (tasks::Tasks::Stub::*fn)(grpc::ClientContext*, const Req&,
                                                                   Resp*)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx.AddMetadata("authorization", "Bearer " + p.token());
    return (stub_.get()->*fn)(&ctx, req, resp);
  }

  static tasks::FunctionVersion RegisterBuiltin(const Party& p, const std::string& name) {
    tasks::RegisterTaskFunctionRequest r;
    r.set_kind(tasks::FUNCTION_KIND_BUILTIN);
    r.set_builtin_name(name);
    r.set_public_(true);
    tasks::RegisterTaskFunctionResponse resp;
    grpc::Status st = Call(p, r, &resp, &tasks::Tasks::Stub::RegisterTaskFunction);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.function();
  }
  static tasks::FunctionVersion RegisterLua(const Party& p, const std::string& source,
                                            const tasks::FunctionSpec& spec,
                                            const std::string& function_id = "") {
    tasks::RegisterTaskFunctionRequest r;
    r.set_kind(tasks::FUNCTION_KIND_LUA);
    r.set_lua_source(source);
    *r.mutable_spec() = spec;
    r.set_public_(true);
    r.set_function_id(function_id);
    tasks::RegisterTaskFunctionResponse resp;
    grpc::Status st = Call(p, r, &resp, &tasks::Tasks::Stub::RegisterTaskFunction);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.function();
  }

  // Creates a task: inputs slot → party, outputs slot → parties.
  static tasks::Task Create(const Party& creator, const tasks::FunctionVersion& fn,
                            const std::map<std::string, const Party*>& inputs,
                            const std::map<std::string, std::vector<const Party*>>& outputs,
                            const std::map<std::string, api::ArgumentValue>& args = {}) {
    tasks::CreateTaskRequest r;
    r.set_function_hash(fn.hash());
    r.set_function_id(fn.function_id());
    for (const auto& [slot, p] : inputs) (*r.mutable_inputs())[slot] = p->id;
    for (const auto& [slot, ps] : outputs)
      for (const Party* p : ps) (*r.mutable_outputs())[slot].add_user_ids(p->id);
    for (const auto& [k, v] : args) (*r.mutable_args())[k] = v;
    tasks::CreateTaskResponse resp;
    grpc::Status st = Call(creator, r, &resp, &tasks::Tasks::Stub::CreateTask);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.task();
  }
  static grpc::Status Assign(const Party& p, const std::string& task, const std::string& slot,
                             const std::string& file, tasks::Task* out = nullptr) {
    tasks::AssignInputRequest r;
    r.set_task_id(task);
    r.set_slot(slot);
    r.set_file_id(file);
    tasks::AssignInputResponse resp;
    grpc::Status st = Call(p, r, &resp, &tasks::Tasks::Stub::AssignInput);
    if (out != nullptr) *out = resp.task();
    return st;
  }
  static tasks::Task Get(const Party& p, const std::string& task) {
    tasks::GetTaskRequest r;
    r.set_task_id(task);
    tasks::GetTaskResponse resp;
    grpc::Status st = Call(p, r, &resp, &tasks::Tasks::Stub::GetTask);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.task();
  }
  static grpc::Status Approve(const Party& p, const std::string& task, const std::string& digest) {
    tasks::ApproveTaskRequest r;
    r.set_task_id(task);
    r.set_digest(digest);
    tasks::ApproveTaskResponse resp;
    return Call(p, r, &resp, &tasks::Tasks::Stub::ApproveTask);
  }
  static grpc::Status Invoke(const Party& p, const std::string& task) {
    tasks::InvokeTaskRequest r;
    r.set_task_id(task);
    tasks::InvokeTaskResponse resp;
    return Call(p, r, &resp, &tasks::Tasks::Stub::InvokeTask);
  }
  // Every participant approves the current digest, then `invoker` invokes.
  static void ApproveAllAndInvoke(const std::vector<const Party*>& parties, const Party& invoker,
                                  const std::string& task) {
    const std::string digest = Get(invoker, task).digest();
    for (const Party* p : parties) {
      grpc::Status st = Approve(*p, task, digest);
      ASSERT_TRUE(st.ok()) << p->name << ": " << st.error_message();
    }
    grpc::Status st = Invoke(invoker, task);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // Long-polls until the task ended (or 120 s passed).
  static tasks::Task WaitEnded(const Party& p, const std::string& task) {
    tasks::Task t = Get(p, task);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (t.state() != tasks::TASK_STATE_SUCCEEDED && t.state() != tasks::TASK_STATE_FAILED &&
           t.state() != tasks::TASK_STATE_CANCELED && t.state() != tasks::TASK_STATE_REJECTED &&
           std::chrono::steady_clock::now() < deadline) {
      tasks::WaitTaskRequest r;
      r.set_task_id(task);
      r.set_after_version(t.version());
      r.set_timeout_ms(10'000);
      tasks::WaitTaskResponse resp;
      grpc::Status st = Call(p, r, &resp, &tasks::Tasks::Stub::WaitTask);
      if (!st.ok()) {
        ADD_FAILURE() << st.error_message();
        break;
      }
      t = resp.task();
    }
    return t;
  }
  // `p`'s own copy of output `slot` (after success), "" if none shown.
  static std::string OutputFileOf(const tasks::Task& t, const std::string& slot) {
    for (const auto& o : t.outputs())
      if (o.slot() == slot && o.files_size() == 1) return o.files(0).file_id();
    return "";
  }
  static std::string EndReason(const tasks::Task& t) { return t.end().reason(); }

  static std::unique_ptr<ClusterFixture> cluster_;
  static std::unique_ptr<tasks::Tasks::Stub> stub_;
  static std::map<std::string, std::string> ids_;
};

std::unique_ptr<ClusterFixture> ClusterTasksTest::cluster_;
std::unique_ptr<tasks::Tasks::Stub> ClusterTasksTest::stub_;
std::map<std::string, std::string> ClusterTasksTest::ids_;

constexpr const char* kSumLua = R"lua(
local total, rows = 0, 0
for _, name in ipairs({"a", "b"}) do
  local it = cloister.csv(name)
  for row in it do
    total = total + tonumber(row.amount)
    rows = rows + 1
  end
end
cloister.output("total", string.format("rows=%d total=%d\n", rows, total))
)lua";

// Must-be-trues 2 and 5 on a two-party job: each party reads only its own
// copy of the joint output; neither can read the other's input or output,
// even knowing its file id; a non-participant sees nothing; and nothing
// either party sent or received lies in plaintext anywhere on disk.
TEST_F(ClusterTasksTest, EachPartyGetsOnlyItsOwnCopyAndNoPlaintextTouchesDisk) {
  Party bank = Login("bank"), insurer = Login("insurer"), mallory = Login("mallory");
  const std::string bank_marker = "BANKMARKER" + crypto::RandomId();
  const std::string ins_marker = "INSURERMARKER" + crypto::RandomId();
  std::string bank_csv = "id,amount,note\n", ins_csv = "id,amount,note\n";
  int64_t expect_total = 0;
  for (int i = 0; i < 200; ++i) {
    bank_csv += std::to_string(i) + "," + std::to_string(i * 3) + "," + bank_marker + "\n";
    ins_csv += std::to_string(i) + "," + std::to_string(i * 7 + 1) + "," + ins_marker + "\n";
    expect_total += i * 3 + i * 7 + 1;
  }
  const std::string bank_file = Upload(bank, "a.csv", bank_csv);
  const std::string ins_file = Upload(insurer, "b.csv", ins_csv);
  auto fn = RegisterLua(bank, kSumLua, LuaSpec("joint_sum", {"a", "b"}, {"total"}));
  ASSERT_FALSE(fn.hash().empty());
  tasks::Task t = Create(bank, fn, {{"a", &bank}, {"b", &insurer}}, {{"total", {&bank, &insurer}}});
  ASSERT_FALSE(t.task_id().empty());

  // A non-participant can neither see nor act on it.
  {
    tasks::GetTaskRequest r;
    r.set_task_id(t.task_id());
    tasks::GetTaskResponse resp;
    grpc::Status st = Call(mallory, r, &resp, &tasks::Tasks::Stub::GetTask);
    EXPECT_EQ(st.error_details(), "TASK_NOT_FOUND");
    EXPECT_EQ(Assign(mallory, t.task_id(), "a", bank_file).error_details(), "TASK_NOT_FOUND");
    EXPECT_EQ(Approve(mallory, t.task_id(), t.digest()).error_details(), "TASK_NOT_FOUND");
    EXPECT_EQ(Invoke(mallory, t.task_id()).error_details(), "TASK_NOT_FOUND");
  }
  // The insurer cannot put the bank's file into its own slot.
  EXPECT_EQ(Assign(insurer, t.task_id(), "b", bank_file).error_details(), "FILE_NOT_FOUND");
  ASSERT_TRUE(Assign(bank, t.task_id(), "a", bank_file).ok());
  ASSERT_TRUE(Assign(insurer, t.task_id(), "b", ins_file).ok());
  // Invoking before every approval is refused.
  ASSERT_TRUE(Approve(bank, t.task_id(), Get(bank, t.task_id()).digest()).ok());
  EXPECT_EQ(Invoke(bank, t.task_id()).error_details(), "APPROVALS_MISSING");
  ApproveAllAndInvoke({&insurer}, bank, t.task_id());
  t = WaitEnded(bank, t.task_id());
  ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t) << ": " << t.end().message();

  const std::string expect = "rows=400 total=" + std::to_string(expect_total) + "\n";
  const std::string bank_out = OutputFileOf(t, "total");
  const tasks::Task ti = Get(insurer, t.task_id());
  const std::string ins_out = OutputFileOf(ti, "total");
  ASSERT_FALSE(bank_out.empty() || ins_out.empty());
  EXPECT_NE(bank_out, ins_out) << "each owner has its own copy";
  auto got = Fetch(bank, bank_out);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, expect);
  got = Fetch(insurer, ins_out);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, expect);
  // Knowing an id is not enough: the other's copy, the other's input.
  for (const auto& [who, file] : std::vector<std::pair<Party*, std::string>>{
           {&insurer, bank_out}, {&bank, ins_out}, {&insurer, bank_file}, {&bank, ins_file},
           {&mallory, bank_out}, {&mallory, ins_file}}) {
    auto r = Fetch(*who, file);
    ASSERT_FALSE(r.ok()) << who->name << " read " << file;
    // The key vault refuses the key first (the ciphertext alone is useless;
    // cluster_task_refusals_test asks storage for it directly).
    EXPECT_EQ(r.code(), Code::kNotFound) << r.error().ToString();
    EXPECT_TRUE(r.error().reason() == "FILE_KEY_NOT_FOUND" || r.error().reason() == "FILE_NOT_FOUND")
        << r.error().ToString();
  }

  // Must-be-true 5: the cluster's directories hold no plaintext of either
  // party's input or of the output.
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(cluster_->home())) {
    if (!e.is_regular_file() || e.file_size() > (256u << 20)) continue;
    auto bytes = ReadFile(e.path().string(), 256u << 20);
    if (!bytes.ok()) continue;
    for (const std::string& m : {bank_marker, ins_marker, expect})
      if (bytes->find(m) != std::string::npos) hits.push_back(e.path().string());
  }
  EXPECT_TRUE(hits.empty()) << "plaintext found in " << hits.front();
}

// Must-be-true 2: a file replaced after approval, and a function "updated"
// after approval. The approved digest pins the assigned file's ciphertext
// hash and the function's version hash: reassigning voids the approvals,
// and a new version does not run in place of the approved one.
TEST_F(ClusterTasksTest, ChangesAfterApprovalVoidItAndANewVersionDoesNotRunInstead) {
  Party bank = Login("bank"), insurer = Login("insurer");
  const std::string a = Upload(bank, "va.csv", "id,amount\n1,10\n");
  const std::string b = Upload(insurer, "vb.csv", "id,amount\n1,5\n");
  auto v1 = RegisterLua(bank, kSumLua, LuaSpec("versioned_sum", {"a", "b"}, {"total"}));
  tasks::Task t = Create(bank, v1, {{"a", &bank}, {"b", &insurer}}, {{"total", {&bank}}});
  ASSERT_TRUE(Assign(bank, t.task_id(), "a", a).ok());
  ASSERT_TRUE(Assign(insurer, t.task_id(), "b", b).ok());
  const std::string digest = Get(bank, t.task_id()).digest();
  ASSERT_TRUE(Approve(bank, t.task_id(), digest).ok());
  ASSERT_TRUE(Approve(insurer, t.task_id(), digest).ok());
  // The bank swaps its input after the insurer approved: approvals void.
  const std::string a2 = Upload(bank, "va2.csv", "id,amount\n1,1000\n");
  tasks::Task changed;
  ASSERT_TRUE(Assign(bank, t.task_id(), "a", a2, &changed).ok());
  EXPECT_NE(changed.digest(), digest);
  EXPECT_EQ(changed.approvals_size(), 0);
  EXPECT_EQ(Invoke(bank, t.task_id()).error_details(), "APPROVALS_MISSING");
  EXPECT_EQ(Approve(insurer, t.task_id(), digest).error_details(), "DIGEST_STALE");
  // The bank registers a v2 that would leak the insurer's table verbatim.
  auto v2 = RegisterLua(bank, "cloister.output('total', cloister.input('b'))",
                        LuaSpec("versioned_sum", {"a", "b"}, {"total"}), v1.function_id());
  ASSERT_NE(v2.hash(), v1.hash());
  ApproveAllAndInvoke({&bank, &insurer}, bank, t.task_id());
  t = WaitEnded(bank, t.task_id());
  ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t);
  EXPECT_EQ(t.function_hash(), v1.hash());
  auto out = Fetch(bank, OutputFileOf(t, "total"));
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out, "rows=2 total=1005\n");  // v1 ran, on the reassigned file
}

// Must-be-true 4: a Lua task that breaks a limit fails that task with the
// named reason; the worker then serves the next task; and the next task
// sees nothing of the previous one (globals, registry, the string
// metatable, files).
TEST_F(ClusterTasksTest, ALuaTaskBreakingALimitFailsAloneAndLeavesNoState) {
  Party bank = Login("bank");
  const std::string in = Upload(bank, "lim.csv", "x\n1\n");
  struct Case {
    std::string source, reason;
  };
  const std::vector<Case> cases = {
      {"local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) end", "MEMORY_LIMIT_EXCEEDED"},
      {"while true do end", "INSTRUCTION_LIMIT_EXCEEDED"},
      {"cloister.output('out', string.rep('y', 1024)) for i = 1, 1e6 do "
       "cloister.output('out', string.rep('y', 65536)) end",
       "OUTPUT_LIMIT_EXCEEDED"},
      {"local x = 0 while true do x = x + 1 end", "TIME_LIMIT_EXCEEDED"},
      {"os.execute('id')", "LUA_RUNTIME_ERROR"},
      {"io.open('/etc/passwd')", "LUA_RUNTIME_ERROR"},
  };
  for (const auto& c : cases) {
    tasks::FunctionSpec spec = LuaSpec("limit_" + c.reason, {"in"}, {"out"});
    spec.mutable_limits()->set_memory_bytes(32u << 20);
    spec.mutable_limits()->set_instructions(50'000'000);
    spec.mutable_limits()->set_output_bytes(1u << 20);
    if (c.reason == "TIME_LIMIT_EXCEEDED") {
      // Instructions to spare: the wall clock is what stops it.
      spec.mutable_limits()->set_instructions(10'000'000'000ull);
      spec.mutable_limits()->set_wall_time_ms(400);
    }
    auto fn = RegisterLua(bank, c.source, spec);
    tasks::Task t = Create(bank, fn, {{"in", &bank}}, {{"out", {&bank}}});
    ASSERT_TRUE(Assign(bank, t.task_id(), "in", in).ok());
    ApproveAllAndInvoke({&bank}, bank, t.task_id());
    t = WaitEnded(bank, t.task_id());
    EXPECT_EQ(t.state(), tasks::TASK_STATE_FAILED) << c.source;
    EXPECT_EQ(EndReason(t), c.reason) << c.source << ": " << t.end().message();
    EXPECT_EQ(t.attempts(), 1u) << "a limit violation is the task's fault: no retry";
  }
  // Tenant isolation: the first task plants state everywhere a Lua program
  // can reach; the second looks for it.
  const std::string plant = R"lua(
    SECRET = "planted"
    rawset(_G, "SECRET2", "planted")
    pcall(function() getmetatable("").__index.leak = function() return "planted" end end)
    pcall(function() debug.getregistry().leak = "planted" end)
    pcall(function() package.loaded.leak = "planted" end)
    pcall(function() string.leak = "planted" end)
    cloister.output("out", "ok")
  )lua";
  const std::string probe = R"lua(
    local found = {}
    local function check(name, f)
      local ok, v = pcall(f)
      if ok and v ~= nil then found[#found + 1] = name end
    end
    check("global", function() return SECRET end)
    check("rawglobal", function() return rawget(_G, "SECRET2") end)
    check("string metatable", function() return ("").leak end)
    check("registry", function() return debug.getregistry().leak end)
    check("package", function() return package.loaded.leak end)
    check("string library", function() return string.leak end)
    cloister.output("out", #found == 0 and "clean" or table.concat(found, ","))
  )lua";
  std::vector<std::string> outs;
  for (const std::string& src : {plant, probe, probe}) {
    auto fn = RegisterLua(bank, src, LuaSpec("isolation", {"in"}, {"out"}));
    tasks::Task t = Create(bank, fn, {{"in", &bank}}, {{"out", {&bank}}});
    ASSERT_TRUE(Assign(bank, t.task_id(), "in", in).ok());
    ApproveAllAndInvoke({&bank}, bank, t.task_id());
    t = WaitEnded(bank, t.task_id());
    ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t) << ": " << t.end().message();
    auto out = Fetch(bank, OutputFileOf(t, "out"));
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    outs.push_back(*out);
  }
  EXPECT_EQ(outs, (std::vector<std::string>{"ok", "clean", "clean"}));
}

// Must-be-true 3: kill -9 of exec while it runs a task. The lease
// expires, `cluster up` restarts exec, the task is claimed again with a
// new fencing token and succeeds exactly once.
TEST_F(ClusterTasksTest, AKilledWorkersTaskIsRetriedAndSucceedsOnce) {
  Party bank = Login("bank");
  const std::string in = Upload(bank, "slow.csv", "x\n1\n");
  // Busy for a second or more, then writes: long enough to be killed mid-run.
  tasks::FunctionSpec spec = LuaSpec("slow", {"in"}, {"out"});
  spec.mutable_limits()->set_instructions(4'000'000'000ull);
  spec.mutable_limits()->set_wall_time_ms(60'000);
  auto fn = RegisterLua(bank,
                        "local x = 0\n"
                        "for i = 1, 3e8 do x = x + i end\n"
                        "cloister.output('out', 'done')\n",
                        spec);
  tasks::Task t = Create(bank, fn, {{"in", &bank}}, {{"out", {&bank}}});
  ASSERT_TRUE(Assign(bank, t.task_id(), "in", in).ok());
  ApproveAllAndInvoke({&bank}, bank, t.task_id());
  // Wait until a worker holds it, then kill the whole exec process.
  for (int i = 0; i < 200 && Get(bank, t.task_id()).state() != tasks::TASK_STATE_RUNNING; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(Get(bank, t.task_id()).state(), tasks::TASK_STATE_RUNNING);
  const int pid = cluster_->ServicePid("exec");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  RunResult up = cluster_->Cli({"cluster", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  t = WaitEnded(bank, t.task_id());
  ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t) << ": " << t.end().message();
  EXPECT_EQ(t.attempts(), 2u);
  auto out = Fetch(bank, OutputFileOf(t, "out"));
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out, "done");
  tasks::GetTaskLogRequest lr;
  lr.set_task_id(t.task_id());
  tasks::GetTaskLogResponse log;
  ASSERT_TRUE(Call(bank, lr, &log, &tasks::Tasks::Stub::GetTaskLog).ok());
  int claimed = 0, succeeded = 0, requeued = 0;
  for (const auto& e : log.events()) {
    claimed += e.event() == "claimed";
    succeeded += e.event() == "succeeded";
    requeued += e.event() == "requeued";
  }
  EXPECT_EQ(claimed, 2);
  EXPECT_EQ(requeued, 1);
  EXPECT_EQ(succeeded, 1);
}

// Must-be-true 3, the fencing token: a worker paused (SIGSTOP) past its
// lease comes back with the old token; tasks refuses its heartbeat or
// result by name (LEASE_LOST, audited), the task is claimed again with a
// new token and succeeds exactly once.
TEST_F(ClusterTasksTest, APausedWorkersLateResultIsRefusedByItsFencingToken) {
  Party bank = Login("bank");
  const std::string in = Upload(bank, "paused.csv", "x\n1\n");
  tasks::FunctionSpec spec = LuaSpec("paused", {"in"}, {"out"});
  spec.mutable_limits()->set_instructions(8'000'000'000ull);
  spec.mutable_limits()->set_wall_time_ms(120'000);
  auto fn = RegisterLua(bank,
                        "local x = 0\n"
                        "for i = 1, 4e8 do x = x + i end\n"
                        "cloister.output('out', 'once')\n",
                        spec);
  tasks::Task t = Create(bank, fn, {{"in", &bank}}, {{"out", {&bank}}});
  ASSERT_TRUE(Assign(bank, t.task_id(), "in", in).ok());
  ApproveAllAndInvoke({&bank}, bank, t.task_id());
  for (int i = 0; i < 200 && Get(bank, t.task_id()).state() != tasks::TASK_STATE_RUNNING; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(Get(bank, t.task_id()).state(), tasks::TASK_STATE_RUNNING);
  const int pid = cluster_->ServicePid("exec");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // lease_ms is 3000 in this suite's cluster.toml: well past it.
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  t = WaitEnded(bank, t.task_id());
  ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t) << ": " << t.end().message();
  EXPECT_EQ(t.attempts(), 2u);
  auto out = Fetch(bank, OutputFileOf(t, "out"));
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out, "once");
  tasks::GetTaskLogRequest lr;
  lr.set_task_id(t.task_id());
  tasks::GetTaskLogResponse log;
  ASSERT_TRUE(Call(bank, lr, &log, &tasks::Tasks::Stub::GetTaskLog).ok());
  int claimed = 0, succeeded = 0;
  for (const auto& e : log.events()) {
    claimed += e.event() == "claimed";
    succeeded += e.event() == "succeeded";
  }
  EXPECT_EQ(claimed, 2);
  EXPECT_EQ(succeeded, 1);
  // The paused worker's call with the expired token, refused and audited.
  int code = -1;
  auto audit = cluster_->CliJson({"audit", "show", "--service", "tasks"}, nullptr, &code);
  ASSERT_EQ(code, 0);
  ASSERT_TRUE(audit.is_array()) << audit.dump().substr(0, 1000);
  int late = 0;
  for (const auto& e : audit) {
    if (!e.is_object()) continue;
    const std::string m = e.value("method", "");
    late += (m == "tasks.HeartbeatTask" || m == "tasks.CompleteTask") &&
            e.value("decision", "") == "deny" &&
            e.value("reason", "") == "LEASE_LOST";
  }
  EXPECT_GE(late, 1) << "no refused late heartbeat or result in tasks' audit log";
}

// Must-be-true 3, the other services: kill -9 of tasks, storage or
// keyvault before a task is invoked and while it runs, then `cluster up`:
// the task completes, once, and nothing is lost.
TEST_F(ClusterTasksTest, KillingTasksStorageOrKeyvaultLosesNothingAndRunsOnce) {
  Party bank = Login("bank"), insurer = Login("insurer");
  const std::string a = Upload(bank, "ka.csv", "id,amount\n1,10\n2,20\n");
  const std::string b = Upload(insurer, "kb.csv", "id,amount\n1,5\n");
  tasks::FunctionSpec spec = LuaSpec("slow_sum", {"a", "b"}, {"total"});
  spec.mutable_limits()->set_instructions(4'000'000'000ull);
  spec.mutable_limits()->set_wall_time_ms(60'000);
  auto fn = RegisterLua(bank, std::string("local x = 0 for i = 1, 1e8 do x = x + i end\n") + kSumLua,
                        spec);
  auto kill = [&](const std::string& svc) {
    const int pid = cluster_->ServicePid(svc);
    ASSERT_GT(pid, 0) << svc;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  auto up = [&] {
    RunResult r = cluster_->Cli({"cluster", "up"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  };
  for (const std::string svc : {"tasks", "storage", "keyvault"}) {
    for (const bool while_running : {false, true}) {
      SCOPED_TRACE(svc + (while_running ? " while running" : " before invoke"));
      tasks::Task t = Create(bank, fn, {{"a", &bank}, {"b", &insurer}}, {{"total", {&bank, &insurer}}});
      ASSERT_TRUE(Assign(bank, t.task_id(), "a", a).ok());
      ASSERT_TRUE(Assign(insurer, t.task_id(), "b", b).ok());
      const std::string digest = Get(bank, t.task_id()).digest();
      ASSERT_TRUE(Approve(bank, t.task_id(), digest).ok());
      ASSERT_TRUE(Approve(insurer, t.task_id(), digest).ok());
      if (!while_running) {
        kill(svc);
        up();
        // The approvals survived: the task is still Approved.
        EXPECT_EQ(Get(bank, t.task_id()).state(), tasks::TASK_STATE_APPROVED);
      }
      ASSERT_TRUE(Invoke(bank, t.task_id()).ok());
      if (while_running) {
        for (int i = 0; i < 400 && Get(bank, t.task_id()).state() != tasks::TASK_STATE_RUNNING; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        kill(svc);
        up();
      }
      t = WaitEnded(bank, t.task_id());
      ASSERT_EQ(t.state(), tasks::TASK_STATE_SUCCEEDED) << EndReason(t) << ": " << t.end().message();
      auto out = Fetch(bank, OutputFileOf(t, "total"));
      ASSERT_TRUE(out.ok()) << out.error().ToString();
      EXPECT_EQ(*out, "rows=3 total=35\n");
      tasks::GetTaskLogRequest lr;
      lr.set_task_id(t.task_id());
      tasks::GetTaskLogResponse log;
      ASSERT_TRUE(Call(bank, lr, &log, &tasks::Tasks::Stub::GetTaskLog).ok());
      int succeeded = 0;
      for (const auto& e : log.events()) succeeded += e.event() == "succeeded";
      EXPECT_EQ(succeeded, 1);
    }
  }
}

}  // namespace
}  // namespace cloister::testing
