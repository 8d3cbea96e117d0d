// Issue 13, must-be-true 1 through the C++ SDK: the demo's three jobs on a
// real cluster started by the CLI, two parties (a bank and an insurer)
// each uploading its own CSV files with FilesClient and driving every step
// with sdk::Functions / sdk::Tasks. Each party's outputs are checked
// against an answer computed here: (1) the built-in psi against a
// brute-force intersection, each party receiving only its own view; (2)
// the demo's Lua joint aggregate (examples/lua/joint_stats.lua, as
// scripts/demo and cluster_task_cli_test register it) against a reference
// computed in C++; (3)
// gbdt_train by the bank, then gbdt_predict of the bank's model on the
// insurer's features, the predictions (to the insurer only) equal to a
// local run of functions/gbdt's predictor on the same model.
// Suite TwoPartyJourneyExample runs examples/sdk/two_party_journey.cc, the
// same journey as a program, against its own cluster and checks what it
// wrote (its own ctest, two_party_journey_example).
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "functions/gbdt/dense_matrix.h"
#include "functions/gbdt/model.h"
#include "functions/gbdt/predictor.h"
#include "functions/lua/spec_json.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "sdk/tasks_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPassword = "correct horse battery staple";

// ---- the two parties' data and the answers expected from it ----

// Exactly representable as a float, so the CSV text, the service's parse
// and the local matrix hold the same number.
std::string Num(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

struct Applicant {
  double age, income, debt_ratio;  // NaN: missing
};

struct JourneyData {
  // The bank: accounts customer_id,region,balance (one row per customer)
  // and training data age,income,debt_ratio,defaulted.
  std::string accounts_csv, training_csv;
  std::vector<std::string> account_ids;  // in file order
  std::map<std::string, std::pair<std::string, int64_t>> account_of;  // id → region, balance
  // The insurer: claims customer_id,amount (a customer may repeat) and
  // applicants applicant,age,income,debt_ratio (features, some missing).
  std::string claims_csv, applicants_csv;
  std::vector<std::pair<std::string, int64_t>> claim_rows;  // in file order
  std::vector<Applicant> applicants;
};

std::string CustomerId(int n) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "C%05d", n);
  return buf;
}

