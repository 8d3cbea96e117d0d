// Issue 13, must-be-true 2, on a real cluster started by the CLI and
// driven through the C++ SDK: every refusal below comes with its stable
// reason (services/tasks/tasks_reasons.h, the key vault's and storage's)
// AND exactly one new "deny" entry with that reason, that principal and
// that method in the refusing service's audit log, read with `cloister
// audit show`. Covered: a non-participant reading, approving, assigning,
// invoking, rejecting, canceling or fetching; a participant fetching the
// other party's output copy or input file; assigning a file one does not
// own or a slot one does not own; approving or invoking too early;
// approving a stale digest; invoking after each change that voids the
// approvals (argument, input owner, output owner, assigned file, function
// version), each then running as changed once re-approved; and a function
// "updated" after approval not running in place of the approved version.
// (cluster_tasks_test covers the reassigned file and a new version at the
// wire level; here the same with the audit entry, plus the rest.)
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "proto/storage.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "sdk/tasks_client.h"
#include "services/storage/storage_reasons.h"
#include "services/tasks/tasks_reasons.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
namespace reason = tasks_service::reason;
constexpr const char* kPassword = "correct horse battery staple";
// keyvault_service::reason::kFileKeyNotFound (services/keyvault/file_keys.h,
// whose includes are the key vault's own): the one answer for a file key
// that is absent or not the caller's.
constexpr const char* kFileKeyNotFound = "FILE_KEY_NOT_FOUND";

// Sums column `amount` of inputs a and b, times argument `scale`.
constexpr const char* kSumV1 = R"lua(
local total, rows = 0, 0
for _, name in ipairs({"a", "b"}) do
  local it = cloister.csv(name)
  for row in it do
    total = total + tonumber(row.amount)
    rows = rows + 1
  end
end
cloister.output("total", string.format("v1 rows=%d total=%d\n", rows, total * cloister.args.scale))
)lua";
// The "update" its owner registers after approval: it would hand the
// insurer's whole table to every owner of the output.
constexpr const char* kLeakV2 = R"lua(
cloister.output("total", "v2 " .. cloister.input("b"))
)lua";

tasks::FunctionSpec SumSpec() {
  tasks::FunctionSpec s;
  s.set_name("scaled_sum");
  auto* scale = s.add_args();
  scale->set_name("scale");
  scale->set_type(tasks::ARG_TYPE_INT);
  scale->mutable_default_value()->set_int_value(1);
  s.add_inputs()->set_name("a");
  s.add_inputs()->set_name("b");
  s.add_outputs()->set_name("total");
  return s;
}

api::ArgumentValue Int(int64_t i) {
  api::ArgumentValue v;
  v.set_int_value(i);
  return v;
}

// One deny entry of an audit log, as `cloister audit show --json` prints it.
struct Denial {
  std::string service;    // the log: tasks, keyvault, storage
  std::string principal;  // the refused user's id
  std::string method;     // "tasks.ApproveTask", "keyvault.GetFileKey", …
  std::string reason;     // the stable reason, also the error's
};

class ClusterTaskRefusalsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = sdk::Client::Connect(Options());
    ASSERT_TRUE(admin.ok()) << admin.error().ToString();
    ASSERT_TRUE((*admin)->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"bank", "insurer", "mallory"}) {
      auto created = (*admin)->CreateUser(u, kPassword);
      ASSERT_TRUE(created.ok()) << created.error().ToString();
    }
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static sdk::ClientOptions Options() {
    return {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()};
  }

  struct Party {
    std::string name, id;
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::FilesClient> files;
    std::unique_ptr<sdk::Tasks> tasks;
  };
  static Party SignIn(const std::string& name) {
    Party p;
    p.name = name;
    auto c = sdk::Client::Connect(Options());
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    if (!c.ok()) return p;
    p.client = std::move(*c);
    auto u = p.client->Login(name, kPassword);
    EXPECT_TRUE(u.ok()) << u.error().ToString();
    if (u.ok()) p.id = u->user_id();
    auto f = sdk::FilesClient::Create(p.client.get(), Options());
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    if (f.ok()) p.files = std::move(*f);
    auto t = sdk::Tasks::Create(p.client.get(), Options());
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    if (t.ok()) p.tasks = std::move(*t);
    return p;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    bank_ = SignIn("bank");
    insurer_ = SignIn("insurer");
    mallory_ = SignIn("mallory");
    ASSERT_TRUE(bank_.tasks && insurer_.tasks && mallory_.tasks);
  }

  static std::string Upload(Party& p, const std::string& text) {
    const std::string path = cluster_->scratch() + "/up-" + crypto::RandomId();
    EXPECT_TRUE(WriteFileAtomic(path, text, 0600).ok());
    auto f = p.files->Upload(path);
    fs::remove(path);
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    return f.ok() ? f->file_id() : "";
  }
  // Downloads and decrypts one file as `p`: its text, or the refusal.
  static Result<std::string> Fetch(Party& p, const std::string& file_id) {
    const std::string path = cluster_->scratch() + "/down-" + crypto::RandomId();
    Status st = p.files->Download(file_id, path);
    if (!st.ok()) {
      EXPECT_FALSE(fs::exists(path)) << "a refused download left a file";
      // The SDK names the local output path (the caller's own, not the
      // server's text: the public-error check looks at the rest).
      return WithoutClientText(st, path).error();
    }
    auto text = ReadFile(path);
    fs::remove(path);
    return text;
  }

  // The deny entries of `d.service`'s audit log that match `d`.
  static int Denials(const Denial& d) {
    int code = -1;
    auto j = cluster_->CliJson({"audit", "show", "--service", d.service}, nullptr, &code);
    EXPECT_EQ(code, 0) << j.dump().substr(0, 2000);
    EXPECT_TRUE(j.is_array()) << j.dump().substr(0, 2000);
    if (!j.is_array()) return -1;
    int n = 0;
    for (const auto& e : j) {
      if (!e.is_object()) continue;
      n += e.value("principal", "") == d.principal && e.value("method", "") == d.method &&
           e.value("decision", "") == "deny" && e.value("reason", "") == d.reason;
    }
    return n;
  }
  // `call` must be refused with d.reason, and d.service's audit log must
  // have gained exactly one deny entry naming that principal, method and
  // reason.
  static void ExpectRefused(const std::string& what, const Denial& d,
                            const std::function<Status()>& call) {
    SCOPED_TRACE(what);
    const int before = Denials(d);
    Status st = call();
    ASSERT_FALSE(st.ok()) << what << " was allowed";
    EXPECT_EQ(st.error().reason(), d.reason) << st.error().ToString();
    EXPECT_FALSE(st.error().message().empty());
    // Issue 11: a refusal carries no internal detail.
    EXPECT_EQ(PublicErrorProblem(st), "") << what;
    EXPECT_EQ(Denials(d), before + 1)
        << "no new " << d.service << " audit entry: deny " << d.method << " " << d.reason
        << " by " << d.principal;
  }
  static Denial TasksDenial(const Party& p, const std::string& method, const std::string& why) {
    return {"tasks", p.id, "tasks." + method, why};
  }

  // A registered version of the summing function (a new version of
  // `function_id` when given).
  tasks::FunctionVersion Register(Party& owner, const std::string& source,
                                  const std::string& function_id = "") {
    auto r = owner.tasks->functions().RegisterLua(
        source, SumSpec(), {.is_public = true, .function_id = function_id});
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->function() : tasks::FunctionVersion();
  }
  // A task over `fn`: a by the bank, b by the insurer, total to both.
  tasks::Task MakeTask(const tasks::FunctionVersion& fn) {
    auto t = bank_.tasks->Create({.function_hash = fn.hash(),
                                  .function_id = fn.function_id(),
                                  .inputs = {{"a", bank_.id}, {"b", insurer_.id}},
                                  .outputs = {{"total", {bank_.id, insurer_.id}}}});
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? *t : tasks::Task();
  }
  // Assigns both inputs and has both parties approve the digest shown.
  tasks::Task AssignAndApprove(const std::string& task_id, const std::string& a,
                               const std::string& b) {
    EXPECT_TRUE(bank_.tasks->Assign(task_id, "a", a).ok());
    EXPECT_TRUE(insurer_.tasks->Assign(task_id, "b", b).ok());
    return ApproveAll(task_id);
  }
  tasks::Task ApproveAll(const std::string& task_id) {
    tasks::Task t;
    for (Party* p : {&bank_, &insurer_}) {
      auto seen = p->tasks->Get(task_id);
      EXPECT_TRUE(seen.ok()) << seen.error().ToString();
      if (!seen.ok()) return t;
      EXPECT_TRUE(sdk::VerifyTaskDigest(*seen).ok());
      auto r = p->tasks->Approve(task_id, seen->digest());
      EXPECT_TRUE(r.ok()) << p->name << ": " << r.error().ToString();
      if (r.ok()) t = *r;
    }
    EXPECT_EQ(t.state(), tasks::TASK_STATE_APPROVED);
    return t;
  }
  // Invokes (as the bank) and waits for the end; the bank's final view.
  tasks::Task InvokeAndWait(const std::string& task_id) {
    auto inv = bank_.tasks->Invoke(task_id);
    EXPECT_TRUE(inv.ok()) << inv.error().ToString();
    auto done = bank_.tasks->Wait(task_id, {.timeout = std::chrono::minutes(2)});
    EXPECT_TRUE(done.ok()) << done.error().ToString();
    if (!done.ok()) return tasks::Task();
    EXPECT_EQ(done->state(), tasks::TASK_STATE_SUCCEEDED)
        << done->end().reason() << ": " << done->end().message();
    return *done;
  }
  static std::string OwnCopy(const tasks::Task& t, const std::string& slot) {
    for (const auto& o : t.outputs())
      if (o.slot() == slot && o.files_size() == 1) return o.files(0).file_id();
    return "";
  }
  // `p`'s decrypted copy of output total ("" if it has none).
  std::string TotalOf(Party& p, const std::string& task_id) {
    auto out = p.tasks->FetchOutputsToMemory(task_id, *p.files);
    EXPECT_TRUE(out.ok()) << out.error().ToString();
    if (!out.ok() || !out->count("total")) return "";
    return out->at("total");
  }

  static std::unique_ptr<ClusterFixture> cluster_;
  Party bank_, insurer_, mallory_;
};
std::unique_ptr<ClusterFixture> ClusterTaskRefusalsTest::cluster_;

