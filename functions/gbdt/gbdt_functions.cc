// gbdt_train / gbdt_predict: argument specs and the glue between the runtime,
// the CSV reader, the trainer and the predictor.
#include "functions/gbdt/gbdt_functions.h"

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>

#include "functions/gbdt/gbdt_params.h"
#include "functions/gbdt/internal/csv_reader.h"
#include "functions/gbdt/model.h"
#include "functions/gbdt/predictor.h"
#include "functions/gbdt/trainer.h"

namespace cloister::functions {
namespace {

using gbdt::internal::CsvTable;

// GCC 12 under -fsanitize=address reports a false maybe-uninitialized when a
// std::variant holding a std::string is moved into the spec; silenced for
// these helpers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
ArgSpec MakeArg(std::string name, ArgType type, std::optional<ArgValue> def, std::string help,
                std::optional<double> lo = std::nullopt, std::optional<double> hi = std::nullopt) {
  ArgSpec a;
  a.name = std::move(name);
  a.type = type;
  a.default_value = std::move(def);
  a.help = std::move(help);
  a.min = lo;
  a.max = hi;
  return a;
}
ArgSpec IntArg(std::string name, int64_t def, double lo, double hi, std::string help) {
  return MakeArg(std::move(name), ArgType::kInt, ArgValue(def), std::move(help), lo, hi);
}
ArgSpec DoubleArg(std::string name, double def, double lo, double hi, std::string help) {
  return MakeArg(std::move(name), ArgType::kDouble, ArgValue(def), std::move(help), lo, hi);
}
#pragma GCC diagnostic pop

// Shortest text that parses back to exactly v.
void AppendNumber(std::string& out, double v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

class GbdtTrain final : public Function {
 public:
  GbdtTrain() {
    const gbdt::GbdtParams d;
    spec_.name = "gbdt_train";
    spec_.description =
        "Trains gradient-boosted trees (histogram-based, XGBoost-style) on numeric CSV data.";
    spec_.args = {
        MakeArg("label", ArgType::kString, std::nullopt, "name of the label column"),
        MakeArg("objective", ArgType::kString, ArgValue(std::string("regression")),
                "regression (squared loss) or binary (logistic loss, labels 0/1)"),
        IntArg("num_trees", d.num_trees, gbdt::kMinTrees, gbdt::kMaxTrees, "boosting rounds"),
        IntArg("max_depth", d.max_depth, gbdt::kMinDepth, gbdt::kMaxDepth, "maximum tree depth"),
        DoubleArg("learning_rate", d.learning_rate, 0.0, 1.0, "shrinkage, in (0, 1]"),
        IntArg("min_samples_leaf", d.min_samples_leaf, 1, 1e9, "minimum rows per child"),
        DoubleArg("min_child_weight", d.min_child_weight, 0, gbdt::kMaxRegularizer,
                  "minimum hessian sum per child"),
        DoubleArg("lambda", d.lambda, 0, gbdt::kMaxRegularizer, "L2 regularisation of leaves"),
        DoubleArg("subsample", d.subsample, 0.0, 1.0, "row fraction per tree, in (0, 1]"),
        DoubleArg("colsample", d.colsample, 0.0, 1.0, "feature fraction per tree, in (0, 1]"),
        IntArg("seed", 0, 0, 9007199254740992.0, "random seed for subsampling"),
        IntArg("max_bins", d.max_bins, gbdt::kMinBins, gbdt::kMaxBins,
               "histogram bins per feature, including the missing-value bin"),
    };
    spec_.inputs = {{"data", "numeric CSV with a header row", false, false, 1, 1}};
    spec_.outputs = {{"model", "serialized GBDT model", false, false, 1, 1},
                     {"metrics", "training metrics as JSON", false, false, 1, 1}};
  }

  const FunctionSpec& spec() const override { return spec_; }

  Status Run(Runtime& rt) const override {
    const Args& a = rt.args();
    gbdt::GbdtParams p;
    CLOISTER_ASSIGN_OR_RETURN(const std::string objective, a.GetString("objective"));
    CLOISTER_ASSIGN_OR_RETURN(p.objective, gbdt::ParseObjective(objective));
    CLOISTER_ASSIGN_OR_RETURN(const int64_t trees, a.GetInt("num_trees"));
    CLOISTER_ASSIGN_OR_RETURN(const int64_t depth, a.GetInt("max_depth"));
    CLOISTER_ASSIGN_OR_RETURN(const int64_t bins, a.GetInt("max_bins"));
    CLOISTER_ASSIGN_OR_RETURN(const int64_t seed, a.GetInt("seed"));
    CLOISTER_ASSIGN_OR_RETURN(p.min_samples_leaf, a.GetInt("min_samples_leaf"));
    CLOISTER_ASSIGN_OR_RETURN(p.learning_rate, a.GetDouble("learning_rate"));
    CLOISTER_ASSIGN_OR_RETURN(p.min_child_weight, a.GetDouble("min_child_weight"));
    CLOISTER_ASSIGN_OR_RETURN(p.lambda, a.GetDouble("lambda"));
    CLOISTER_ASSIGN_OR_RETURN(p.subsample, a.GetDouble("subsample"));
    CLOISTER_ASSIGN_OR_RETURN(p.colsample, a.GetDouble("colsample"));
    // The spec's bounds already hold; Validate re-checks the open intervals.
    p.num_trees = static_cast<int>(trees);
    p.max_depth = static_cast<int>(depth);
    p.max_bins = static_cast<int>(bins);
    p.seed = static_cast<uint64_t>(seed);
    CLOISTER_RETURN_IF_ERROR(p.Validate());

    CLOISTER_ASSIGN_OR_RETURN(const std::string label, a.GetString("label"));
    CLOISTER_ASSIGN_OR_RETURN(const std::string_view data, rt.Input("data"));
    CLOISTER_ASSIGN_OR_RETURN(CsvTable table, gbdt::internal::ParseNumericCsv(data));
    const auto label_col = gbdt::internal::FindColumn(table, label);
    if (!label_col)
      return InvalidArgument("label column '" + label.substr(0, 64) + "' is not in the CSV header",
                             "GBDT_NO_LABEL");
    if (table.header.size() < 2)
      return InvalidArgument("CSV has no feature columns besides the label", "GBDT_NO_FEATURES");
    if (table.cells.rows() == 0)
      return InvalidArgument("CSV has a header but no data rows", "GBDT_NO_ROWS");

    // Split the table into features (all other columns, header order) and labels.
    const size_t rows = table.cells.rows(), cols = table.header.size();
    gbdt::DenseMatrix x(rows, cols - 1);
    std::vector<float> y(rows);
    std::vector<std::string> names;
    for (size_t c = 0; c < cols; ++c)
      if (c != *label_col) names.push_back(table.header[c]);
    for (size_t r = 0; r < rows; ++r) {
      size_t j = 0;
      for (size_t c = 0; c < cols; ++c) {
        if (c == *label_col) y[r] = table.cells.at(r, c);
        else x.at(r, j++) = table.cells.at(r, c);
      }
    }
    table = CsvTable();  // free the copy before training

    CLOISTER_ASSIGN_OR_RETURN(gbdt::TrainResult result, gbdt::Train(p, x, y, std::move(names)));
    const gbdt::TrainMetrics& m = result.metrics;
    std::string metrics = "{\"objective\":\"" + std::string(gbdt::ObjectiveName(p.objective)) +
                          "\",\"rows\":" + std::to_string(m.rows) +
                          ",\"features\":" + std::to_string(m.features) +
                          ",\"trees\":" + std::to_string(m.trees) +
                          ",\"nodes\":" + std::to_string(m.nodes) + ",\"loss\":\"" + m.loss_name +
                          "\",\"initial_loss\":";
    AppendNumber(metrics, m.initial_loss);
    metrics += ",\"train_loss\":";
    AppendNumber(metrics, m.final_loss);
    if (p.objective == gbdt::Objective::kBinary) {
      metrics += ",\"train_accuracy\":";
      AppendNumber(metrics, m.train_accuracy);
    }
    metrics += "}\n";
    CLOISTER_RETURN_IF_ERROR(rt.Write("model", gbdt::SerializeModel(result.model)));
    CLOISTER_RETURN_IF_ERROR(rt.Write("metrics", metrics));
    return OkStatus();
  }

 private:
  FunctionSpec spec_;
};

class GbdtPredict final : public Function {
 public:
  GbdtPredict() {
    spec_.name = "gbdt_predict";
    spec_.description = "Predicts with a model from gbdt_train; one number per input row.";
    spec_.inputs = {{"model", "serialized GBDT model from gbdt_train", false, false, 1, 1},
                    {"data", "numeric CSV with a header naming the model's features", false,
                     false, 1, 1}};
    spec_.outputs = {{"predictions", "one prediction per line (probability for binary)", false,
                      false, 1, 1}};
  }

  const FunctionSpec& spec() const override { return spec_; }

  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(const std::string_view model_bytes, rt.Input("model"));
    CLOISTER_ASSIGN_OR_RETURN(const gbdt::Model model, gbdt::ParseModel(model_bytes));
    CLOISTER_ASSIGN_OR_RETURN(const std::string_view data, rt.Input("data"));
    CLOISTER_ASSIGN_OR_RETURN(const CsvTable table, gbdt::internal::ParseNumericCsv(data));

    // Columns by name, so column order and extra columns (e.g. the label) in
    // the prediction data do not matter.
    std::vector<size_t> cols;
    for (const auto& name : model.feature_names) {
      const auto c = gbdt::internal::FindColumn(table, name);
      if (!c)
        return InvalidArgument("feature column '" + name.substr(0, 64) +
                                   "' of the model is not in the CSV header",
                               "GBDT_FEATURE_MISMATCH");
      cols.push_back(*c);
    }
    const size_t rows = table.cells.rows();
    gbdt::DenseMatrix x(rows, cols.size());
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < cols.size(); ++j) x.at(r, j) = table.cells.at(r, cols[j]);

    std::vector<double> y(rows);
    const gbdt::Predictor predictor(model);
    CLOISTER_RETURN_IF_ERROR(predictor.Predict(x, y, /*num_threads=*/0));
    std::string out;
    out.reserve(rows * 20);
    for (double v : y) {
      AppendNumber(out, v);
      out += '\n';
    }
    return rt.Write("predictions", out);
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::vector<std::unique_ptr<Function>> MakeGbdtFunctions() {
  std::vector<std::unique_ptr<Function>> fns;
  fns.push_back(std::make_unique<GbdtTrain>());
  fns.push_back(std::make_unique<GbdtPredict>());
  return fns;
}

}  // namespace cloister::functions
