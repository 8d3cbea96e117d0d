// The pure helpers of `cloister function|task`: spec files (every field a
// mistake can hide in is named), `--arg` typed by the spec, slot bindings,
// and the --json keys scripts rely on.
#include "cli/task_format.h"

#include <gtest/gtest.h>

#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

constexpr const char* kSpec = R"({
  "name": "joint_stats",
  "description": "joint aggregate",
  "args": [
    {"name": "key", "type": "string", "default": "id"},
    {"name": "min_common", "type": "int", "default": 5, "min": 1, "max": 1000},
    {"name": "scale", "type": "double", "default": 1.5},
    {"name": "strict", "type": "bool", "default": false},
    {"name": "label", "type": "string"}
  ],
  "inputs": [{"name": "left"}, {"name": "right", "optional": true},
             {"name": "set", "variadic": true, "max_count": 8}],
  "outputs": [{"name": "summary", "help": "the aggregate"}],
  "limits": {"memory_bytes": 1048576, "instructions": 1000000, "wall_time_ms": 2000}
})";

tasks::FunctionSpec Spec() {
  auto s = ParseSpecFile(kSpec);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? s->spec : tasks::FunctionSpec();
}

TEST(SpecFileTest, ParsesEveryFieldIntoTheProto) {
  auto s = ParseSpecFile(kSpec);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->description, "joint aggregate");
  const tasks::FunctionSpec& p = s->spec;
  EXPECT_EQ(p.name(), "joint_stats");
  ASSERT_EQ(p.args_size(), 5);
  EXPECT_EQ(p.args(0).type(), tasks::ARG_TYPE_STRING);
  EXPECT_EQ(p.args(0).default_value().string_value(), "id");
  EXPECT_EQ(p.args(1).type(), tasks::ARG_TYPE_INT);
  EXPECT_EQ(p.args(1).default_value().int_value(), 5);
  EXPECT_DOUBLE_EQ(p.args(1).min().value(), 1);
  EXPECT_DOUBLE_EQ(p.args(1).max().value(), 1000);
  EXPECT_EQ(p.args(2).default_value().double_value(), 1.5);
  EXPECT_FALSE(p.args(3).default_value().bool_value());
  EXPECT_TRUE(p.args(3).default_value().has_bool_value());
  EXPECT_FALSE(p.args(4).has_default_value());
  ASSERT_EQ(p.inputs_size(), 3);
  EXPECT_TRUE(p.inputs(1).optional());
  EXPECT_TRUE(p.inputs(2).variadic());
  EXPECT_EQ(p.inputs(2).max_count(), 8);
  ASSERT_EQ(p.outputs_size(), 1);
  EXPECT_EQ(p.outputs(0).help(), "the aggregate");
  EXPECT_EQ(p.limits().memory_bytes(), 1048576u);
  EXPECT_EQ(p.limits().instructions(), 1000000u);
  EXPECT_EQ(p.limits().wall_time_ms(), 2000u);
}

TEST(SpecFileTest, EveryMistakeNamesItsField) {
  struct Case {
    const char* json;
    const char* names;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "JSON object"},
      {R"({"args": []})", "name is required"},
      {R"({"name": "f", "output": [{"name": "x"}]})", "unknown field 'output'"},
      {R"({"name": "f", "args": [{"name": "n", "type": "integer"}]})", "'integer'"},
      {R"({"name": "f", "args": [{"name": "n", "type": "int", "default": "x"}]})", "'n'"},
      {R"({"name": "f", "args": [{"name": "n", "type": "int", "min": "0"}]})", "args[0].min"},
      {R"({"name": "f", "inputs": [{"name": "a b"}]})", "'a b'"},
      {R"({"name": "f", "limits": {"memory_bytes": -1}})", "limits.memory_bytes"},
      {R"({"name": "f", "limits": {"memory": 1}})", "limits.memory"},
      {R"({"name": "f", "limits": 3})", "limits must be an object"},
  };
  for (const auto& c : cases) {
    auto r = ParseSpecFile(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << c.json;
    EXPECT_EQ(r.error().reason(), kBadFunctionSpec) << c.json;
    EXPECT_NE(r.error().message().find(c.names), std::string::npos)
        << c.json << " → " << r.error().message();
  }
}

TEST(SpecFileTest, TheExampleSpecsParse) {
  // The shape of examples/lua/*.spec.json, variadic and all.
  auto r = ParseSpecFile(R"({"name": "psi_normalized", "description": "d",
    "inputs": [{"name": "set", "variadic": true, "min_count": 2, "max_count": 64}],
    "outputs": [{"name": "result", "variadic": true, "min_count": 2, "max_count": 64}]})");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->spec.inputs(0).min_count(), 2);
  EXPECT_EQ(r->spec.limits().memory_bytes(), 0u);
}

