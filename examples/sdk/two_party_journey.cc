// Example: two organisations that do not trust each other, a bank and an
// insurer, compute on their joint data through the C++ SDK without either
// one seeing the other's rows. Each uploads its own CSV files (encrypted
// here, before they leave the machine), then three tasks run, each approved
// by every participant by its digest before it may run:
//
//   1. psi (built-in): which customers both have. Each party receives only
//      its own view: its own ids that the other also holds.
//   2. joint_stats (Lua, examples/lua/joint_stats.lua): the bank's accounts
//      joined with the insurer's claims on the customer id: how many
//      customers each has and both have, and over the common ones the sum
//      of the bank's balances and of the insurer's claims; for both parties.
//   3. gbdt_train by the bank on its own data (the model is the bank's
//      output, nobody else's), then gbdt_predict of that model on the
//      insurer's features; the predictions go to the insurer only.
//
// Prints what each party received and writes it under OUT/<party>/<job>/,
// one file per output slot.
//
//   two_party_journey --gateway 127.0.0.1:7443 --trust ~/.cloister/trust.toml
//       --bank-user bank --bank-password-file bank.pw
//       --insurer-user insurer --insurer-password-file insurer.pw
//       --bank-accounts accounts.csv --bank-training training.csv
//       --insurer-claims claims.csv --insurer-features applicants.csv
//       --lua examples/lua/joint_stats.lua --out results/
//
// CSV columns: accounts customer_id,region,balance; claims customer_id,amount
// (a customer may have several claims); training: numeric features and a
// 0/1 column `defaulted`; applicants: at least the training features.
// Both users exist already (`cloister user add`); each password file holds
// one line. The two sessions run in one program only to keep the example
// short: in real use each party runs its own half on its own machine, and
// a party's password, files and outputs never reach the other.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/result.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "sdk/tasks_client.h"

namespace {

using namespace cloister;  // NOLINT: an example, kept short
namespace fs = std::filesystem;

struct Flags {
  std::map<std::string, std::string> values;
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

constexpr const char* kRequired[] = {
    "gateway",        "trust",          "bank-user",       "bank-password-file",
    "insurer-user",   "insurer-password-file", "bank-accounts", "bank-training",
    "insurer-claims", "insurer-features",      "lua",           "out"};

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0 || i + 1 >= argc)
      return InvalidArgument("expected --flag value, got '" + name + "'");
    f.values[name.substr(2)] = argv[i + 1];
  }
  for (const char* r : kRequired)
    if (f.Get(r).empty()) return InvalidArgument(std::string("missing --") + r);
  return f;
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One party's signed-in session: the attested connection, its files (which
// it encrypts and decrypts itself) and its tasks.
struct Party {
  std::string name;
  std::string user_id;
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::FilesClient> files;
  std::unique_ptr<sdk::Tasks> tasks;
};

Result<Party> SignIn(const sdk::ClientOptions& options, const std::string& name,
                     const std::string& user, const std::string& password_file) {
  Party p;
  p.name = name;
  CLOISTER_ASSIGN_OR_RETURN(std::string password, ReadText(password_file));
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  // Nothing is sent before the gateway's attestation was checked against
  // the cluster's signed manifest (trust.toml).
  CLOISTER_ASSIGN_OR_RETURN(p.client, sdk::Client::Connect(options));
  CLOISTER_ASSIGN_OR_RETURN(api::User u, p.client->Login(user, password));
  p.user_id = u.user_id();
  CLOISTER_ASSIGN_OR_RETURN(p.files, sdk::FilesClient::Create(p.client.get(), options));
  CLOISTER_ASSIGN_OR_RETURN(p.tasks, sdk::Tasks::Create(p.client.get(), options));
  std::cout << name << ": signed in as " << user << " (" << p.user_id << ")\n";
  return p;
}