// A non-participant learns nothing of a task and can do nothing to it, and
// each attempt is refused as if the task did not exist (no probing) and
// audited; after the task ran, its outputs and inputs stay out of reach too.
TEST_F(ClusterTaskRefusalsTest, ANonParticipantIsRefusedEverythingAndEachRefusalIsAudited) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n2,20\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n");
  const std::string m = Upload(mallory_, "id,amount\n1,1000000\n");
  const auto fn = Register(bank_, kSumV1);
  const tasks::Task t = MakeTask(fn);
  ASSERT_FALSE(t.task_id().empty());
  const std::string id = t.task_id();

  // The answer for a task that does not exist, to compare with.
  auto absent = mallory_.tasks->Get(crypto::RandomId());
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(PublicErrorProblem(absent.error()), "");
  auto same_as_absent = [&](Status st) {
    if (!st.ok()) {
      EXPECT_EQ(st.error().message(), absent.error().message());
    }
    return st;
  };
  const std::string nf = reason::kTaskNotFound;
  ExpectRefused("mallory reads the task", TasksDenial(mallory_, "GetTask", nf),
                [&] { return same_as_absent(mallory_.tasks->Get(id).status()); });
  ExpectRefused("mallory reads its log", TasksDenial(mallory_, "GetTaskLog", nf),
                [&] { return mallory_.tasks->Log(id).status(); });
  ExpectRefused("mallory waits on it", TasksDenial(mallory_, "WaitTask", nf), [&] {
    return mallory_.tasks->Wait(id, {.timeout = std::chrono::seconds(5)}).status();
  });
  ExpectRefused("mallory assigns her file to the bank's slot", TasksDenial(mallory_, "AssignInput", nf),
                [&] { return same_as_absent(mallory_.tasks->Assign(id, "a", m).status()); });
  ExpectRefused("mallory approves", TasksDenial(mallory_, "ApproveTask", nf),
                [&] { return same_as_absent(mallory_.tasks->Approve(id, t.digest()).status()); });
  ExpectRefused("mallory changes it", TasksDenial(mallory_, "UpdateTask", nf), [&] {
    return mallory_.tasks->Update(id, {.args = sdk::Arguments{{"scale", Int(1000)}}}).status();
  });
  ExpectRefused("mallory rejects it", TasksDenial(mallory_, "RejectTask", nf),
                [&] { return mallory_.tasks->Reject(id, "no").status(); });
  ExpectRefused("mallory revokes", TasksDenial(mallory_, "RevokeApproval", nf),
                [&] { return mallory_.tasks->Revoke(id).status(); });
  ExpectRefused("mallory cancels it", TasksDenial(mallory_, "CancelTask", nf),
                [&] { return mallory_.tasks->Cancel(id).status(); });
  auto listed = mallory_.tasks->ListAll();
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  for (const auto& x : *listed) EXPECT_NE(x.task_id(), id) << "listed to a non-participant";

  // Nothing she tried changed the task.
  auto now = bank_.tasks->Get(id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->version(), t.version());
  EXPECT_EQ(now->state(), tasks::TASK_STATE_CREATED);

  AssignAndApprove(id, a, b);
  ExpectRefused("mallory invokes the approved task", TasksDenial(mallory_, "InvokeTask", nf),
                [&] { return same_as_absent(mallory_.tasks->Invoke(id).status()); });
  const tasks::Task done = InvokeAndWait(id);
  ASSERT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(TotalOf(bank_, id), "v1 rows=3 total=35\n");

  ExpectRefused("mallory fetches the outputs", TasksDenial(mallory_, "GetTask", nf), [&] {
    return mallory_.tasks->FetchOutputs(id, *mallory_.files, cluster_->scratch() + "/mallory")
        .status();
  });
  EXPECT_FALSE(fs::exists(cluster_->scratch() + "/mallory"));
  const std::string bank_copy = OwnCopy(done, "total");
  ASSERT_FALSE(bank_copy.empty());
  const Denial no_key{"keyvault", mallory_.id, "keyvault.GetFileKey",
                      kFileKeyNotFound};
  ExpectRefused("mallory downloads the bank's output copy by its id", no_key,
                [&] { return Fetch(mallory_, bank_copy).status(); });
  ExpectRefused("mallory downloads the insurer's input by its id", no_key,
                [&] { return Fetch(mallory_, b).status(); });
}