TEST(TaskArgsTest, ConvertsEachArgumentToItsType) {
  auto a = ParseTaskArgs(Spec(), {"key=customer_id", "min_common=10", "scale=-2.25",
                                  "strict=yes", "label=a=b"});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->at("key").string_value(), "customer_id");
  EXPECT_EQ(a->at("min_common").int_value(), 10);
  EXPECT_EQ(a->at("scale").double_value(), -2.25);
  EXPECT_TRUE(a->at("strict").bool_value());
  EXPECT_EQ(a->at("label").string_value(), "a=b");  // only the first '=' splits
  // Defaults are the service's to fill: only what was given is sent.
  auto b = ParseTaskArgs(Spec(), {"label="});
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->size(), 1u);
  EXPECT_EQ(b->at("label").string_value(), "");
}

TEST(TaskArgsTest, RefusalsNameTheArgument) {
  struct Case {
    std::vector<std::string> args;
    const char* names;
  };
  const Case cases[] = {
      {{"label=x", "min_common=ten"}, "argument 'min_common' wants an integer, got 'ten'"},
      {{"label=x", "min_common=1.5"}, "'min_common' wants an integer"},
      {{"label=x", "min_common=99999999999999999999"}, "within int64"},
      {{"label=x", "min_common=0"}, "'min_common' = 0 is below its minimum 1"},
      {{"label=x", "min_common=1001"}, "above its maximum 1000"},
      {{"label=x", "scale=nan"}, "'scale' wants a finite number"},
      {{"label=x", "scale=1e999"}, "'scale' wants a finite number"},
      {{"label=x", "strict=maybe"}, "'strict' wants true or false"},
      {{"label=x", "colour=red"}, "has no argument 'colour'; its arguments: key (string)"},
      {{"label=x", "label=y"}, "'label' is given twice"},
      {{"key=x"}, "argument 'label' is required"},
      {{"label"}, "--arg wants NAME=VALUE"},
  };
  for (const auto& c : cases) {
    auto r = ParseTaskArgs(Spec(), c.args);
    ASSERT_FALSE(r.ok()) << c.names;
    EXPECT_EQ(r.code(), Code::kInvalidArgument);
    EXPECT_EQ(r.error().reason(), kArgsInvalid);
    EXPECT_NE(r.error().message().find(c.names), std::string::npos)
        << "want '" << c.names << "' in: " << r.error().message();
  }
}

TEST(SlotBindingTest, ParsesOwnersAndRefusesMalformedOnes) {
  auto in = ParseSlotBinding("set.bank=bank", "--input", false);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->slot, "set.bank");
  EXPECT_EQ(in->users, std::vector<std::string>{"bank"});
  auto out = ParseSlotBinding("summary=bank,insurer,bank", "--output", true);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->users, (std::vector<std::string>{"bank", "insurer"}));
  for (const char* bad : {"summary", "=bank", "summary=", "summary=bank,,x"}) {
    auto r = ParseSlotBinding(bad, "--output", true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().reason(), kBindingInvalid);
    EXPECT_NE(r.error().message().find("--output"), std::string::npos);
  }
  auto two = ParseSlotBinding("left=bank,insurer", "--input", false);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message().find("exactly one owner"), std::string::npos);
}

TEST(SlotBindingTest, ChecksSlotsAgainstTheSpec) {
  const tasks::FunctionSpec spec = Spec();
  EXPECT_TRUE(CheckSlot(spec, "left", true).ok());
  EXPECT_TRUE(CheckSlot(spec, "set.bank", true).ok());
  EXPECT_TRUE(CheckSlot(spec, "summary", false).ok());
  auto unknown = CheckSlot(spec, "middle", true);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().reason(), kSlotUnknown);
  EXPECT_NE(unknown.error().message().find("left, right (optional), set.<party>"),
            std::string::npos)
      << unknown.error().message();
  EXPECT_NE(CheckSlot(spec, "set", true).error().message().find("set.<party>"),
            std::string::npos);
  EXPECT_FALSE(CheckSlot(spec, "left.bank", true).ok());
  EXPECT_FALSE(CheckSlot(spec, "left", false).ok());  // an input is not an output
}