JourneyData MakeJourneyData(uint32_t seed) {
  std::mt19937 rng(seed);
  auto below = [&](size_t n) { return static_cast<int64_t>(rng() % n); };
  JourneyData d;
  std::vector<int> pool(600);
  for (int i = 0; i < 600; ++i) pool[i] = i;
  std::shuffle(pool.begin(), pool.end(), rng);
  const std::vector<std::string> regions = {"central", "east", "north", "south", "west"};
  d.accounts_csv = "customer_id,region,balance\n";
  for (int i = 0; i < 300; ++i) {
    const std::string id = CustomerId(pool[i]);
    const std::string region = regions[below(regions.size())];
    const int64_t balance = below(100'000);
    d.account_ids.push_back(id);
    d.account_of[id] = {region, balance};
    d.accounts_csv += id + "," + region + "," + std::to_string(balance) + "\n";
  }
  // The insurer's customers: 122 of the bank's and up to 100 the bank does
  // not have; 1..3 claims each, shuffled.
  std::vector<std::string> insured = {d.account_ids[0], d.account_ids[1]};
  for (int i = 2; i < 122; ++i) insured.push_back(d.account_ids[i * 2]);
  for (int i = 0; i < 100; ++i) insured.push_back(CustomerId(600 + static_cast<int>(below(400))));
  for (const auto& id : insured)
    for (int64_t c = 0, n = 1 + below(3); c < n; ++c)
      d.claim_rows.push_back({id, 100 + below(19'900)});
  std::shuffle(d.claim_rows.begin(), d.claim_rows.end(), rng);
  d.claims_csv = "customer_id,amount\n";
  for (const auto& [id, amount] : d.claim_rows) d.claims_csv += id + "," + std::to_string(amount) + "\n";

  // Training: default risk grows with the debt ratio, falls with income.
  d.training_csv = "age,income,debt_ratio,defaulted\n";
  for (int i = 0; i < 400; ++i) {
    const double age = 18 + below(63), income = 10 + below(191), debt = below(9) / 8.0;
    const double score = -2 + 4 * debt - income / 60 + (age < 25 ? 1 : 0);
    const bool defaulted = static_cast<double>(rng()) / 4294967296.0 < 1 / (1 + std::exp(-score));
    d.training_csv += Num(age) + "," + Num(income) + "," + Num(debt) + "," +
                      (defaulted ? "1" : "0") + "\n";
  }
  d.applicants_csv = "applicant,age,income,debt_ratio\n";
  for (int i = 0; i < 150; ++i) {
    Applicant a{static_cast<double>(18 + below(63)), static_cast<double>(10 + below(191)),
                i % 25 == 7 ? std::nan("") : below(9) / 8.0};
    d.applicants.push_back(a);
    d.applicants_csv += std::to_string(1000 + i) + "," + Num(a.age) + "," + Num(a.income) + "," +
                        (std::isnan(a.debt_ratio) ? "" : Num(a.debt_ratio)) + "\n";
  }
  return d;
}

// psi's view for one party (column mode): a one-column CSV of its own ids
// that the other party holds too, in its own order, each once.
std::string PsiView(const std::vector<std::string>& own_in_order,
                    const std::set<std::string>& other) {
  std::string out = "customer_id\n";
  std::set<std::string> seen;
  for (const auto& id : own_in_order)
    if (other.count(id) && seen.insert(id).second) out += id + "\n";
  return out;
}

// What examples/lua/joint_stats.lua computes over the bank's accounts
// (left, value: balance) and the insurer's claims (right, value: amount; a
// customer's claims add up), written independently.
std::string StatsReference(const JourneyData& d) {
  std::map<std::string, int64_t> left, right;
  for (const auto& id : d.account_ids) left[id] += d.account_of.at(id).second;
  for (const auto& [id, amount] : d.claim_rows) right[id] += amount;
  int64_t common = 0, left_sum = 0, right_sum = 0;
  for (const auto& [id, v] : left) {
    auto it = right.find(id);
    if (it == right.end()) continue;
    common++;
    left_sum += v;
    right_sum += it->second;
  }
  return "metric,value\nleft_keys," + std::to_string(left.size()) + "\nright_keys," +
         std::to_string(right.size()) + "\ncommon_keys," + std::to_string(common) +
         "\nleft_sum_common," + std::to_string(left_sum) + "\nright_sum_common," +
         std::to_string(right_sum) + "\n";
}

// The task arguments of the Lua job, as the demo gives them.
sdk::Arguments StatsArgs() {
  sdk::Arguments a;
  a["key"].set_string_value("customer_id");
  a["left_value"].set_string_value("balance");
  a["right_value"].set_string_value("amount");
  a["min_common"].set_int_value(3);
  return a;
}

// The predictions of a local run: functions/gbdt's predictor over the
// model's bytes and the applicants' features (by the model's feature names),
// formatted as gbdt_predict formats them (shortest round-trip text).
Result<std::string> LocalPredictions(const std::string& model_bytes, const JourneyData& d) {
  CLOISTER_ASSIGN_OR_RETURN(functions::gbdt::Model model,
                            functions::gbdt::ParseModel(model_bytes));
  functions::gbdt::DenseMatrix x(d.applicants.size(), model.num_features());
  for (size_t r = 0; r < d.applicants.size(); ++r) {
    const Applicant& a = d.applicants[r];
    for (size_t c = 0; c < model.num_features(); ++c) {
      const std::string& f = model.feature_names[c];
      const double v = f == "age" ? a.age : f == "income" ? a.income : f == "debt_ratio" ? a.debt_ratio : -1;
      if (v == -1) return InvalidArgument("the model has an unexpected feature " + f);
      x.at(r, c) = static_cast<float>(v);
    }
  }
  std::vector<double> y(d.applicants.size());
  functions::gbdt::Predictor predictor(model);
  CLOISTER_RETURN_IF_ERROR(predictor.Predict(x, y, /*num_threads=*/1));
  std::string out;
  for (double v : y) out += Num(v) + "\n";
  return out;
}

api::ArgumentValue Str(const std::string& s) {
  api::ArgumentValue v;
  v.set_string_value(s);
  return v;
}
api::ArgumentValue Int(int64_t i) {
  api::ArgumentValue v;
  v.set_int_value(i);
  return v;
}

// A spec file of examples/lua as the service takes it.
tasks::FunctionSpec SpecToProto(const functions::FunctionSpec& s) {
  tasks::FunctionSpec p;
  p.set_name(s.name);
  for (const auto& a : s.args) {
    auto* pa = p.add_args();
    pa->set_name(a.name);
    pa->set_help(a.help);
    switch (a.type) {
      case functions::ArgType::kString: pa->set_type(tasks::ARG_TYPE_STRING); break;
      case functions::ArgType::kInt: pa->set_type(tasks::ARG_TYPE_INT); break;
      case functions::ArgType::kDouble: pa->set_type(tasks::ARG_TYPE_DOUBLE); break;
      case functions::ArgType::kBool: pa->set_type(tasks::ARG_TYPE_BOOL); break;
    }
    if (a.default_value) {
      auto* v = pa->mutable_default_value();
      if (auto* t = std::get_if<std::string>(&*a.default_value)) v->set_string_value(*t);
      if (auto* i = std::get_if<int64_t>(&*a.default_value)) v->set_int_value(*i);
      if (auto* f = std::get_if<double>(&*a.default_value)) v->set_double_value(*f);
      if (auto* b = std::get_if<bool>(&*a.default_value)) v->set_bool_value(*b);
    }
    if (a.min) pa->mutable_min()->set_value(*a.min);
    if (a.max) pa->mutable_max()->set_value(*a.max);
  }
  auto slots = [](const std::vector<functions::SlotSpec>& in, auto* out) {
    for (const auto& slot : in) {
      auto* ps = out->Add();
      ps->set_name(slot.name);
      ps->set_help(slot.help);
      ps->set_optional(slot.optional);
      if (slot.variadic) {
        ps->set_variadic(true);
        ps->set_min_count(slot.min_count);
        ps->set_max_count(slot.max_count);
      }
    }
  };
  slots(s.inputs, p.mutable_inputs());
  slots(s.outputs, p.mutable_outputs());
  return p;
}

// ---- the cluster and the parties ----

class JourneyCluster : public ::testing::Test {
 protected:
  static void StartCluster() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = sdk::Client::Connect(Options());
    ASSERT_TRUE(admin.ok()) << admin.error().ToString();
    ASSERT_TRUE((*admin)->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"bank", "insurer"}) {
      auto created = (*admin)->CreateUser(u, kPassword);
      ASSERT_TRUE(created.ok()) << created.error().ToString();
    }
  }
  static void StopCluster() { cluster_.reset(); }

  static sdk::ClientOptions Options() {
    return {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()};
  }

  struct Party {
    std::string name, id;
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::FilesClient> files;
    std::unique_ptr<sdk::Tasks> tasks;
  };
  static Result<Party> SignIn(const std::string& name) {
    Party p;
    p.name = name;
    CLOISTER_ASSIGN_OR_RETURN(p.client, sdk::Client::Connect(Options()));
    CLOISTER_ASSIGN_OR_RETURN(api::User u, p.client->Login(name, kPassword));
    p.id = u.user_id();
    CLOISTER_ASSIGN_OR_RETURN(p.files, sdk::FilesClient::Create(p.client.get(), Options()));
    CLOISTER_ASSIGN_OR_RETURN(p.tasks, sdk::Tasks::Create(p.client.get(), Options()));
    return p;
  }
  // Encrypts and uploads `text` as one of `p`'s files; no plaintext copy stays.
  static Result<std::string> Upload(Party& p, const std::string& name, const std::string& text) {
    const std::string path = cluster_->scratch() + "/" + p.name + "-" + name;
    CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(path, text, 0600));
    auto f = p.files->Upload(path);
    fs::remove(path);
    if (!f.ok()) return f.error();
    return f->file_id();
  }

  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> JourneyCluster::cluster_;

class ClusterTaskJobsTest : public JourneyCluster {
 protected:
  static void SetUpTestSuite() {
    StartCluster();
    data_ = MakeJourneyData(13);
  }
  static void TearDownTestSuite() { StopCluster(); }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    auto b = SignIn("bank");
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    bank_ = std::move(*b);
    auto i = SignIn("insurer");
    ASSERT_TRUE(i.ok()) << i.error().ToString();
    insurer_ = std::move(*i);
  }

  struct Assignment {
    Party* party;
    std::string slot, file_id;
  };
  // The whole lifecycle through the SDK, checking each step's state: create
  // (Created, or DataAssigned without inputs; `missing` names the slots),
  // assign (DataAssigned once all are), each participant verifies the shown
  // digest and approves it (Approved after the last), `invoker` invokes and
  // every participant waits for the end. Returns the creator's final view.
  Result<tasks::Task> RunToEnd(Party& creator, const sdk::NewTask& spec,
                               const std::vector<Assignment>& assignments,
                               const std::vector<Party*>& participants, Party& invoker) {
    CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, creator.tasks->Create(spec));
    EXPECT_EQ(t.state(), assignments.empty() ? tasks::TASK_STATE_DATA_ASSIGNED
                                             : tasks::TASK_STATE_CREATED);
    std::set<std::string> want_participants;
    for (const Party* p : participants) want_participants.insert(p->id);
    EXPECT_EQ(std::set<std::string>(t.participants().begin(), t.participants().end()),
              want_participants);
    for (const Assignment& a : assignments) {
      bool named = false;
      for (const auto& m : t.missing()) named = named || m.find(a.slot) != std::string::npos;
      EXPECT_TRUE(named) << "nothing in `missing` names slot " << a.slot;
      CLOISTER_ASSIGN_OR_RETURN(t, a.party->tasks->Assign(t.task_id(), a.slot, a.file_id));
    }
    EXPECT_EQ(t.state(), tasks::TASK_STATE_DATA_ASSIGNED);
    for (Party* p : participants) {
      CLOISTER_ASSIGN_OR_RETURN(tasks::Task seen, p->tasks->Get(t.task_id()));
      EXPECT_EQ(seen.function_hash(), spec.function_hash);
      CLOISTER_RETURN_IF_ERROR(sdk::VerifyTaskDigest(seen));
      CLOISTER_ASSIGN_OR_RETURN(t, p->tasks->Approve(t.task_id(), seen.digest()));
    }
    EXPECT_EQ(t.state(), tasks::TASK_STATE_APPROVED);
    CLOISTER_RETURN_IF_ERROR(invoker.tasks->Invoke(t.task_id()).status());
    std::vector<tasks::TaskState> states;
    sdk::WaitOptions wait{.timeout = std::chrono::minutes(3)};
    wait.on_change = [&](const tasks::Task& now) { states.push_back(now.state()); };
    CLOISTER_ASSIGN_OR_RETURN(tasks::Task done, creator.tasks->Wait(t.task_id(), wait));
    EXPECT_EQ(done.state(), tasks::TASK_STATE_SUCCEEDED)
        << done.end().reason() << ": " << done.end().message();
    EXPECT_FALSE(states.empty());
    if (!states.empty()) {
      EXPECT_EQ(states.back(), done.state());
    }
    return done;
  }

  // Every output slot `p` is shown a file of, in its own view of the task.
  static std::set<std::string> SlotsWithFiles(Party& p, const std::string& task_id) {
    std::set<std::string> slots;
    auto t = p.tasks->Get(task_id);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    if (!t.ok()) return slots;
    for (const auto& o : t->outputs()) {
      for (const auto& f : o.files()) {
        EXPECT_EQ(f.owner_user_id(), p.id) << "shown another owner's copy of " << o.slot();
        slots.insert(o.slot());
      }
    }
    return slots;
  }

  static JourneyData data_;
  Party bank_, insurer_;
};
JourneyData ClusterTaskJobsTest::data_;

