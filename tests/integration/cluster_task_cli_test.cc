// The demo's three multi-party jobs through the `cloister` CLI alone (issue
// 13, must-be-true 1, CLI half), on a real cluster from `cloister cluster
// up`. Two organisations, each with its own CLI home and login (a bank and
// an insurer), upload their own CSVs with `cloister file upload`, then:
//   1. the built-in psi: each party's `task result` is exactly its own
//      view of a brute-force intersection computed here;
//   2. a Lua joint aggregate (examples/lua/joint_stats.lua) over both
//      tables, equal to a reference computed here;
//   3. gbdt_train by the bank (model to the bank only), then gbdt_predict
//      with the bank's model and the insurer's features, predictions to the
//      insurer only, equal to a local run of the same built-in on the
//      downloaded model.
// Along the way: the --json keys scripts rely on, `task approve` refusing
// without --digest or --yes, a stale digest refused by the service, typed
// --arg and slot errors named before any call, a non-participant told
// TASK_NOT_FOUND, and no plaintext marker anywhere under the cluster home.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "functions/gbdt/gbdt_functions.h"
#include "functions/runtime.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
constexpr const char* kPassword = "correct horse battery staple";

// One organisation: its own CLI home (session), as on its own machine.
struct Party {
  std::string name, id, home;
};

