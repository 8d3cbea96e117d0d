// TOML configuration access (toml++) with errors that name the file, the
// key and the reason, e.g. "cluster.toml: key 'gateway.port': expected an
// integer in 1..65535, got 70000".
//
//   CLOISTER_ASSIGN_OR_RETURN(auto cfg, ConfigFile::Load(path));
//   CLOISTER_ASSIGN_OR_RETURN(int64_t level, cfg.GetInt("cluster.security_level", 2, 1, 5));
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister {

class ConfigFile {
 public:
  // InvalidArgument with line/column on a TOML syntax error.
  static Result<ConfigFile> Load(const std::string& path);
  static Result<ConfigFile> Parse(std::string_view text, std::string source_name);

  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

  const std::string& source() const { return source_; }

  // Dotted keys ("a.b.c"). A missing key yields the default; a key of the
  // wrong type or out of range is an error.
  Result<std::string> GetString(std::string_view key, std::string_view def) const;
  Result<std::string> RequireString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key, int64_t def, int64_t min, int64_t max) const;
  Result<bool> GetBool(std::string_view key, bool def) const;
  Result<double> GetDouble(std::string_view key, double def, double min, double max) const;
  Result<std::vector<std::string>> GetStringList(std::string_view key) const;
  bool Has(std::string_view key) const;
  // Keys of a table (empty if absent).
  std::vector<std::string> TableKeys(std::string_view key) const;

  // Rejects any key not in `allowed` (dotted, "table.*" allows a subtree):
  // a typo in a config must stop the service, not be silently ignored.
  Status CheckKnownKeys(const std::vector<std::string>& allowed) const;

 private:
  struct Impl;
  ConfigFile(std::unique_ptr<Impl> impl, std::string source);
  Error KeyError(std::string_view key, std::string_view reason) const;
  std::unique_ptr<Impl> impl_;
  std::string source_;
};

}  // namespace cloister