// A participant reads its own copy of an output and its own inputs, and
// nothing of the other party's, even knowing the file ids.
TEST_F(ClusterTaskRefusalsTest, AParticipantCannotReadTheOtherPartysOutputCopyOrInput) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n2,6\n");
  const tasks::Task t = MakeTask(Register(bank_, kSumV1));
  AssignAndApprove(t.task_id(), a, b);
  const tasks::Task done = InvokeAndWait(t.task_id());
  ASSERT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED);
  auto ins_view = insurer_.tasks->Get(t.task_id());
  ASSERT_TRUE(ins_view.ok());
  const std::string bank_copy = OwnCopy(done, "total"), ins_copy = OwnCopy(*ins_view, "total");
  ASSERT_FALSE(bank_copy.empty() || ins_copy.empty());
  ASSERT_NE(bank_copy, ins_copy);
  // Each reads its own.
  EXPECT_EQ(TotalOf(bank_, t.task_id()), "v1 rows=3 total=21\n");
  EXPECT_EQ(TotalOf(insurer_, t.task_id()), "v1 rows=3 total=21\n");
  EXPECT_TRUE(Fetch(insurer_, b).ok());

  const std::string nk = kFileKeyNotFound;
  ExpectRefused("the insurer downloads the bank's copy of the output",
                {"keyvault", insurer_.id, "keyvault.GetFileKey", nk},
                [&] { return Fetch(insurer_, bank_copy).status(); });
  ExpectRefused("the bank downloads the insurer's copy of the output",
                {"keyvault", bank_.id, "keyvault.GetFileKey", nk},
                [&] { return Fetch(bank_, ins_copy).status(); });
  ExpectRefused("the insurer downloads the bank's input",
                {"keyvault", insurer_.id, "keyvault.GetFileKey", nk},
                [&] { return Fetch(insurer_, a).status(); });
  ExpectRefused("the bank downloads the insurer's input",
                {"keyvault", bank_.id, "keyvault.GetFileKey", nk},
                [&] { return Fetch(bank_, b).status(); });
}