std::string ReadAll(const std::string& path) {
  auto r = ReadFile(path, 64u << 20);
  EXPECT_TRUE(r.ok()) << path << ": " << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? *r : "";
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Whether `needle` occurs in the file (read whole: the cluster's files here
// are small).
// A string field of a JSON object ("" when absent).
std::string S(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool FileContains(const fs::path& p, const std::string& needle) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(needle) != std::string::npos;
}

class ClusterTaskCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::string pw = cluster_->admin_password();
    RunResult r = cluster_->Cli({"login", "--user", "admin", "--password-stdin"}, &pw);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string user_pw = kPassword;
    for (const char* name : {"bank", "insurer", "mallory"}) {
      int code = -1;
      json u = cluster_->CliJson({"user", "add", name, "--password-stdin"}, &user_pw, &code);
      ASSERT_EQ(code, 0) << u.dump();
      Party p{name, u.value("user_id", ""), cluster_->scratch() + "/" + name + "-home"};
      ASSERT_FALSE(p.id.empty()) << u.dump();
      fs::create_directories(p.home);
      // Each party logs in from its own home, naming the gateway and the
      // cluster's trust file as a remote client would.
      RunResult login = Run(p, {"login", "--user", name, "--password-stdin", "--gateway",
                                cluster_->gateway(), "--trust", cluster_->trust_path()},
                            &user_pw);
      ASSERT_EQ(login.exit_code, 0) << login.err;
      parties_[name] = p;
    }
    marker_ = "cli-task-marker-" + crypto::RandomId();
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static const Party& P(const std::string& name) { return parties_.at(name); }

  // `cloister --home <party home> args…`, stdin piped in when given (through
  // the environment, never argv).
  static RunResult Run(const Party& p, const std::vector<std::string>& args,
                       const std::string* stdin_text = nullptr) {
    std::vector<std::string> argv;
    SubprocessOptions opts;
    if (stdin_text != nullptr) {
      argv = {"/bin/sh", "-c", "printf '%s\\n' \"$CLOISTER_TEST_STDIN\" | \"$@\"", "sh"};
      opts.env["CLOISTER_TEST_STDIN"] = *stdin_text;
    }
    argv.push_back(CLOISTER_CLI_BIN);
    argv.push_back("--home");
    argv.push_back(p.home);
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunProcess(argv, std::chrono::seconds(180), opts);
    if (!r.ok()) return RunResult{-1, "", r.error().ToString()};
    return *r;
  }
  // With --json; stdout parsed (the raw output under "__stdout" otherwise).
  // Without `code`, a failure (or output that is not one JSON value) fails the test.
  static json RunJson(const Party& p, std::vector<std::string> args, int* code = nullptr) {
    args.insert(args.begin(), "--json");
    RunResult r = Run(p, args);
    if (code != nullptr) *code = r.exit_code;
    else EXPECT_EQ(r.exit_code, 0) << args[1] << " " << args[2] << ": " << r.err;
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      if (code == nullptr) ADD_FAILURE() << "not JSON: " << r.out << r.err;
      return json{{"__stdout", r.out}, {"__stderr", r.err}};
    }
    return j;
  }
  // Runs and expects success; returns stdout.
  static std::string Ok(const Party& p, const std::vector<std::string>& args) {
    RunResult r = Run(p, args);
    EXPECT_EQ(r.exit_code, 0) << "cloister " << args[0] << " " << (args.size() > 1 ? args[1] : "")
                              << " as " << p.name << ":\n" << r.out << r.err;
    return r.out;
  }

  static std::string Upload(const Party& p, const std::string& file_name,
                            const std::string& text) {
    const std::string path = cluster_->scratch() + "/" + p.name + "-" + file_name;
    Write(path, text);
    json j = RunJson(p, {"file", "upload", path, "--description", file_name});
    return j.value("file_id", "");
  }

  static json Register(const Party& p, std::vector<std::string> args) {
    args.insert(args.begin(), {"function", "register"});
    json j = RunJson(p, args);
    EXPECT_EQ(j.value("hash", "").size(), 64u) << j.dump();
    EXPECT_EQ(j.value("function_id", "").size(), 32u) << j.dump();
    return j;
  }

  static std::string CreateTask(const Party& p, std::vector<std::string> args) {
    args.insert(args.begin(), {"task", "create"});
    json j = RunJson(p, args);
    EXPECT_EQ(j.value("task_id", "").size(), 32u) << j.dump();
    return j.value("task_id", "");
  }

  static json Show(const Party& p, const std::string& task) {
    return RunJson(p, {"task", "show", task});
  }

  // Every input owner approves the digest it is shown (explicitly named),
  // then `who` invokes and waits until the task succeeded.
  static void ApproveInvokeWait(const std::vector<std::string>& approvers,
                                const std::string& task, const std::string& who) {
    for (const auto& name : approvers) {
      json t = Show(P(name), task);
      ASSERT_TRUE(t.value("digest_verified", false)) << t.dump();
      Ok(P(name), {"task", "approve", task, "--digest", t.value("digest", "")});
    }
    json t = Show(P(who), task);
    EXPECT_EQ(t.value("state", ""), "Approved") << t.dump();
    Ok(P(who), {"task", "invoke", task});
    RunResult w = Run(P(who), {"task", "wait", task, "--timeout", "150"});
    ASSERT_EQ(w.exit_code, 0) << w.out << w.err << "\n" << Ok(P(who), {"task", "show", task});
    // Not a terminal: no spinner, no carriage returns.
    EXPECT_EQ(w.err.find('\r'), std::string::npos);
    EXPECT_NE(w.out.find("Succeeded"), std::string::npos) << w.out;
  }

  // `task result -o DIR --json`: slot → plaintext.
  static std::map<std::string, std::string> FetchResult(const Party& p, const std::string& task) {
    const std::string dir = cluster_->scratch() + "/out-" + p.name + "-" + task;
    json j = RunJson(p, {"task", "result", task, "-o", dir});
    std::map<std::string, std::string> out;
    EXPECT_TRUE(j.is_array()) << j.dump();
    if (!j.is_array()) return out;
    for (const auto& o : j) {
      EXPECT_EQ(o.value("file_id", "").size(), 32u) << o.dump();
      const std::string path = o.value("path", "");
      const std::string bytes = ReadAll(path);
      EXPECT_EQ(o.value("bytes", uint64_t{0}), bytes.size()) << o.dump();
      EXPECT_EQ(fs::path(path).parent_path(), fs::path(dir));
      out[o.value("slot", "")] = bytes;
    }
    return out;
  }
  static std::string OutputFileId(const Party& p, const std::string& task,
                                  const std::string& slot) {
    // `task show` lists the caller's own copy of each output it owns.
    json t = Show(p, task);
    for (const auto& o : t["outputs"])
      if (S(o, "slot") == slot)
        for (const auto& f : o["files"])
          if (S(f, "owner_user_id") == p.id) return S(f, "file_id");
    return "";
  }

  static std::unique_ptr<ClusterFixture> cluster_;
  static std::map<std::string, Party> parties_;
  static std::string marker_;
};
std::unique_ptr<ClusterFixture> ClusterTaskCliTest::cluster_;
std::map<std::string, Party> ClusterTaskCliTest::parties_;
std::string ClusterTaskCliTest::marker_;