// Job 1: psi. Each party's one output is its own view of the intersection,
// exactly the brute-force answer, and it is shown and can fetch nothing else.
TEST_F(ClusterTaskJobsTest, PsiGivesEachPartyExactlyItsOwnView) {
  auto accounts = Upload(bank_, "accounts.csv", data_.accounts_csv);
  ASSERT_TRUE(accounts.ok()) << accounts.error().ToString();
  auto claims = Upload(insurer_, "claims.csv", data_.claims_csv);
  ASSERT_TRUE(claims.ok()) << claims.error().ToString();
  auto psi = bank_.tasks->functions().RegisterBuiltin("psi", {.is_public = true});
  ASSERT_TRUE(psi.ok()) << psi.error().ToString();

  auto done = RunToEnd(bank_,
                       {.function_hash = psi->function().hash(),
                        .function_id = psi->function().function_id(),
                        .args = {{"column", Str("customer_id")}},
                        .inputs = {{"set.bank", bank_.id}, {"set.insurer", insurer_.id}},
                        .outputs = {{"result.bank", {bank_.id}},
                                    {"result.insurer", {insurer_.id}}}},
                       {{&bank_, "set.bank", *accounts}, {&insurer_, "set.insurer", *claims}},
                       {&bank_, &insurer_}, insurer_);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ASSERT_EQ(done->state(), tasks::TASK_STATE_SUCCEEDED);

  std::vector<std::string> claim_ids;
  for (const auto& [id, amount] : data_.claim_rows) claim_ids.push_back(id);
  const std::set<std::string> bank_set(data_.account_ids.begin(), data_.account_ids.end());
  const std::set<std::string> insurer_set(claim_ids.begin(), claim_ids.end());
  const std::string bank_view = PsiView(data_.account_ids, insurer_set);
  const std::string insurer_view = PsiView(claim_ids, bank_set);
  ASSERT_NE(bank_view, insurer_view) << "the two views differ in order: the test needs that";
  ASSERT_GT(std::count(bank_view.begin(), bank_view.end(), '\n'), 100);

  auto got_bank = bank_.tasks->FetchOutputsToMemory(done->task_id(), *bank_.files);
  ASSERT_TRUE(got_bank.ok()) << got_bank.error().ToString();
  EXPECT_EQ(*got_bank, (std::map<std::string, std::string>{{"result.bank", bank_view}}));
  auto got_insurer = insurer_.tasks->FetchOutputsToMemory(done->task_id(), *insurer_.files);
  ASSERT_TRUE(got_insurer.ok()) << got_insurer.error().ToString();
  EXPECT_EQ(*got_insurer, (std::map<std::string, std::string>{{"result.insurer", insurer_view}}));
  EXPECT_EQ(SlotsWithFiles(bank_, done->task_id()), std::set<std::string>{"result.bank"});
  EXPECT_EQ(SlotsWithFiles(insurer_, done->task_id()), std::set<std::string>{"result.insurer"});
}

