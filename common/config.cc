// TOML config access over toml++; see config.h.
#include "common/config.h"

// Debian's libtomlplusplus is built with exceptions; parse errors are
// caught here so none crosses this file.
#include <toml++/toml.h>

#include <functional>
#include <sstream>

#include "common/fs.h"

namespace cloister {

struct ConfigFile::Impl {
  toml::table table;
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl, std::string source)
    : impl_(std::move(impl)), source_(std::move(source)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

Result<ConfigFile> ConfigFile::Load(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4u << 20));
  return Parse(text, path);
}

Result<ConfigFile> ConfigFile::Parse(std::string_view text, std::string source_name) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->table = toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column
        << ": " << e.description();
    return InvalidArgument(msg.str(), "CONFIG_SYNTAX");
  }
  return ConfigFile(std::move(impl), std::move(source_name));
}

Error ConfigFile::KeyError(std::string_view key, std::string_view reason) const {
  return InvalidArgument(source_ + ": key '" + std::string(key) + "': " + std::string(reason),
                         "CONFIG_INVALID");
}

namespace {
toml::node_view<const toml::node> Find(const toml::table& t, std::string_view key) {
  return t.at_path(key);
}
}  // namespace

bool ConfigFile::Has(std::string_view key) const { return static_cast<bool>(Find(impl_->table, key)); }

Result<std::string> ConfigFile::GetString(std::string_view key, std::string_view def) const {
  auto n = Find(impl_->table, key);
  if (!n) return std::string(def);
  if (auto v = n.value<std::string>(); v && n.is_string()) return *v;
  return KeyError(key, "expected a string");
}

Result<std::string> ConfigFile::RequireString(std::string_view key) const {
  auto n = Find(impl_->table, key);
  if (!n) return KeyError(key, "is required");
  if (!n.is_string()) return KeyError(key, "expected a string");
  return *n.value<std::string>();
}

Result<int64_t> ConfigFile::GetInt(std::string_view key, int64_t def, int64_t min,
                                   int64_t max) const {
  auto n = Find(impl_->table, key);
  if (!n) return def;
  if (!n.is_integer()) return KeyError(key, "expected an integer");
  int64_t v = *n.value<int64_t>();
  if (v < min || v > max)
    return KeyError(key, "expected an integer in " + std::to_string(min) + ".." +
                             std::to_string(max) + ", got " + std::to_string(v));
  return v;
}

Result<bool> ConfigFile::GetBool(std::string_view key, bool def) const {
  auto n = Find(impl_->table, key);
  if (!n) return def;
  if (!n.is_boolean()) return KeyError(key, "expected true or false");
  return *n.value<bool>();
}

Result<double> ConfigFile::GetDouble(std::string_view key, double def, double min,
                                     double max) const {
  auto n = Find(impl_->table, key);
  if (!n) return def;
  if (!n.is_number()) return KeyError(key, "expected a number");
  // toml++ gives no double for an integer it cannot convert exactly
  // (e.g. 2^53 + 1); nan fails every comparison, so test for the range.
  std::optional<double> got = n.value<double>();
  if (!got) return KeyError(key, "expected a number that is exact as a double");
  double v = *got;
  if (!(v >= min && v <= max))
    return KeyError(key, "expected a number in " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

Result<std::vector<std::string>> ConfigFile::GetStringList(std::string_view key) const {
  std::vector<std::string> out;
  auto n = Find(impl_->table, key);
  if (!n) return out;
  const toml::array* arr = n.as_array();
  if (arr == nullptr) return KeyError(key, "expected an array of strings");
  for (const auto& el : *arr) {
    if (!el.is_string()) return KeyError(key, "expected an array of strings");
    out.push_back(*el.value<std::string>());
  }
  return out;
}

std::vector<std::string> ConfigFile::TableKeys(std::string_view key) const {
  std::vector<std::string> out;
  const toml::table* t = key.empty() ? &impl_->table : Find(impl_->table, key).as_table();
  if (t == nullptr) return out;
  for (const auto& [k, v] : *t) out.emplace_back(k.str());
  return out;
}

Status ConfigFile::CheckKnownKeys(const std::vector<std::string>& allowed) const {
  auto is_allowed = [&](const std::string& path) {
    for (const auto& a : allowed) {
      if (a == path) return true;
      if (a.size() > 2 && a.compare(a.size() - 2, 2, ".*") == 0 &&
          path.compare(0, a.size() - 1, a, 0, a.size() - 1) == 0)
        return true;
    }
    return false;
  };
  std::optional<Error> err;
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& t, const std::string& prefix) {
        for (const auto& [k, v] : t) {
          if (err) return;
          std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
          if (const toml::table* sub = v.as_table()) {
            if (is_allowed(path) && !is_allowed(path + ".x")) continue;
            walk(*sub, path);
          } else if (!is_allowed(path)) {
            err = KeyError(path, "unknown key (typo?)");
          }
        }
      };
  walk(impl_->table, "");
  if (err) return *err;
  return OkStatus();
}

}  // namespace cloister