// The two tables: customer ids (carrying the marker, so any plaintext copy
// of an input or of a PSI output is found by the scan), one integer column
// each, a note. Deterministic, in a shuffled order, with repeated ids.
struct Table {
  std::vector<std::pair<std::string, int64_t>> rows;  // id, value
  std::string csv;
};
Table MakeTable(const std::string& marker, int step, int count, const std::string& value_col,
                int mult, int mod, uint32_t seed) {
  Table t;
  for (int i = 0; i < count; ++i) {
    const int n = i * step;
    t.rows.push_back({marker + "-" + std::to_string(n), (n * mult) % mod});
  }
  t.rows.push_back(t.rows[3]);  // a repeated customer
  t.rows.push_back(t.rows[7]);
  std::mt19937 rng(seed);
  std::shuffle(t.rows.begin(), t.rows.end(), rng);
  t.csv = "customer_id," + value_col + ",note\n";
  for (const auto& [id, v] : t.rows)
    t.csv += id + "," + std::to_string(v) + ",private note " + marker + "\n";
  return t;
}

// PSI's view for one party: its own ids held by both, in its own order,
// without repeats, under the column's header.
std::string PsiView(const Table& mine, const Table& other) {
  std::set<std::string> theirs;
  for (const auto& [id, v] : other.rows) theirs.insert(id);
  std::set<std::string> seen;
  std::string out = "customer_id\n";
  for (const auto& [id, v] : mine.rows)
    if (theirs.count(id) && seen.insert(id).second) out += id + "\n";
  return out;
}

