// GBDT training: gradient boosting of histogram trees for squared loss or
// logistic loss, with row/feature subsampling.
//
//   CLOISTER_ASSIGN_OR_RETURN(TrainResult r, Train(params, x, labels, names));
//   std::string bytes = SerializeModel(r.model);
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "functions/gbdt/dense_matrix.h"
#include "functions/gbdt/gbdt_params.h"
#include "functions/gbdt/model.h"

namespace cloister::functions::gbdt {

struct TrainMetrics {
  std::string loss_name;      // "rmse" or "logloss"
  double initial_loss = 0;    // of the constant base-score model
  double final_loss = 0;      // on the training rows, after the last tree
  double train_accuracy = 0;  // binary only: fraction with p >= 0.5 == label
  size_t rows = 0;
  size_t features = 0;
  size_t trees = 0;
  size_t nodes = 0;
};

struct TrainResult {
  Model model;
  TrainMetrics metrics;
};

// x: rows × features (NaN = missing); labels: one per row, finite, 0/1 for
// binary; feature_names: one unique non-empty name per column. The result
// does not depend on params.num_threads.
// Errors: InvalidArgument (bad params, zero rows, label problems, shape
// mismatch), ResourceExhausted (histograms would need more than 1 GiB).
Result<TrainResult> Train(const GbdtParams& params, const DenseMatrix& x,
                          std::span<const float> labels, std::vector<std::string> feature_names);

}  // namespace cloister::functions::gbdt