// Job 2: the demo's Lua function, registered from its files in
// examples/lua through Functions::RegisterLua: both parties' copies of the
// summary equal the C++ reference over the join of their tables; and with
// fewer common customers than min_common the function refuses to answer.
TEST_F(ClusterTaskJobsTest, LuaJointAggregateEqualsTheReferenceForBothParties) {
  const std::string dir = std::string(CLOISTER_EXAMPLES_DIR) + "/lua/";
  auto source = ReadFile(dir + "joint_stats.lua", 1 << 20);
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  auto spec_json = ReadFile(dir + "joint_stats.spec.json", 1 << 20);
  ASSERT_TRUE(spec_json.ok()) << spec_json.error().ToString();
  auto spec = functions::lua::ParseFunctionSpecJson(*spec_json);
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();

  auto accounts = Upload(bank_, "agg-accounts.csv", data_.accounts_csv);
  ASSERT_TRUE(accounts.ok()) << accounts.error().ToString();
  auto claims = Upload(insurer_, "agg-claims.csv", data_.claims_csv);
  ASSERT_TRUE(claims.ok()) << claims.error().ToString();
  // Private to the bank, usable by the insurer: the bank vouches for it
  // (and is a participant of every task over it).
  auto fn = bank_.tasks->functions().RegisterLua(
      *source, SpecToProto(*spec), {.description = "joint stats", .allowed_users = {insurer_.id}});
  ASSERT_TRUE(fn.ok()) << fn.error().ToString();
  EXPECT_EQ(fn->function().kind(), tasks::FUNCTION_KIND_LUA);
  // The insurer can read exactly what it will approve: the source.
  auto shown = insurer_.tasks->functions().Get(fn->function().hash(), /*include_source=*/true);
  ASSERT_TRUE(shown.ok()) << shown.error().ToString();
  EXPECT_EQ(shown->function().source(), *source);

  const sdk::NewTask task{.function_hash = fn->function().hash(),
                          .function_id = fn->function().function_id(),
                          .args = StatsArgs(),
                          .inputs = {{"left", bank_.id}, {"right", insurer_.id}},
                          .outputs = {{"summary", {bank_.id, insurer_.id}}}};
  auto done = RunToEnd(bank_, task, {{&bank_, "left", *accounts}, {&insurer_, "right", *claims}},
                       {&bank_, &insurer_}, bank_);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ASSERT_EQ(done->state(), tasks::TASK_STATE_SUCCEEDED);

  const std::string want = StatsReference(data_);
  ASSERT_NE(want.find("common_keys,122\n"), std::string::npos) << want;
  auto got_bank = bank_.tasks->FetchOutputsToMemory(done->task_id(), *bank_.files);
  ASSERT_TRUE(got_bank.ok()) << got_bank.error().ToString();
  EXPECT_EQ(*got_bank, (std::map<std::string, std::string>{{"summary", want}}));
  auto got_insurer = insurer_.tasks->FetchOutputsToMemory(done->task_id(), *insurer_.files);
  ASSERT_TRUE(got_insurer.ok()) << got_insurer.error().ToString();
  EXPECT_EQ(*got_insurer, (std::map<std::string, std::string>{{"summary", want}}));
  // Two copies, one per owner, each shown only to its owner.
  auto bt = bank_.tasks->Get(done->task_id());
  auto it = insurer_.tasks->Get(done->task_id());
  ASSERT_TRUE(bt.ok() && it.ok());
  ASSERT_EQ(bt->outputs(0).files_size(), 1);
  ASSERT_EQ(it->outputs(0).files_size(), 1);
  EXPECT_NE(bt->outputs(0).files(0).file_id(), it->outputs(0).files(0).file_id());

  // Two customers in common only: below min_common, nobody gets a summary.
  auto few = Upload(insurer_, "agg-few.csv",
                    "customer_id,amount\n" + data_.account_ids[0] + ",1\n" +
                        data_.account_ids[1] + ",2\nC99999,3\n");
  ASSERT_TRUE(few.ok()) << few.error().ToString();
  auto t = bank_.tasks->Create(task);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_TRUE(bank_.tasks->Assign(t->task_id(), "left", *accounts).ok());
  ASSERT_TRUE(insurer_.tasks->Assign(t->task_id(), "right", *few).ok());
  for (Party* p : {&bank_, &insurer_}) {
    auto seen = p->tasks->Get(t->task_id());
    ASSERT_TRUE(seen.ok());
    ASSERT_TRUE(p->tasks->Approve(t->task_id(), seen->digest()).ok());
  }
  ASSERT_TRUE(insurer_.tasks->Invoke(t->task_id()).ok());
  auto failed = bank_.tasks->Wait(t->task_id(), {.timeout = std::chrono::minutes(2)});
  ASSERT_TRUE(failed.ok()) << failed.error().ToString();
  EXPECT_EQ(failed->state(), tasks::TASK_STATE_FAILED);
  // The error's text is not passed on (a Lua error may quote input data).
  EXPECT_EQ(failed->end().reason(), "LUA_RUNTIME_ERROR") << failed->end().message();
  auto nothing = insurer_.tasks->FetchOutputsToMemory(t->task_id(), *insurer_.files);
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.error().reason(), sdk::kTaskNotSucceeded);
}

