// The runtime-facing GBDT functions: gbdt_train (CSV → model bytes +
// metrics) and gbdt_predict (model bytes + CSV → one prediction per line).
//
//   for (auto& fn : MakeGbdtFunctions()) registry.Add(std::move(fn));
//   Invoke(*train, {{"label", "y"}, {"objective", "binary"}}, {{"data", csv}});
#pragma once

#include <memory>
#include <vector>

#include "functions/runtime.h"

namespace cloister::functions {

// gbdt_train
//   input  "data":    numeric CSV with a header row (see
//                     gbdt/internal/csv_reader.h); empty, NA or nan = missing
//   args   "label" (required): name of the label column; every other column
//                     is a feature
//          "objective" regression|binary, "num_trees", "max_depth",
//          "learning_rate", "min_samples_leaf", "min_child_weight",
//          "lambda", "subsample", "colsample", "seed", "max_bins"
//                     (defaults and bounds in the spec; see gbdt_params.h)
//   output "model":   serialized model (format in gbdt/model.h)
//          "metrics": one-line JSON with the training loss
// gbdt_predict
//   inputs "model", "data": CSV containing (at least) the model's feature
//                     columns, by name, in any order; other columns ignored
//   output "predictions": one number per line, in row order; probability of
//                     label 1 for binary models
//
// Both are stateless and thread-safe. Any bad argument or input gives
// InvalidArgument and no output.
std::vector<std::unique_ptr<Function>> MakeGbdtFunctions();

}  // namespace cloister::functions