// Not even the ciphertext of another party's input or output copy is served
// by storage, and storage's own log records the refusal.
TEST_F(ClusterTaskRefusalsTest, StorageRefusesAndAuditsReadingAnotherPartysCiphertext) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n");
  const tasks::Task t = MakeTask(Register(bank_, kSumV1));
  AssignAndApprove(t.task_id(), a, b);
  const tasks::Task done = InvokeAndWait(t.task_id());
  ASSERT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED);

  auto trust = attestation::TrustConfig::Load(cluster_->trust_path());
  ASSERT_TRUE(trust.ok()) << trust.error().ToString();
  auto storage = filestore::Storage::NewStub(grpc::CreateChannel(
      cluster_->gateway(),
      attestation::AttestingChannelCredentials(
          std::make_shared<attestation::TrustConfig>(*std::move(trust)), {"gateway"})));
  auto raw_download = [&](const Party& p, const std::string& file_id) -> Status {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("authorization", "Bearer " + p.client->session()->token);
    filestore::DownloadRequest req;
    req.set_file_id(file_id);
    auto reader = storage->Download(&ctx, req);
    filestore::DownloadResponse msg;
    uint64_t bytes = 0;
    while (reader->Read(&msg)) bytes += msg.data().size();
    grpc::Status st = reader->Finish();
    if (st.ok()) return OkStatus();
    EXPECT_EQ(bytes, 0u) << "ciphertext served before the refusal";
    return Error(static_cast<Code>(st.error_code()), st.error_message(), st.error_details());
  };
  ASSERT_TRUE(raw_download(insurer_, b).ok());  // its own: served
  const std::string nf = storage_service::reason::kFileNotFound;
  ExpectRefused("the insurer streams the bank's input ciphertext",
                {"storage", insurer_.id, "storage.Download", nf},
                [&] { return raw_download(insurer_, a); });
  ExpectRefused("the insurer streams the bank's output copy",
                {"storage", insurer_.id, "storage.Download", nf},
                [&] { return raw_download(insurer_, OwnCopy(done, "total")); });
}

// Data goes in only by its owner, into its owner's slot, and the file must
// be the assigner's own: anything else is refused, audited, and changes
// nothing.
TEST_F(ClusterTaskRefusalsTest, AssigningAFileOneDoesNotOwnOrAnotherPartysSlotIsRefused) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n");
  const tasks::Task t = MakeTask(Register(bank_, kSumV1));
  const std::string id = t.task_id();
  ExpectRefused("the insurer assigns the bank's file to its own slot",
                TasksDenial(insurer_, "AssignInput", reason::kFileNotFound),
                [&] { return insurer_.tasks->Assign(id, "b", a).status(); });
  ExpectRefused("the insurer assigns a file id nobody has",
                TasksDenial(insurer_, "AssignInput", reason::kFileNotFound),
                [&] { return insurer_.tasks->Assign(id, "b", crypto::RandomId()).status(); });
  ExpectRefused("the insurer assigns its own file to the bank's slot",
                TasksDenial(insurer_, "AssignInput", reason::kNotSlotOwner),
                [&] { return insurer_.tasks->Assign(id, "a", b).status(); });
  ExpectRefused("the bank assigns its file to the insurer's slot",
                TasksDenial(bank_, "AssignInput", reason::kNotSlotOwner),
                [&] { return bank_.tasks->Assign(id, "b", a).status(); });
  auto now = bank_.tasks->Get(id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->version(), t.version());
  for (const auto& in : now->inputs()) EXPECT_TRUE(in.file_id().empty()) << in.slot();
}

// Too early: approving before the inputs are in, invoking before every
// participant approved, and approving a digest that is not the current one.
TEST_F(ClusterTaskRefusalsTest, ApprovingOrInvokingTooEarlyOrAStaleDigestIsRefused) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n");
  const tasks::Task t = MakeTask(Register(bank_, kSumV1));
  const std::string id = t.task_id();
  ExpectRefused("the bank approves before the inputs are assigned",
                TasksDenial(bank_, "ApproveTask", reason::kInputsMissing),
                [&] { return bank_.tasks->Approve(id, t.digest()).status(); });
  ExpectRefused("the bank invokes before the inputs are assigned",
                TasksDenial(bank_, "InvokeTask", reason::kInputsMissing),
                [&] { return bank_.tasks->Invoke(id).status(); });
  ASSERT_TRUE(bank_.tasks->Assign(id, "a", a).ok());
  ASSERT_TRUE(insurer_.tasks->Assign(id, "b", b).ok());
  auto seen = bank_.tasks->Get(id);
  ASSERT_TRUE(seen.ok());
  ExpectRefused("the bank invokes with no approval",
                TasksDenial(bank_, "InvokeTask", reason::kApprovalsMissing),
                [&] { return bank_.tasks->Invoke(id).status(); });
  ASSERT_TRUE(bank_.tasks->Approve(id, seen->digest()).ok());
  ExpectRefused("the bank invokes with its own approval only",
                TasksDenial(bank_, "InvokeTask", reason::kApprovalsMissing),
                [&] { return bank_.tasks->Invoke(id).status(); });
  // The digest from before the assignments no longer describes the task.
  ExpectRefused("the insurer approves the digest of the unassigned task",
                TasksDenial(insurer_, "ApproveTask", reason::kDigestStale),
                [&] { return insurer_.tasks->Approve(id, t.digest()).status(); });
  auto still = bank_.tasks->Get(id);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->state(), tasks::TASK_STATE_DATA_ASSIGNED);
  EXPECT_EQ(still->approvals_size(), 1);
  bool waits_for_insurer = false;
  for (const auto& m : still->missing())
    waits_for_insurer = waits_for_insurer || m.find("approval") != std::string::npos;
  EXPECT_TRUE(waits_for_insurer) << "`missing` should say an approval is awaited";
}

