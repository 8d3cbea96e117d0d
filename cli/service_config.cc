// `--print-config` of a service binary; see service_config.h.
#include "cli/service_config.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "attestation/enclave_config.h"
#include "common/fs.h"
#include "common/sys/process.h"

namespace cloister::cli {

Result<ServiceConfigText> AskServiceConfig(std::vector<std::string> argv,
                                           const std::string& scratch_dir) {
  if (argv.empty()) return InvalidArgument("no binary to ask for its configuration");
  const std::string bin = argv.front();
  argv.push_back("--print-config");
  const std::string base = scratch_dir + "/print-config." + std::to_string(::getpid());
  const std::string out_path = base + ".out", err_path = base + ".err";
  sys::SpawnOptions o;
  o.stdin_to = sys::Redirect::DevNull();
  o.stdout_to = sys::Redirect::Truncate(out_path);
  o.stderr_to = sys::Redirect::Truncate(err_path);
  CLOISTER_ASSIGN_OR_RETURN(sys::Process proc, sys::Process::Spawn(argv, o));
  auto st = proc.Wait(std::chrono::seconds(30));
  auto out = ReadFile(out_path, 1 << 20);
  auto err = ReadFile(err_path, 1 << 16);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  if (!st.ok() || !st->success())
    return FailedPrecondition(bin + " --print-config failed (" +
                              (st.ok() ? st->ToString() : st.error().message()) + "): " +
                              (err.ok() ? *err : std::string()));
  if (!out.ok()) return out.error().WithContext(bin + " --print-config");
  auto j = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["config_id"].is_string() || !j["text"].is_string())
    return FailedPrecondition(bin + " --print-config printed no configuration");
  ServiceConfigText c;
  c.text = j["text"].get<std::string>();
  const crypto::Digest id = attestation::ConfigIdOfText(c.text);
  if (HexEncode(id) != j["config_id"].get<std::string>())
    return FailedPrecondition(bin + " --print-config: the id is not the digest of the text");
  c.config_id = id;
  return c;
}

}  // namespace cloister::cli