TEST_F(ClusterTaskCliTest, ThreeJobsOfTheDemoThroughTheCli) {
  const Party& bank = P("bank");
  const Party& insurer = P("insurer");
  const Table bank_t = MakeTable(marker_, 2, 60, "balance", 37, 1000, 1);
  const Table ins_t = MakeTable(marker_, 3, 40, "claims", 11, 500, 2);
  const std::string bank_file = Upload(bank, "customers.csv", bank_t.csv);
  const std::string ins_file = Upload(insurer, "policyholders.csv", ins_t.csv);
  ASSERT_EQ(bank_file.size(), 32u);
  ASSERT_EQ(ins_file.size(), 32u);

  // ---- 1. psi: each party gets only its own view ----
  const json psi = Register(bank, {"--builtin", "psi", "--public"});
  EXPECT_EQ(psi.value("kind", ""), "builtin");
  EXPECT_TRUE(psi.value("created", false));
  const std::string psi_task = CreateTask(
      bank, {S(psi, "hash"), "--arg", "column=customer_id", "--input",
             "set.bank=bank", "--input", "set.insurer=" + insurer.id, "--output",
             "result.bank=bank", "--output", "result.insurer=" + insurer.id, "--description",
             "who do we share?"});
  {
    json t = Show(bank, psi_task);
    for (const char* key : {"task_id", "state", "digest", "missing"})
      EXPECT_TRUE(t.contains(key)) << key << " missing in " << t.dump();
    EXPECT_EQ(t.value("state", ""), "Created");
    EXPECT_EQ(t["missing"].size(), 2u) << t.dump();  // both inputs
    EXPECT_EQ(t["args"].value("column", ""), "customer_id");
    EXPECT_EQ(t["args"].value("trim", false), true);  // the default, filled by the service
  }
  Ok(bank, {"task", "assign", psi_task, "set.bank", bank_file});
  {
    // The bank cannot assign the insurer's slot, nor a file of the insurer.
    RunResult r = Run(bank, {"task", "assign", psi_task, "set.insurer", bank_file});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("NOT_SLOT_OWNER"), std::string::npos) << r.err;
    EXPECT_EQ(InternalDetailText(r.err), "") << r.err;  // issue 11
  }
  Ok(insurer, {"task", "assign", psi_task, "set.insurer", ins_file});
  {
    // Approving without naming a digest shows the task and refuses.
    RunResult r = Run(bank, {"task", "approve", psi_task});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("DIGEST_REQUIRED"), std::string::npos) << r.err;
    json t = Show(bank, psi_task);
    EXPECT_NE(r.out.find(t.value("digest", "")), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("verified here"), std::string::npos) << r.out;
    EXPECT_EQ(t.value("state", ""), "DataAssigned");
    EXPECT_TRUE(t["approvals"].empty()) << t.dump();
    // A digest other than the current one: the service's DIGEST_STALE.
    RunResult stale =
        Run(insurer, {"task", "approve", psi_task, "--digest", std::string(64, '0')});
    EXPECT_EQ(stale.exit_code, 1);
    EXPECT_NE(stale.err.find("DIGEST_STALE"), std::string::npos) << stale.err;
    EXPECT_EQ(InternalDetailText(stale.err), "") << stale.err;  // issue 11
    // Invoking before every approval: refused with what is missing.
    RunResult early = Run(insurer, {"task", "invoke", psi_task});
    EXPECT_EQ(early.exit_code, 1);
    EXPECT_NE(early.err.find("APPROVALS_MISSING"), std::string::npos) << early.err;
    EXPECT_EQ(InternalDetailText(early.err), "") << early.err;  // issue 11
    // A user outside the task learns nothing, not even that it exists.
    RunResult outsider = Run(P("mallory"), {"task", "show", psi_task});
    EXPECT_EQ(outsider.exit_code, 1);
    EXPECT_NE(outsider.err.find("TASK_NOT_FOUND"), std::string::npos) << outsider.err;
    EXPECT_EQ(InternalDetailText(outsider.err), "") << outsider.err;  // issue 11
  }
  // The bank names the digest; the insurer approves the digest shown (--yes).
  Ok(bank, {"task", "approve", psi_task, "--digest", S(Show(bank, psi_task), "digest")});
  {
    json approved = RunJson(insurer, {"task", "approve", psi_task, "--yes"});
    EXPECT_EQ(S(approved, "state"), "Approved") << approved.dump();
    json t = Show(insurer, psi_task);
    EXPECT_EQ(t.value("state", ""), "Approved") << t.dump();
    EXPECT_EQ(t["approvals"].size(), 2u);
  }
  Ok(insurer, {"task", "invoke", psi_task});
  {
    RunResult w = Run(bank, {"task", "wait", psi_task, "--timeout", "150"});
    ASSERT_EQ(w.exit_code, 0) << w.out << w.err;
  }
  {
    auto b = FetchResult(bank, psi_task);
    ASSERT_EQ(b.size(), 1u);  // only its own view
    EXPECT_EQ(b["result.bank"], PsiView(bank_t, ins_t));
    auto i = FetchResult(insurer, psi_task);
    ASSERT_EQ(i.size(), 1u);
    EXPECT_EQ(i["result.insurer"], PsiView(ins_t, bank_t));
    EXPECT_EQ(std::count(i["result.insurer"].begin(), i["result.insurer"].end(), '\n'), 21);
  }
  {
    json log = RunJson(insurer, {"task", "log", psi_task});
    ASSERT_TRUE(log.is_array()) << log.dump();
    std::vector<std::string> events;
    for (const auto& e : log) events.push_back(e.value("event", ""));
    for (const char* want : {"created", "assigned", "approved", "invoked", "claimed", "succeeded"})
      EXPECT_NE(std::find(events.begin(), events.end(), want), events.end())
          << want << " not in " << log.dump();
    EXPECT_EQ(log.back().value("to_state", ""), "Succeeded");
    json ls = RunJson(bank, {"task", "ls", "--state", "succeeded"});
    ASSERT_TRUE(ls.is_array());
    ASSERT_GE(ls.size(), 1u);
    EXPECT_EQ(ls[0].value("task_id", ""), psi_task);
  }

  // ---- 2. a Lua joint aggregate over both tables ----
  const std::string lua = std::string(CLOISTER_SOURCE_DIR) + "/examples/lua/joint_stats.lua";
  const json agg = Register(bank, {"--lua", lua, "--spec",
                                   std::string(CLOISTER_SOURCE_DIR) +
                                       "/examples/lua/joint_stats.spec.json",
                                   "--allow", "insurer"});
  EXPECT_EQ(agg.value("kind", ""), "lua");
  EXPECT_FALSE(agg.value("public", true));
  {
    // Registering the same content again is the same version.
    json again = Register(bank, {"--lua", lua, "--update", S(agg, "function_id")});
    EXPECT_EQ(again.value("hash", ""), agg.value("hash", ""));
    EXPECT_FALSE(again.value("created", true));
    json shown = RunJson(insurer, {"function", "show", S(agg, "function_id"), "--source"});
    EXPECT_NE(shown.value("source", "").find("min_common"), std::string::npos);
    EXPECT_EQ(shown["versions"].size(), 1u);
    // The owner sees the allowlist: the insurer's name resolved to its id.
    json own = RunJson(bank, {"function", "show", S(agg, "hash")});
    EXPECT_EQ(own["allowed_users"], json::array({insurer.id})) << own.dump();
  }
  const std::vector<std::string> agg_args = {
      S(agg, "function_id"), "--arg", "key=customer_id", "--arg",
      "left_value=balance", "--arg", "right_value=claims", "--arg", "min_common=5",
      "--input", "left=bank", "--input", "right=insurer", "--output",
      "summary=bank,insurer"};  // usernames here (user ids in the psi job)
  {
    // Arguments are typed by the function's spec, slots named by it: both
    // refused before anything is created, naming the argument or slot.
    std::vector<std::string> bad = agg_args;
    bad[8] = "min_common=five";
    bad.insert(bad.begin(), {"task", "create"});
    RunResult r = Run(bank, bad);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("ARGS_INVALID"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'min_common' wants an integer"), std::string::npos) << r.err;
    std::vector<std::string> slot = agg_args;
    slot[10] = "middle=bank";
    slot.insert(slot.begin(), {"task", "create"});
    r = Run(bank, slot);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("SLOT_UNKNOWN"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("left, right"), std::string::npos) << r.err;
    std::vector<std::string> nobody = agg_args;
    nobody[12] = "right=nobody_by_that_name";
    nobody.insert(nobody.begin(), {"task", "create"});
    r = Run(bank, nobody);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no user named 'nobody_by_that_name'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--input right"), std::string::npos) << r.err;
    json none = RunJson(bank, {"task", "ls", "--state", "created"});
    EXPECT_TRUE(none.empty()) << none.dump();
  }
  const std::string agg_task = CreateTask(bank, agg_args);
  Ok(bank, {"task", "assign", agg_task, "left", bank_file});
  Ok(insurer, {"task", "assign", agg_task, "right", ins_file});
  ApproveInvokeWait({"bank", "insurer"}, agg_task, "insurer");
  {
    std::map<std::string, int64_t> left, right;
    for (const auto& [id, v] : bank_t.rows) left[id] += v;
    for (const auto& [id, v] : ins_t.rows) right[id] += v;
    int64_t common = 0, lsum = 0, rsum = 0;
    for (const auto& [id, v] : left)
      if (right.count(id)) {
        ++common;
        lsum += v;
        rsum += right[id];
      }
    const std::string want = "metric,value\nleft_keys," + std::to_string(left.size()) +
                             "\nright_keys," + std::to_string(right.size()) + "\ncommon_keys," +
                             std::to_string(common) + "\nleft_sum_common," +
                             std::to_string(lsum) + "\nright_sum_common," +
                             std::to_string(rsum) + "\n";
    auto b = FetchResult(bank, agg_task);
    auto i = FetchResult(insurer, agg_task);
    EXPECT_EQ(b["summary"], want);
    EXPECT_EQ(i["summary"], want);  // each owner its own copy, the same bytes
  }

  // ---- 3. gbdt: trained by the bank, used on the insurer's features ----
  std::string train = "age,income,debt,defaulted\n";
  std::string features = "policy,age,income,debt\n";  // an extra column, other order
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    const int age = 20 + static_cast<int>(rng() % 50);
    const int income = 20 + static_cast<int>(rng() % 180);
    const int debt = static_cast<int>(rng() % 150);
    const int defaulted = debt * 2 > income + static_cast<int>(rng() % 40) ? 1 : 0;
    train += std::to_string(age) + "," + std::to_string(income) + "," + std::to_string(debt) +
             "," + std::to_string(defaulted) + "\n";
  }
  for (int i = 0; i < 60; ++i)
    features += std::to_string(9000 + i) + "," + std::to_string(20 + (i * 7) % 50) + "," +
                std::to_string(20 + (i * 13) % 180) + "," + std::to_string((i * 29) % 150) + "\n";
  const std::string train_file = Upload(bank, "history.csv", train);
  const std::string feat_file = Upload(insurer, "applicants.csv", features);
  const json gtrain = Register(bank, {"--builtin", "gbdt_train", "--public"});
  const json gpredict = Register(insurer, {"--builtin", "gbdt_predict", "--public"});

  const std::string train_task = CreateTask(
      bank, {S(gtrain, "hash"), "--arg", "label=defaulted", "--arg",
             "objective=binary", "--arg", "num_trees=15", "--arg", "max_depth=3", "--input",
             "data=bank", "--output", "model=bank", "--output", "metrics=bank"});
  Ok(bank, {"task", "assign", train_task, "data", train_file});
  ApproveInvokeWait({"bank"}, train_task, "bank");
  auto trained = FetchResult(bank, train_task);
  ASSERT_EQ(trained.count("model"), 1u);
  EXPECT_NE(trained["metrics"].find("\"objective\":\"binary\""), std::string::npos)
      << trained["metrics"];
  const std::string model_file = OutputFileId(bank, train_task, "model");
  ASSERT_EQ(model_file.size(), 32u);

  // The insurer asks; the bank supplies its model; predictions to the insurer only.
  const std::string predict_task =
      CreateTask(insurer, {S(gpredict, "function_id"), "--input",
                           "model=" + bank.id, "--input", "data=insurer", "--output",
                           "predictions=insurer"});
  Ok(bank, {"task", "assign", predict_task, "model", model_file});
  Ok(insurer, {"task", "assign", predict_task, "data", feat_file});
  ApproveInvokeWait({"bank", "insurer"}, predict_task, "insurer");
  auto predicted = FetchResult(insurer, predict_task);
  ASSERT_EQ(predicted.count("predictions"), 1u);
  EXPECT_TRUE(FetchResult(bank, predict_task).empty());  // the bank gets nothing back

  // The same built-in, run here on the bank's downloaded model.
  std::string local;
  for (auto& fn : functions::MakeGbdtFunctions()) {
    if (fn->spec().name != "gbdt_predict") continue;
    auto rt = functions::Runtime::Create(fn->spec(), {},
                                         {{"model", trained["model"]}, {"data", features}});
    ASSERT_TRUE(rt.ok()) << rt.error().ToString();
    ASSERT_TRUE(fn->Run(**rt).ok());
    local = std::move(**rt).TakeOutputs()["predictions"];
  }
  ASSERT_FALSE(local.empty());
  EXPECT_EQ(predicted["predictions"], local);
  EXPECT_EQ(std::count(local.begin(), local.end(), '\n'), 60);

  // ---- no plaintext anywhere under the cluster's home ----
  for (const auto& e : fs::recursive_directory_iterator(cluster_->home())) {
    if (!e.is_regular_file()) continue;
    EXPECT_FALSE(FileContains(e.path(), marker_)) << "plaintext marker in " << e.path();
    EXPECT_FALSE(FileContains(e.path(), "private note")) << "plaintext in " << e.path();
  }
}

