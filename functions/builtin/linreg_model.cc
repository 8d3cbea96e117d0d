// JSON (de)serialisation of the linreg model; non-throwing use of
// nlohmann::json (parse with allow_exceptions = false, check every type
// before reading), since no exception may cross a module boundary.
#include "functions/builtin/linreg_model.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

namespace cloister::functions::builtin {
namespace {

Error Bad(std::string what) {
  return InvalidArgument("linreg model: " + what, "LINREG_BAD_MODEL");
}

Result<double> FiniteNumber(const nlohmann::json& j, const char* field) {
  if (!j.is_number()) return Bad(std::string("'") + field + "' must be a number");
  const double v = j.get<double>();
  if (!std::isfinite(v)) return Bad(std::string("'") + field + "' must be finite");
  return v;
}

}  // namespace

std::string SerializeLinregModel(const LinregModel& m) {
  nlohmann::json j;
  j["format"] = kLinregFormat;
  j["label"] = m.label;
  j["features"] = m.features;
  j["coefficients"] = m.coefficients;
  j["intercept"] = m.intercept;
  j["fit_intercept"] = m.fit_intercept;
  j["lambda"] = m.lambda;
  // Invalid UTF-8 in column names is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<LinregModel> ParseLinregModel(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                 /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  static const std::set<std::string> kKnown = {"format",    "label",         "features",
                                               "coefficients", "intercept", "fit_intercept",
                                               "lambda"};
  for (const auto& [key, value] : j.items())
    if (!kKnown.count(key)) return Bad("unknown field '" + key.substr(0, 64) + "'");
  auto field = [&](const char* name) -> const nlohmann::json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const auto* format = field("format");
  if (format == nullptr || !format->is_string() ||
      format->get_ref<const std::string&>() != kLinregFormat)
    return Bad("'format' must be \"" + std::string(kLinregFormat) + "\"");

  LinregModel m;
  const auto* label = field("label");
  if (label == nullptr || !label->is_string()) return Bad("'label' must be a string");
  m.label = label->get<std::string>();

  const auto* features = field("features");
  const auto* coefs = field("coefficients");
  if (features == nullptr || !features->is_array() || features->empty())
    return Bad("'features' must be a non-empty array of names");
  if (coefs == nullptr || !coefs->is_array() || coefs->size() != features->size())
    return Bad("'coefficients' must be an array as long as 'features'");
  std::set<std::string> seen;
  for (const auto& f : *features) {
    if (!f.is_string() || f.get_ref<const std::string&>().empty())
      return Bad("feature names must be non-empty strings");
    if (!seen.insert(f.get<std::string>()).second)
      return Bad("duplicate feature '" + f.get<std::string>().substr(0, 64) + "'");
    m.features.push_back(f.get<std::string>());
  }
  for (const auto& c : *coefs) {
    CLOISTER_ASSIGN_OR_RETURN(double v, FiniteNumber(c, "coefficients"));
    m.coefficients.push_back(v);
  }
  const auto* intercept = field("intercept");
  if (intercept == nullptr) return Bad("'intercept' is missing");
  CLOISTER_ASSIGN_OR_RETURN(m.intercept, FiniteNumber(*intercept, "intercept"));
  if (const auto* fi = field("fit_intercept")) {
    if (!fi->is_boolean()) return Bad("'fit_intercept' must be a boolean");
    m.fit_intercept = fi->get<bool>();
  }
  if (const auto* lambda = field("lambda")) {
    CLOISTER_ASSIGN_OR_RETURN(m.lambda, FiniteNumber(*lambda, "lambda"));
  }
  return m;
}

}  // namespace cloister::functions::builtin
