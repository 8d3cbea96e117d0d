// The `linreg_train` / `linreg_predict` built-ins: argument handling, CSV in,
// model/metrics/predictions out.
#include "functions/builtin/linreg.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "functions/builtin/csv.h"
#include "functions/builtin/least_squares.h"
#include "functions/builtin/linreg_model.h"
#include "functions/builtin/spec_util.h"

namespace cloister::functions::builtin {
namespace {

Result<CsvOptions> CsvArgs(const Args& args) {
  CLOISTER_ASSIGN_OR_RETURN(std::string delim, args.GetString("delimiter"));
  if (delim.size() != 1 || delim[0] == '"' || delim[0] == '\n' || delim[0] == '\r')
    return InvalidArgument("argument 'delimiter' must be one character (not a quote or newline)",
                           "BAD_ARGUMENT");
  CsvOptions o;
  o.delimiter = delim[0];
  return o;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "a, b,c" → {"a","b","c"}; empty → every column except the label.
Result<std::vector<std::string>> FeatureList(std::string_view list, const std::string& label,
                                             const std::vector<std::string>& header) {
  std::vector<std::string> out;
  if (TrimSpaces(list).empty()) {
    for (const auto& h : header)
      if (h != label) out.push_back(h);
    return out;
  }
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string name(TrimSpaces(list.substr(pos, comma - pos)));
    if (name.empty())
      return InvalidArgument("argument 'features': empty column name", "BAD_ARGUMENT");
    if (name == label)
      return InvalidArgument("argument 'features' contains the label '" + label + "'",
                             "BAD_ARGUMENT");
    if (!seen.insert(name).second)
      return InvalidArgument("argument 'features' lists '" + name + "' twice", "BAD_ARGUMENT");
    out.push_back(std::move(name));
    pos = comma + 1;
  }
  return out;
}

class LinregTrain final : public Function {
 public:
  LinregTrain() {
    spec_.name = "linreg_train";
    spec_.description = "Fits y = intercept + Σ βᵢ·xᵢ by least squares (OLS, or ridge with lambda > 0).";
    spec_.args = {
        StringArg("label", std::nullopt, "name of the column to predict"),
        StringArg("features", "", "comma-separated feature columns; empty: all but the label"),
        DoubleArg("lambda", 0.0, 0.0, 1e300, "ridge penalty λ·‖β‖² (intercept not penalised)"),
        BoolArg("intercept", true, "fit an intercept"),
        StringArg("missing", "error", "rows with a missing value: error | skip"),
        StringArg("solver", "auto", "auto (Cholesky, QR when ill-conditioned) | qr"),
        StringArg("delimiter", ",", "CSV delimiter"),
    };
    spec_.inputs = {Slot("data", "CSV with a header row")};
    spec_.outputs = {Slot("model", "JSON model (format cloister.linreg.v1)"),
                     Slot("metrics", "JSON fit metrics")};
  }
  const FunctionSpec& spec() const override { return spec_; }

  Status Run(Runtime& rt) const override {
    const Args& args = rt.args();
    CLOISTER_ASSIGN_OR_RETURN(std::string label, args.GetString("label"));
    CLOISTER_ASSIGN_OR_RETURN(std::string feature_arg, args.GetString("features"));
    CLOISTER_ASSIGN_OR_RETURN(double lambda, args.GetDouble("lambda"));
    CLOISTER_ASSIGN_OR_RETURN(bool intercept, args.GetBool("intercept"));
    CLOISTER_ASSIGN_OR_RETURN(std::string missing_arg, args.GetString("missing"));
    CLOISTER_ASSIGN_OR_RETURN(std::string solver, args.GetString("solver"));
    CLOISTER_ASSIGN_OR_RETURN(CsvOptions csv, CsvArgs(args));
    CLOISTER_ASSIGN_OR_RETURN(MissingPolicy missing, ParseMissingPolicy(missing_arg, "missing"));
    if (missing == MissingPolicy::kNaN)
      return InvalidArgument("argument 'missing' must be error|skip for linreg_train",
                             "BAD_ARGUMENT");
    if (solver != "auto" && solver != "qr")
      return InvalidArgument("argument 'solver' must be auto|qr", "BAD_ARGUMENT");

    CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input("data"));
    std::vector<std::string> features;
    {
      CLOISTER_ASSIGN_OR_RETURN(CsvReader header, CsvReader::Open(data, csv));
      CLOISTER_RETURN_IF_ERROR(header.ColumnIndex(label));
      CLOISTER_ASSIGN_OR_RETURN(features, FeatureList(feature_arg, label, header.header()));
    }
    std::vector<std::string> columns = features;
    columns.push_back(label);
    CLOISTER_ASSIGN_OR_RETURN(NumericTable t, ReadNumeric(data, columns, missing, csv));