// Job 3: the bank trains alone (model and metrics are its outputs only);
// then the bank's model file and the insurer's features go into
// gbdt_predict, whose predictions only the insurer receives, equal to the
// local predictor's on the model the bank downloads.
TEST_F(ClusterTaskJobsTest, GbdtTrainedByTheBankPredictsForTheInsurerOnly) {
  auto training = Upload(bank_, "training.csv", data_.training_csv);
  ASSERT_TRUE(training.ok()) << training.error().ToString();
  auto applicants = Upload(insurer_, "applicants.csv", data_.applicants_csv);
  ASSERT_TRUE(applicants.ok()) << applicants.error().ToString();
  auto train = bank_.tasks->functions().RegisterBuiltin("gbdt_train", {.is_public = true});
  ASSERT_TRUE(train.ok()) << train.error().ToString();
  auto predict = insurer_.tasks->functions().RegisterBuiltin("gbdt_predict", {.is_public = true});
  ASSERT_TRUE(predict.ok()) << predict.error().ToString();

  auto trained = RunToEnd(bank_,
                          {.function_hash = train->function().hash(),
                           .function_id = train->function().function_id(),
                           .args = {{"label", Str("defaulted")}, {"objective", Str("binary")},
                                    {"num_trees", Int(20)}, {"max_depth", Int(3)},
                                    {"seed", Int(7)}},
                           .inputs = {{"data", bank_.id}},
                           .outputs = {{"model", {bank_.id}}, {"metrics", {bank_.id}}}},
                          {{&bank_, "data", *training}}, {&bank_}, bank_);
  ASSERT_TRUE(trained.ok()) << trained.error().ToString();
  ASSERT_EQ(trained->state(), tasks::TASK_STATE_SUCCEEDED);
  auto bank_out = bank_.tasks->FetchOutputsToMemory(trained->task_id(), *bank_.files);
  ASSERT_TRUE(bank_out.ok()) << bank_out.error().ToString();
  ASSERT_EQ(bank_out->size(), 2u);
  const std::string model = bank_out->at("model");
  auto parsed = functions::gbdt::ParseModel(model);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->feature_names, (std::vector<std::string>{"age", "income", "debt_ratio"}));
  EXPECT_EQ(parsed->num_trees(), 20u);
  EXPECT_EQ(parsed->objective, functions::gbdt::Objective::kBinary);
  auto metrics = nlohmann::json::parse(bank_out->at("metrics"), nullptr, false);
  EXPECT_TRUE(metrics.is_object()) << bank_out->at("metrics");
  std::string model_file;
  for (const auto& o : trained->outputs())
    if (o.slot() == "model" && o.files_size() == 1) model_file = o.files(0).file_id();
  ASSERT_FALSE(model_file.empty());
  // The insurer is no participant of the training: it sees nothing of it.
  auto peek = insurer_.tasks->Get(trained->task_id());
  ASSERT_FALSE(peek.ok());
  EXPECT_EQ(peek.error().reason(), "TASK_NOT_FOUND");

  // The insurer asks for the predictions; the bank lends its model.
  auto predicted = RunToEnd(insurer_,
                            {.function_hash = predict->function().hash(),
                             .function_id = predict->function().function_id(),
                             .inputs = {{"model", bank_.id}, {"data", insurer_.id}},
                             .outputs = {{"predictions", {insurer_.id}}}},
                            {{&bank_, "model", model_file}, {&insurer_, "data", *applicants}},
                            {&bank_, &insurer_}, insurer_);
  ASSERT_TRUE(predicted.ok()) << predicted.error().ToString();
  ASSERT_EQ(predicted->state(), tasks::TASK_STATE_SUCCEEDED);

  auto got = insurer_.tasks->FetchOutputsToMemory(predicted->task_id(), *insurer_.files);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_EQ(got->size(), 1u);
  auto want = LocalPredictions(model, data_);
  ASSERT_TRUE(want.ok()) << want.error().ToString();
  EXPECT_EQ(got->at("predictions"), *want);
  EXPECT_EQ(std::count(want->begin(), want->end(), '\n'),
            static_cast<std::ptrdiff_t>(data_.applicants.size()));
  std::set<std::string> distinct;
  std::istringstream lines(*want);
  for (std::string l; std::getline(lines, l);) distinct.insert(l);
  EXPECT_GT(distinct.size(), 5u) << "a model that predicts a constant proves little";
  // The bank, a participant, receives nothing of the predictions, and the
  // insurer cannot read the model it was lent.
  auto bank_view = bank_.tasks->FetchOutputsToMemory(predicted->task_id(), *bank_.files);
  ASSERT_TRUE(bank_view.ok()) << bank_view.error().ToString();
  EXPECT_TRUE(bank_view->empty());
  EXPECT_TRUE(SlotsWithFiles(bank_, predicted->task_id()).empty());
  const std::string path = cluster_->scratch() + "/stolen-model";
  Status stolen = insurer_.files->Download(model_file, path);
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.error().reason(), "FILE_KEY_NOT_FOUND") << stolen.error().ToString();
  EXPECT_FALSE(fs::exists(path));
}