TEST_F(ClusterTaskCliTest, FunctionCommandsListShowDisableAndExplainMistakes) {
  const Party& bank = P("bank");
  {
    // Usage mistakes are exit code 2, before any connection.
    RunResult r = Run(bank, {"function", "register"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    r = Run(bank, {"function", "register", "--builtin", "psi", "--spec", "x.json"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    // A spec file's mistake names its field.
    const std::string dir = cluster_->scratch() + "/badspec";
    fs::create_directories(dir);
    Write(dir + "/f.lua", "cloister.output('out', 'x')\n");
    Write(dir + "/f.spec.json", R"({"name": "f", "output": [{"name": "out"}]})");
    r = Run(bank, {"function", "register", "--lua", dir + "/f.lua"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("BAD_FUNCTION_SPEC"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("unknown field 'output'"), std::string::npos) << r.err;
    // The service's own refusal comes through with its reason.
    Write(dir + "/f.spec.json", R"({"name": "f", "outputs": [{"name": "out"}]})");
    Write(dir + "/g.lua", "this is not lua (\n");
    r = Run(bank, {"function", "register", "--lua", dir + "/g.lua", "--spec",
                   dir + "/f.spec.json"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("LUA_SYNTAX_ERROR"), std::string::npos) << r.err;
    EXPECT_EQ(InternalDetailText(r.err), "") << r.err;  // issue 11
    r = Run(bank, {"function", "register", "--builtin", "no_such_builtin"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("BUILTIN_UNKNOWN"), std::string::npos) << r.err;
    EXPECT_EQ(InternalDetailText(r.err), "") << r.err;  // issue 11
  }
  const std::string dir = cluster_->scratch() + "/badspec";
  const json v1 = Register(bank, {"--lua", dir + "/f.lua", "--description", "first"});
  Write(dir + "/f2.lua", "cloister.output('out', 'y')\n");
  const json v2 = Register(bank, {"--lua", dir + "/f2.lua", "--spec", dir + "/f.spec.json",
                                  "--update", S(v1, "function_id")});
  EXPECT_EQ(v2.value("function_id", ""), v1.value("function_id", ""));
  EXPECT_NE(v2.value("hash", ""), v1.value("hash", ""));  // a new version, a new hash
  EXPECT_EQ(v2.value("version", 0), 2);
  {
    json mine = RunJson(bank, {"function", "ls", "--mine"});
    ASSERT_TRUE(mine.is_array());
    bool found = false;
    for (const auto& f : mine)
      if (f.value("function_id", "") == v1.value("function_id", "")) {
        found = true;
        EXPECT_EQ(f.value("hash", ""), v2.value("hash", ""));  // the latest version
      }
    EXPECT_TRUE(found) << mine.dump();
    // Private: the insurer cannot see it.
    RunResult r = Run(P("insurer"), {"function", "show", S(v1, "function_id")});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("FUNCTION_NOT_FOUND"), std::string::npos) << r.err;
    json by_hash = RunJson(bank, {"function", "show", S(v1, "hash")});
    EXPECT_EQ(by_hash.value("version", 0), 1);
    std::string text = Ok(bank, {"function", "show", S(v1, "function_id")});
    EXPECT_NE(text.find("versions:"), std::string::npos) << text;
  }
  json disabled = RunJson(bank, {"function", "disable", S(v1, "function_id"), "--hash", S(v1, "hash")});
  EXPECT_EQ(disabled.value("disabled", 0), 1);
  {
    // A task over the disabled version is refused by the service.
    RunResult r = Run(bank, {"task", "create", S(v1, "hash"), "--output", "out=bank"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("FUNCTION_DISABLED"), std::string::npos) << r.err;
  }
  RunResult help = Run(bank, {"task", "create", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--output"), std::string::npos) << help.out;
}

TEST_F(ClusterTaskCliTest, RevokeRejectCancelAndTheirWordsThroughTheCli) {
  const Party& bank = P("bank");
  const Party& insurer = P("insurer");
  const json echo = Register(insurer, {"--builtin", "echo", "--public"});
  const std::string file = Upload(insurer, "note.txt", "hello " + marker_ + "\n");
  auto make = [&] {
    return CreateTask(insurer, {S(echo, "hash"), "--input", "data=insurer", "--output",
                                "data=insurer,bank"});
  };

  // Revoke: the approval goes, the task is no longer Approved.
  const std::string t1 = make();
  Ok(insurer, {"task", "assign", t1, "data", file});
  json shown = Show(insurer, t1);
  Ok(insurer, {"task", "approve", t1, "--digest", S(shown, "digest")});
  json revoked = RunJson(insurer, {"task", "revoke", t1});
  EXPECT_EQ(S(revoked, "state"), "DataAssigned") << revoked.dump();
  EXPECT_TRUE(revoked["approvals"].empty()) << revoked.dump();
  RunResult again = Run(insurer, {"task", "revoke", t1});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("NOT_APPROVED"), std::string::npos) << again.err;
  // Reject: the bank (an output owner, so a participant) ends it, saying why.
  RunResult no_reason = Run(bank, {"task", "reject", t1});
  EXPECT_NE(no_reason.exit_code, 0);  // CLI11's own code for a missing required option
  EXPECT_NE(no_reason.err.find("--reason"), std::string::npos) << no_reason.err;
  json rejected = RunJson(bank, {"task", "reject", t1, "--reason", "not this quarter"});
  EXPECT_EQ(S(rejected, "state"), "Rejected") << rejected.dump();
  EXPECT_EQ(S(rejected["end"], "reason"), "REJECTED") << rejected.dump();
  EXPECT_EQ(S(rejected["end"], "by_user_id"), bank.id);
  EXPECT_NE(S(rejected["end"], "message").find("not this quarter"), std::string::npos);
  RunResult late = Run(insurer, {"task", "approve", t1, "--yes"});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("TASK_FINISHED"), std::string::npos) << late.err;

  // Cancel: wait and result then say how it ended, exit 1.
  const std::string t2 = make();
  json canceled = RunJson(bank, {"task", "cancel", t2, "--reason", "changed our mind"});
  EXPECT_EQ(S(canceled, "state"), "Canceled") << canceled.dump();
  RunResult w = Run(insurer, {"task", "wait", t2, "--timeout", "30"});
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_NE(w.err.find("TASK_NOT_SUCCEEDED"), std::string::npos) << w.err;
  EXPECT_NE(w.err.find("Canceled"), std::string::npos) << w.err;
  RunResult res = Run(insurer, {"task", "result", t2, "-o", cluster_->scratch() + "/t2"});
  EXPECT_EQ(res.exit_code, 1);
  EXPECT_NE(res.err.find("TASK_NOT_SUCCEEDED"), std::string::npos) << res.err;

  // A wait that times out names the state and what is missing.
  const std::string t3 = make();
  RunResult slow = Run(insurer, {"task", "wait", t3, "--timeout", "1"});
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_NE(slow.err.find("TASK_WAIT_TIMEOUT"), std::string::npos) << slow.err;
  EXPECT_NE(slow.err.find("assign slot `data`"), std::string::npos) << slow.err;
  // ls filters by state; a bad state is a usage error naming the states.
  json created = RunJson(bank, {"task", "ls", "--state", "Created"});
  ASSERT_EQ(created.size(), 1u) << created.dump();
  EXPECT_EQ(S(created[0], "task_id"), t3);
  RunResult bad = Run(bank, {"task", "ls", "--state", "sleeping"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("DataAssigned"), std::string::npos) << bad.err;
  std::string text = Ok(bank, {"task", "show", t3});
  EXPECT_NE(text.find("not assigned yet"), std::string::npos) << text;
}

}  // namespace
}  // namespace cloister::testing