tasks::Task SampleTask() {
  tasks::Task t;
  t.set_task_id(std::string(32, 'a'));
  t.set_function_hash(std::string(64, 'b'));
  t.set_function_name("psi");
  t.set_function_id(std::string(32, 'c'));
  t.set_creator_user_id("u-" + std::string(32, '1'));
  t.set_state(tasks::TASK_STATE_CREATED);
  t.set_version(3);
  (*t.mutable_args())["column"].set_string_value("id");
  (*t.mutable_args())["max_id_bytes"].set_int_value(64);
  auto* in = t.add_inputs();
  in->set_slot("set.bank");
  in->set_owner_user_id("u-" + std::string(32, '1'));
  in->set_file_id(std::string(32, 'f'));
  in->set_ciphertext_sha256(std::string(32, '\x11'));
  auto* in2 = t.add_inputs();
  in2->set_slot("set.insurer");
  in2->set_owner_user_id("u-" + std::string(32, '2'));
  auto* out = t.add_outputs();
  out->set_slot("result.bank");
  out->add_owner_user_ids("u-" + std::string(32, '1'));
  t.add_missing("waiting for insurer to assign slot `set.insurer`");
  auto digest = sdk::ComputeTaskDigest(t);
  EXPECT_TRUE(digest.ok());
  t.set_digest(*digest);
  return t;
}

TEST(TaskJsonTest, CarriesTheKeysScriptsUse) {
  const tasks::Task t = SampleTask();
  const auto j = TaskJson(t);
  EXPECT_EQ(j["task_id"], t.task_id());
  EXPECT_EQ(j["state"], "Created");
  EXPECT_EQ(j["digest"], t.digest());
  EXPECT_TRUE(j["digest_verified"].get<bool>());
  ASSERT_TRUE(j["missing"].is_array());
  EXPECT_EQ(j["missing"][0], "waiting for insurer to assign slot `set.insurer`");
  EXPECT_EQ(j["args"]["max_id_bytes"], 64);
  EXPECT_EQ(j["inputs"][0]["ciphertext_sha256"], std::string(64, '1'));
  EXPECT_FALSE(j["inputs"][1]["assigned"].get<bool>());
  EXPECT_TRUE(j["end"].is_null());

  // A task whose shown content does not hash to its digest says so.
  tasks::Task lying = t;
  (*lying.mutable_args())["column"].set_string_value("ssn");
  EXPECT_FALSE(TaskJson(lying)["digest_verified"].get<bool>());
  EXPECT_NE(FormatTask(lying, "").find("DOES NOT MATCH"), std::string::npos);
}

TEST(TaskJsonTest, TextShowsWhatIsMissingAndWhoYouAre) {
  const tasks::Task t = SampleTask();
  const std::string text = FormatTask(t, "u-" + std::string(32, '1'));
  EXPECT_NE(text.find("state:        Created"), std::string::npos) << text;
  EXPECT_NE(text.find(t.digest()), std::string::npos);
  EXPECT_NE(text.find("verified here"), std::string::npos);
  EXPECT_NE(text.find("column = \"id\""), std::string::npos);
  EXPECT_NE(text.find("set.insurer  owner u-" + std::string(32, '2') + "  not assigned yet"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(you)"), std::string::npos);
  EXPECT_NE(text.find("  - waiting for insurer"), std::string::npos);
  EXPECT_EQ(WaitLine(t), "Created: waiting for insurer to assign slot `set.insurer`");

  tasks::Task failed = t;
  failed.set_state(tasks::TASK_STATE_FAILED);
  failed.mutable_end()->set_reason("LUA_MEMORY_LIMIT");
  failed.mutable_end()->set_message("memory limit exceeded");
  failed.mutable_end()->set_by_user_id("service:exec");
  EXPECT_EQ(WaitLine(failed),
            "Failed: LUA_MEMORY_LIMIT: memory limit exceeded (by service:exec)");
  EXPECT_EQ(TaskJson(failed)["end"]["reason"], "LUA_MEMORY_LIMIT");
}

TEST(FunctionJsonTest, CarriesIdHashAndSpec) {
  tasks::FunctionVersion f;
  f.set_function_id(std::string(32, 'd'));
  f.set_hash(std::string(64, 'e'));
  f.set_version(2);
  f.set_kind(tasks::FUNCTION_KIND_LUA);
  *f.mutable_spec() = Spec();
  const auto j = FunctionJson(f);
  EXPECT_EQ(j["function_id"], f.function_id());
  EXPECT_EQ(j["hash"], f.hash());
  EXPECT_EQ(j["kind"], "lua");
  EXPECT_EQ(j["name"], "joint_stats");
  EXPECT_EQ(j["spec"]["args"][1]["default"], 5);
  EXPECT_TRUE(j["spec"]["args"][4]["required"].get<bool>());
  EXPECT_EQ(j["spec"]["limits"]["wall_time_ms"], 2000);
  const std::string text = FormatFunction(f);
  EXPECT_NE(text.find("min_common  int  default 5  min 1  max 1000"), std::string::npos) << text;
  EXPECT_NE(text.find("set.<party>  1..8 parties"), std::string::npos) << text;
}

}  // namespace
}  // namespace cloister::cli
