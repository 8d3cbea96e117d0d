// `cloister call FUNCTION` and `cloister functions`: one-shot calls through
// the attested gateway into the execution enclave, with the saved session.
//
//   cloister call echo --input data=notes.txt
//   cloister call linreg_train --input data=train.csv --arg target=y --arg lambda:double=0.1
//   cloister --json call echo --input data=img.png --output-dir out/
#include <filesystem>
#include <iostream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/fs.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxInputBytes = 60u << 20;  // under the 64 MiB message limit

struct CallFlags {
  std::string function;
  std::vector<std::string> args;    // name[:type]=value
  std::vector<std::string> inputs;  // name=path
  std::string output_dir;
};

std::pair<std::string, std::string> SplitKv(const std::string& kv, const char* what) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    Fail("call", std::string(what) + " '" + kv + "' must look like name=value");
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// Printable when valid UTF-8 without NULs or other control bytes (except
// tab/newline/CR), so a terminal is never fed binary.
bool IsText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Output names come from the server: never let one escape the directory.
std::string SafeOutputPath(const std::string& dir, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    Fail("call", "refusing to write an output named '" + name + "'");
  return (fs::path(dir) / name).string();
}

void RunCall(const CallFlags& f, const Globals& g) {
  sdk::Arguments args;
  for (const auto& kv : f.args) {
    auto [key, value] = SplitKv(kv, "--arg");
    std::string type;
    if (auto colon = key.find(':'); colon != std::string::npos) {
      type = key.substr(colon + 1);
      key = key.substr(0, colon);
    }
    auto v = sdk::ParseArgumentValue(value, type);
    if (!v.ok()) Fail("call", "--arg " + key + ": " + v.error().message());
    args[key] = *v;
  }
  sdk::Inputs inputs;
  for (const auto& kv : f.inputs) {
    auto [name, path] = SplitKv(kv, "--input");
    auto data = ReadFile(path, kMaxInputBytes);
    if (!data.ok()) FailError("call", data.error().WithContext("--input " + name));
    inputs[name] = std::move(*data);
  }

  auto client = ConnectForCommand(g, "call", true);
  auto result = client->Call(f.function, args, inputs);
  PersistSession(g, *client);
  if (!result.ok()) {
    if (g.json) PrintJson({{"ok", false}, {"error", ErrorJson(result.error())}});
    FailError("call", result.error());
  }

  std::string dir = f.output_dir;
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) Fail("call", "cannot create " + dir + ": " + ec.message());
  }
  nlohmann::json outs = nlohmann::json::object();
  for (const auto& [name, bytes] : result->outputs()) {
    const bool text = IsText(bytes);
    nlohmann::json o = {{"bytes", bytes.size()}};
    // Binary outputs always go to files (current directory by default).
    std::string out_dir = !dir.empty() ? dir : (text ? "" : ".");
    if (!out_dir.empty()) {
      std::string path = SafeOutputPath(out_dir, name);
      Status st = WriteFileAtomic(path, bytes, 0600);
      if (!st.ok()) FailError("call", st.error());
      o["file"] = path;
    }
    if (text) o["text"] = bytes;
    outs[name] = o;
    if (!g.json) {
      if (o.contains("file")) {
        std::cout << "output " << name << ": " << bytes.size() << " bytes -> "
                  << o["file"].get<std::string>() << "\n";
      } else {
        std::cout << "== output " << name << " (" << bytes.size() << " bytes) ==\n" << bytes;
        if (!bytes.empty() && bytes.back() != '\n') std::cout << "\n";
      }
    }
  }
  if (g.json) {
    PrintJson({{"ok", true},
               {"function", result->function().empty() ? f.function : result->function()},
               {"duration_us", result->duration_us()},
               {"outputs", outs}});
  } else {
    std::cout << "(" << f.function << " ran in the execution enclave in "
              << result->duration_us() / 1000.0 << " ms)\n";
  }
}

void RunFunctions(const Globals& g) {
  auto client = ConnectForCommand(g, "functions", true);
  auto fns = client->ListFunctions();
  PersistSession(g, *client);
  if (!fns.ok()) FailError("functions", fns.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& fn : *fns)
      arr.push_back({{"name", fn.name()},
                     {"description", fn.description()},
                     {"args", std::vector<std::string>(fn.args().begin(), fn.args().end())},
                     {"inputs", std::vector<std::string>(fn.inputs().begin(), fn.inputs().end())},
                     {"outputs",
                      std::vector<std::string>(fn.outputs().begin(), fn.outputs().end())}});
    PrintJson(arr);
    return;
  }
  auto join = [](const auto& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& fn : *fns)
    rows.push_back({fn.name(), join(fn.inputs()), join(fn.outputs()), join(fn.args())});
  PrintTable({"FUNCTION", "INPUTS", "OUTPUTS", "ARGS"}, rows);
}

CommandRegistrar reg("call", [](CLI::App& app, Globals& g) {
  auto flags = std::make_shared<CallFlags>();
  auto* call = app.add_subcommand("call", "run a function once in the execution enclave");
  call->add_option("function", flags->function, "function name, e.g. echo")->required();
  call->add_option("--arg,-a", flags->args,
                   "argument name[:type]=value; type string (default), int, double, bool");
  call->add_option("--input,-i", flags->inputs, "input slot name=path (repeatable)");
  call->add_option("--output-dir,-o", flags->output_dir,
                   "write every output here (binary outputs go to files anyway)");
  call->add_flag("--json", g.json, "machine-readable output");
  call->callback([flags, &g] { RunCall(*flags, g); });

  auto* fns = app.add_subcommand("functions", "list the functions the cluster can run");
  fns->add_flag("--json", g.json, "machine-readable output");
  fns->callback([&g] { RunFunctions(g); });
});

}  // namespace
}  // namespace cloister::cli