    LeastSquaresProblem p;
    p.xy = t.values;
    p.rows = t.rows;
    p.cols = features.size();
    p.names = features;
    LeastSquaresOptions o;
    o.lambda = lambda;
    o.intercept = intercept;
    o.force_qr = solver == "qr";
    CLOISTER_ASSIGN_OR_RETURN(LeastSquaresFit fit, SolveLeastSquares(p, o));

    LinregModel m;
    m.label = label;
    m.features = features;
    m.coefficients = fit.coefficients;
    m.intercept = fit.intercept;
    m.fit_intercept = intercept;
    m.lambda = lambda;
    nlohmann::json metrics;
    metrics["rows"] = t.rows;
    metrics["skipped_rows"] = t.skipped_rows;
    metrics["features"] = features.size();
    metrics["r2"] = fit.r2;
    metrics["rmse"] = fit.rmse;
    metrics["solver"] = fit.solver;
    // JSON has no infinity: an unbounded condition number is null.
    metrics["condition"] = std::isfinite(fit.condition) ? nlohmann::json(fit.condition)
                                                        : nlohmann::json(nullptr);
    CLOISTER_RETURN_IF_ERROR(rt.Write("model", SerializeLinregModel(m)));
    return rt.Write("metrics", metrics.dump() + "\n");
  }

 private:
  FunctionSpec spec_;
};

class LinregPredict final : public Function {
 public:
  LinregPredict() {
    spec_.name = "linreg_predict";
    spec_.description = "Applies a linreg_train model to CSV rows.";
    spec_.args = {
        StringArg("missing", "error", "rows with a missing feature: error | nan (prediction NaN)"),
        StringArg("delimiter", ",", "CSV delimiter of 'data'"),
    };
    spec_.inputs = {Slot("model", "the 'model' output of linreg_train"),
                    Slot("data", "CSV with a header row containing every model feature")};
    spec_.outputs = {Slot("predictions", "CSV: header 'prediction', one row per data row")};
  }
  const FunctionSpec& spec() const override { return spec_; }

  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(std::string missing_arg, rt.args().GetString("missing"));
    CLOISTER_ASSIGN_OR_RETURN(MissingPolicy missing, ParseMissingPolicy(missing_arg, "missing"));
    if (missing == MissingPolicy::kSkipRow)
      return InvalidArgument("argument 'missing' must be error|nan for linreg_predict "
                             "(skipping would misalign predictions with rows)",
                             "BAD_ARGUMENT");
    CLOISTER_ASSIGN_OR_RETURN(CsvOptions csv, CsvArgs(rt.args()));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view model_text, rt.Input("model"));
    CLOISTER_ASSIGN_OR_RETURN(LinregModel m, ParseLinregModel(model_text));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input("data"));
    CLOISTER_ASSIGN_OR_RETURN(NumericTable t, ReadNumeric(data, m.features, missing, csv));

    const size_t k = m.features.size();
    std::string out = "prediction\n";
    out.reserve(out.size() + t.rows * 24);
    for (size_t r = 0; r < t.rows; ++r) {
      double pred = m.intercept;
      for (size_t j = 0; j < k; ++j) pred += m.coefficients[j] * t.values[r * k + j];
      AppendNumber(out, pred);
      out.push_back('\n');
    }
    return rt.Write("predictions", out);
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::unique_ptr<Function> MakeLinregTrain() { return std::make_unique<LinregTrain>(); }
std::unique_ptr<Function> MakeLinregPredict() { return std::make_unique<LinregPredict>(); }

}  // namespace cloister::functions::builtin