// Every change of what would run voids every approval: after each one the
// old digest is stale and invoking is refused (both audited); once both
// parties approve the new digest, the task runs as changed.
TEST_F(ClusterTaskRefusalsTest, InvokingAfterEachVoidingChangeIsRefusedUntilReapproved) {
  const std::string a = Upload(bank_, "id,amount\n1,10\n2,20\n");
  const std::string a2 = Upload(bank_, "id,amount\n1,1000\n");
  const std::string b = Upload(insurer_, "id,amount\n1,5\n");
  const std::string bank_b = Upload(bank_, "id,amount\n1,7\n");
  const auto v1 = Register(bank_, kSumV1);
  // v2 of the same function: the same sum, labelled, so a run shows which.
  std::string v2_source = kSumV1;
  v2_source.replace(v2_source.find("\"v1 "), 4, "\"v2 ");
  const auto v2 = Register(bank_, v2_source, v1.function_id());
  ASSERT_NE(v1.hash(), v2.hash());

  struct Change {
    std::string name;
    std::function<Status(const std::string& task)> apply;
    const char* invoke_reason;  // INPUTS_MISSING when the change unassigned an input
    std::function<void(const std::string& task)> complete;  // after the change, before re-approval
    std::string bank_total, insurer_total;  // what each then receives ("": nothing)
  };
  const std::vector<Change> changes = {
      {"an argument",
       [&](const std::string& task) {
         return bank_.tasks->Update(task, {.args = sdk::Arguments{{"scale", Int(3)}}}).status();
       },
       reason::kApprovalsMissing, nullptr, "v1 rows=3 total=105\n", "v1 rows=3 total=105\n"},
      {"an input slot's owner",
       [&](const std::string& task) {
         return bank_.tasks
             ->Update(task, {.inputs = sdk::InputOwners{{"a", bank_.id}, {"b", bank_.id}}})
             .status();
       },
       reason::kInputsMissing,
       [&](const std::string& task) { ASSERT_TRUE(bank_.tasks->Assign(task, "b", bank_b).ok()); },
       "v1 rows=3 total=37\n", "v1 rows=3 total=37\n"},
      {"an output's owners",
       [&](const std::string& task) {
         return bank_.tasks->Update(task, {.outputs = sdk::OutputOwners{{"total", {bank_.id}}}})
             .status();
       },
       reason::kApprovalsMissing, nullptr, "v1 rows=3 total=35\n", ""},
      {"an assigned file",
       [&](const std::string& task) { return bank_.tasks->Assign(task, "a", a2).status(); },
       reason::kApprovalsMissing, nullptr, "v1 rows=2 total=1005\n", "v1 rows=2 total=1005\n"},
      {"the function version",
       [&](const std::string& task) {
         return bank_.tasks->Update(task, {.function_hash = v2.hash()}).status();
       },
       reason::kApprovalsMissing, nullptr, "v2 rows=3 total=35\n", "v2 rows=3 total=35\n"},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE("changing " + c.name);
    const tasks::Task t = MakeTask(v1);
    const tasks::Task approved = AssignAndApprove(t.task_id(), a, b);
    ASSERT_EQ(approved.state(), tasks::TASK_STATE_APPROVED);
    const std::string old_digest = approved.digest();

    Status st = c.apply(t.task_id());
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto changed = bank_.tasks->Get(t.task_id());
    ASSERT_TRUE(changed.ok());
    EXPECT_NE(changed->digest(), old_digest);
    EXPECT_EQ(changed->approvals_size(), 0) << "a change must void every approval";
    EXPECT_NE(changed->state(), tasks::TASK_STATE_APPROVED);
    EXPECT_TRUE(sdk::VerifyTaskDigest(*changed).ok());
    ExpectRefused("invoking after changing " + c.name,
                  TasksDenial(bank_, "InvokeTask", c.invoke_reason),
                  [&] { return bank_.tasks->Invoke(t.task_id()).status(); });
    if (c.complete) c.complete(t.task_id());
    ExpectRefused("approving the digest from before the change",
                  TasksDenial(insurer_, "ApproveTask", reason::kDigestStale),
                  [&] { return insurer_.tasks->Approve(t.task_id(), old_digest).status(); });

    ApproveAll(t.task_id());
    const tasks::Task done = InvokeAndWait(t.task_id());
    ASSERT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(TotalOf(bank_, t.task_id()), c.bank_total);
    EXPECT_EQ(TotalOf(insurer_, t.task_id()), c.insurer_total);
  }
  // Only the creator changes a task; the insurer's attempt changes nothing.
  const tasks::Task t = MakeTask(v1);
  ExpectRefused("the insurer changes the bank's task",
                TasksDenial(insurer_, "UpdateTask", reason::kNotCreator), [&] {
                  return insurer_.tasks->Update(t.task_id(), {.args = sdk::Arguments{{"scale", Int(9)}}})
                      .status();
                });
}