// ---- examples/sdk/two_party_journey.cc against its own cluster ----

class TwoPartyJourneyExample : public JourneyCluster {
 protected:
  static void SetUpTestSuite() { StartCluster(); }
  static void TearDownTestSuite() { StopCluster(); }
};

TEST_F(TwoPartyJourneyExample, RunsTheJourneyAndEachPartyGetsExactlyItsOwn) {
  ASSERT_NE(cluster_, nullptr);
  const JourneyData d = MakeJourneyData(2024);
  const std::string in = cluster_->scratch() + "/journey-in", out = cluster_->scratch() + "/journey-out";
  ASSERT_TRUE(MakeDirs(in, 0700).ok());
  for (const auto& [name, text] : std::map<std::string, std::string>{
           {"bank.pw", std::string(kPassword) + "\n"}, {"insurer.pw", std::string(kPassword) + "\n"},
           {"accounts.csv", d.accounts_csv}, {"training.csv", d.training_csv},
           {"claims.csv", d.claims_csv}, {"applicants.csv", d.applicants_csv}})
    ASSERT_TRUE(WriteFileAtomic(in + "/" + name, text, 0600).ok());

  auto run = RunProcess(
      {CLOISTER_TWO_PARTY_JOURNEY_BIN, "--gateway", cluster_->gateway(), "--trust",
       cluster_->trust_path(), "--bank-user", "bank", "--bank-password-file", in + "/bank.pw",
       "--insurer-user", "insurer", "--insurer-password-file", in + "/insurer.pw",
       "--bank-accounts", in + "/accounts.csv", "--bank-training", in + "/training.csv",
       "--insurer-claims", in + "/claims.csv", "--insurer-features", in + "/applicants.csv",
       "--lua", std::string(CLOISTER_EXAMPLES_DIR) + "/lua/joint_stats.lua", "--out", out},
      std::chrono::minutes(5));
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(run->exit_code, 0) << run->out << run->err;

  auto read = [&](const std::string& rel) -> std::string {
    auto r = ReadFile(out + "/" + rel, 64u << 20);
    EXPECT_TRUE(r.ok()) << rel << ": " << r.error().ToString();
    return r.ok() ? *r : "";
  };
  std::vector<std::string> claim_ids;
  for (const auto& [id, amount] : d.claim_rows) claim_ids.push_back(id);
  EXPECT_EQ(read("bank/psi/result.bank"),
            PsiView(d.account_ids, std::set<std::string>(claim_ids.begin(), claim_ids.end())));
  EXPECT_EQ(read("insurer/psi/result.insurer"),
            PsiView(claim_ids, std::set<std::string>(d.account_ids.begin(), d.account_ids.end())));
  EXPECT_EQ(read("bank/stats/summary"), StatsReference(d));
  EXPECT_EQ(read("insurer/stats/summary"), StatsReference(d));
  const std::string model = read("bank/train/model");
  EXPECT_TRUE(nlohmann::json::parse(read("bank/train/metrics"), nullptr, false).is_object());
  auto want = LocalPredictions(model, d);
  ASSERT_TRUE(want.ok()) << want.error().ToString();
  EXPECT_EQ(read("insurer/predict/predictions"), *want);

  // Each party's directory holds exactly what it is owed.
  auto files_under = [&](const std::string& party) {
    std::set<std::string> rel;
    for (const auto& e : fs::recursive_directory_iterator(out + "/" + party))
      if (e.is_regular_file()) rel.insert(fs::relative(e.path(), out + "/" + party).string());
    return rel;
  };
  EXPECT_EQ(files_under("bank"), (std::set<std::string>{"psi/result.bank", "stats/summary",
                                                        "train/model", "train/metrics"}));
  EXPECT_EQ(files_under("insurer"), (std::set<std::string>{"psi/result.insurer", "stats/summary",
                                                           "predict/predictions"}));
  EXPECT_NE(run->out.find("insurer received predictions"), std::string::npos) << run->out;
  EXPECT_NE(run->out.find("bank received nothing from predict"), std::string::npos) << run->out;
}

}  // namespace
}  // namespace cloister::testing