Result<std::string> UploadCsv(Party& p, const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(filestore::FileInfo f,
                            p.files->Upload(path, {.description = fs::path(path).filename().string()}));
  std::cout << p.name << ": uploaded " << path << " encrypted as file " << f.file_id() << "\n";
  return f.file_id();
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

// One file a party puts into a task's input slot.
struct Assignment {
  Party* party;
  std::string slot, file_id;
};

// The whole life of one task: `creator` creates it, each input's owner
// assigns its file, every participant reviews and approves, `creator`
// invokes it, and everyone waits for the end.
Result<tasks::Task> RunTask(const std::string& job, Party& creator, const sdk::NewTask& spec,
                            const std::vector<Assignment>& assignments,
                            const std::vector<Party*>& participants) {
  std::cout << "\n== " << job << " ==\n";
  CLOISTER_ASSIGN_OR_RETURN(tasks::Task t, creator.tasks->Create(spec));
  std::cout << creator.name << ": created task " << t.task_id() << "\n";
  for (const Assignment& a : assignments) {
    CLOISTER_RETURN_IF_ERROR(a.party->tasks->Assign(t.task_id(), a.slot, a.file_id).status());
    std::cout << a.party->name << ": assigned its file to slot " << a.slot << "\n";
  }
  // Each participant reads the task as the service shows it, checks that the
  // function is the version it expects and that the digest is what the
  // shown content hashes to, and approves exactly that digest. Any later
  // change (an argument, an owner, a file, the function version) gives a
  // new digest and voids every approval.
  for (Party* p : participants) {
    CLOISTER_ASSIGN_OR_RETURN(tasks::Task seen, p->tasks->Get(t.task_id()));
    if (seen.function_hash() != spec.function_hash)
      return FailedPrecondition(p->name + ": the task runs another function version than agreed");
    CLOISTER_RETURN_IF_ERROR(sdk::VerifyTaskDigest(seen));
    CLOISTER_RETURN_IF_ERROR(p->tasks->Approve(t.task_id(), seen.digest()).status());
    std::cout << p->name << ": approved digest " << seen.digest() << "\n";
  }
  CLOISTER_RETURN_IF_ERROR(creator.tasks->Invoke(t.task_id()).status());
  sdk::WaitOptions wait{.timeout = std::chrono::minutes(5)};
  wait.on_change = [&](const tasks::Task& now) {
    std::cout << "  state: " << sdk::TaskStateName(now.state()) << "\n";
  };
  CLOISTER_ASSIGN_OR_RETURN(tasks::Task done, creator.tasks->Wait(t.task_id(), wait));
  if (done.state() != tasks::TASK_STATE_SUCCEEDED)
    return FailedPrecondition(job + " ended " + sdk::TaskStateName(done.state()) + ": " +
                              done.end().reason() + " " + done.end().message());
  return done;
}

// Downloads and decrypts `p`'s own outputs of a task into OUT/<party>/<job>
// and prints them (the first lines of each).
Status Receive(Party& p, const tasks::Task& t, const std::string& out, const std::string& job) {
  const std::string dir = out + "/" + p.name + "/" + job;
  CLOISTER_ASSIGN_OR_RETURN(auto fetched, p.tasks->FetchOutputs(t.task_id(), *p.files, dir));
  for (const auto& f : fetched) {
    std::cout << p.name << " received " << f.slot << " (" << f.bytes << " bytes) in " << f.path
              << "\n";
    if (f.slot == "model") continue;  // binary
    std::ifstream in(f.path);
    std::string line;
    for (int n = 0; n < 6 && std::getline(in, line); ++n) std::cout << "    " << line << "\n";
    if (std::getline(in, line)) std::cout << "    ...\n";
  }
  if (fetched.empty()) std::cout << p.name << " received nothing from " << job << "\n";
  return OkStatus();
}

// The caller's own copy of output `slot` of a finished task.
Result<std::string> OwnOutput(const tasks::Task& t, const std::string& slot) {
  for (const auto& o : t.outputs())
    if (o.slot() == slot && o.files_size() == 1) return o.files(0).file_id();
  return NotFound("no output " + slot + " of task " + t.task_id());
}

Status Run(const Flags& flags) {
  const sdk::ClientOptions options{.gateway_address = flags.Get("gateway"),
                                   .trust_path = flags.Get("trust")};
  const std::string out = flags.Get("out");
  CLOISTER_ASSIGN_OR_RETURN(Party bank, SignIn(options, "bank", flags.Get("bank-user"),
                                                flags.Get("bank-password-file")));
  CLOISTER_ASSIGN_OR_RETURN(Party insurer, SignIn(options, "insurer", flags.Get("insurer-user"),
                                                   flags.Get("insurer-password-file")));
  // Each names the other by username; the service knows users by id.
  CLOISTER_ASSIGN_OR_RETURN(std::string insurer_id,
                            bank.tasks->ResolveUser(flags.Get("insurer-user")));
  CLOISTER_ASSIGN_OR_RETURN(std::string bank_id,
                            insurer.tasks->ResolveUser(flags.Get("bank-user")));

  CLOISTER_ASSIGN_OR_RETURN(std::string accounts, UploadCsv(bank, flags.Get("bank-accounts")));
  CLOISTER_ASSIGN_OR_RETURN(std::string training, UploadCsv(bank, flags.Get("bank-training")));
  CLOISTER_ASSIGN_OR_RETURN(std::string claims, UploadCsv(insurer, flags.Get("insurer-claims")));
  CLOISTER_ASSIGN_OR_RETURN(std::string applicants,
                            UploadCsv(insurer, flags.Get("insurer-features")));

  // 1. PSI: set.<party> in, result.<party> out, each result to its party only.
  CLOISTER_ASSIGN_OR_RETURN(auto psi, bank.tasks->functions().RegisterBuiltin(
                                          "psi", {.is_public = true}));
  CLOISTER_ASSIGN_OR_RETURN(
      tasks::Task psi_task,
      RunTask("shared customers (psi)", bank,
              {.function_hash = psi.function().hash(),
               .function_id = psi.function().function_id(),
               .args = {{"column", Str("customer_id")}},
               .inputs = {{"set.bank", bank_id}, {"set.insurer", insurer_id}},
               .outputs = {{"result.bank", {bank_id}}, {"result.insurer", {insurer_id}}}},
              {{&bank, "set.bank", accounts}, {&insurer, "set.insurer", claims}},
              {&bank, &insurer}));
  CLOISTER_RETURN_IF_ERROR(Receive(bank, psi_task, out, "psi"));
  CLOISTER_RETURN_IF_ERROR(Receive(insurer, psi_task, out, "psi"));

  // 2. A Lua function of the bank's, usable by the insurer only (private,
  //    allowlisted): its source is what both approve, through its hash.
  CLOISTER_ASSIGN_OR_RETURN(std::string lua, ReadText(flags.Get("lua")));
  tasks::FunctionSpec spec;  // as in examples/lua/joint_stats.spec.json
  spec.set_name("joint_stats");
  auto add_arg = [&](const std::string& name, tasks::ArgType type) {
    auto* a = spec.add_args();
    a->set_name(name);
    a->set_type(type);
    return a;
  };
  add_arg("key", tasks::ARG_TYPE_STRING)->mutable_default_value()->set_string_value("id");
  add_arg("left_value", tasks::ARG_TYPE_STRING);   // required
  add_arg("right_value", tasks::ARG_TYPE_STRING);  // required
  auto* min_common = add_arg("min_common", tasks::ARG_TYPE_INT);
  min_common->mutable_default_value()->set_int_value(3);
  min_common->mutable_min()->set_value(1);
  spec.add_inputs()->set_name("left");
  spec.add_inputs()->set_name("right");
  spec.add_outputs()->set_name("summary");
  CLOISTER_ASSIGN_OR_RETURN(
      auto stats, bank.tasks->functions().RegisterLua(
                      lua, spec, {.description = "joint stats", .allowed_users = {insurer_id}}));
  CLOISTER_ASSIGN_OR_RETURN(
      tasks::Task stats_task,
      RunTask("joint statistics (Lua)", bank,
              {.function_hash = stats.function().hash(),
               .function_id = stats.function().function_id(),
               .args = {{"key", Str("customer_id")}, {"left_value", Str("balance")},
                        {"right_value", Str("amount")}, {"min_common", Int(3)}},
               .inputs = {{"left", bank_id}, {"right", insurer_id}},
               .outputs = {{"summary", {bank_id, insurer_id}}}},
              {{&bank, "left", accounts}, {&insurer, "right", claims}}, {&bank, &insurer}));
  CLOISTER_RETURN_IF_ERROR(Receive(bank, stats_task, out, "stats"));
  CLOISTER_RETURN_IF_ERROR(Receive(insurer, stats_task, out, "stats"));

  // 3. The bank trains on its own data alone: the model is its output.
  CLOISTER_ASSIGN_OR_RETURN(auto train, bank.tasks->functions().RegisterBuiltin(
                                            "gbdt_train", {.is_public = true}));
  CLOISTER_ASSIGN_OR_RETURN(
      tasks::Task train_task,
      RunTask("model training (gbdt_train, bank only)", bank,
              {.function_hash = train.function().hash(),
               .function_id = train.function().function_id(),
               .args = {{"label", Str("defaulted")}, {"objective", Str("binary")},
                        {"num_trees", Int(20)}, {"max_depth", Int(3)}},
               .inputs = {{"data", bank_id}},
               .outputs = {{"model", {bank_id}}, {"metrics", {bank_id}}}},
              {{&bank, "data", training}}, {&bank}));
  CLOISTER_RETURN_IF_ERROR(Receive(bank, train_task, out, "train"));
  CLOISTER_ASSIGN_OR_RETURN(std::string model, OwnOutput(train_task, "model"));

  //    The insurer asks for predictions on its applicants with the bank's
  //    model: the bank lends the model file to this one task, the insurer
  //    its features; neither receives the other's input, and only the
  //    insurer receives the predictions.
  CLOISTER_ASSIGN_OR_RETURN(auto predict, insurer.tasks->functions().RegisterBuiltin(
                                              "gbdt_predict", {.is_public = true}));
  CLOISTER_ASSIGN_OR_RETURN(
      tasks::Task predict_task,
      RunTask("risk scores (gbdt_predict, to the insurer)", insurer,
              {.function_hash = predict.function().hash(),
               .function_id = predict.function().function_id(),
               .inputs = {{"model", bank_id}, {"data", insurer_id}},
               .outputs = {{"predictions", {insurer_id}}}},
              {{&bank, "model", model}, {&insurer, "data", applicants}}, {&bank, &insurer}));
  CLOISTER_RETURN_IF_ERROR(Receive(insurer, predict_task, out, "predict"));
  CLOISTER_RETURN_IF_ERROR(Receive(bank, predict_task, out, "predict"));

  // Either participant can read the task's history (never another task's).
  std::cout << "\nthe prediction task's log, as the bank sees it:\n";
  CLOISTER_ASSIGN_OR_RETURN(auto events, bank.tasks->Log(predict_task.task_id()));
  const std::map<std::string, std::string> names = {{bank_id, "bank"}, {insurer_id, "insurer"}};
  for (const auto& e : events) {
    auto who = names.find(e.actor());
    std::cout << "  " << e.seq() << " " << e.event() << " by "
              << (who == names.end() ? e.actor() : who->second) << " → "
              << sdk::TaskStateName(e.to_state()) << "\n";
  }
  (void)bank.client->Logout();
  (void)insurer.client->Logout();
  return OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << flags.error().message() << "\nusage: " << argv[0];
    for (const char* r : kRequired) std::cerr << " --" << r << " V";
    std::cerr << "\n";
    return 2;
  }
  cloister::Status st = Run(*flags);
  if (!st.ok()) {
    std::cerr << "two_party_journey: " << st.error().ToString() << "\n";
    return 1;
  }
  std::cout << "\ndone: every output is under " << flags->Get("out") << "\n";
  return 0;
}