// The owner registers a new version after both approved: the task still
// pins and runs the approved version (no re-approval was asked or needed,
// and the new one leaks the insurer's table); the log says what ran.
TEST_F(ClusterTaskRefusalsTest, AFunctionUpdatedAfterApprovalDoesNotRunInItsPlace) {
  const std::string marker = "INSURERROW" + crypto::RandomId();
  const std::string a = Upload(bank_, "id,amount\n1,10\n");
  const std::string b = Upload(insurer_, "id,amount,note\n1,5," + marker + "\n");
  const auto v1 = Register(bank_, kSumV1);
  const tasks::Task t = MakeTask(v1);
  const tasks::Task approved = AssignAndApprove(t.task_id(), a, b);
  ASSERT_EQ(approved.state(), tasks::TASK_STATE_APPROVED);

  const auto v2 = Register(bank_, kLeakV2, v1.function_id());
  ASSERT_NE(v2.hash(), v1.hash());
  auto latest = bank_.tasks->functions().Get(v1.function_id());
  ASSERT_TRUE(latest.ok()) << latest.error().ToString();
  EXPECT_EQ(latest->function().hash(), v2.hash()) << "v2 is the function's latest version";
  auto unchanged = insurer_.tasks->Get(t.task_id());
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->function_hash(), v1.hash());
  EXPECT_EQ(unchanged->digest(), approved.digest());
  EXPECT_EQ(unchanged->state(), tasks::TASK_STATE_APPROVED);

  const tasks::Task done = InvokeAndWait(t.task_id());
  ASSERT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(done.function_hash(), v1.hash());
  const std::string got = TotalOf(bank_, t.task_id());
  EXPECT_EQ(got, "v1 rows=2 total=15\n");
  EXPECT_EQ(got.find(marker), std::string::npos) << "the new version ran";
  auto log = insurer_.tasks->Log(t.task_id());
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  std::set<std::string> events;
  for (const auto& e : *log) {
    events.insert(e.event());
    EXPECT_EQ(e.detail().find(v2.hash()), std::string::npos) << e.event() << ": " << e.detail();
  }
  EXPECT_FALSE(events.count("updated"));
  EXPECT_TRUE(events.count("succeeded"));
  // Once it ended nothing more moves it.
  ExpectRefused("the bank moves the finished task to v2",
                TasksDenial(bank_, "UpdateTask", reason::kTaskFinished),
                [&] { return bank_.tasks->Update(t.task_id(), {.function_hash = v2.hash()}).status(); });
  ExpectRefused("the insurer approves the finished task again",
                TasksDenial(insurer_, "ApproveTask", reason::kTaskFinished),
                [&] { return insurer_.tasks->Approve(t.task_id(), done.digest()).status(); });
}

}  // namespace
}  // namespace cloister::testing
