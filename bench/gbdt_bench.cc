// GBDT training and prediction speed against XGBoost (hist) on the same
// synthetic data, at 1 and 2 threads; prints times and ratios. Results are in
// docs/perf/gbdt.md.
//
//   gbdt_bench [--train-reps N] [--predict-reps N]   (N = 0 skips timing that part)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "functions/gbdt/predictor.h"
#include "functions/gbdt/testing/synthetic_data.h"
#include "functions/gbdt/testing/xgboost_ref.h"
#include "functions/gbdt/trainer.h"

namespace gbdt = cloister::functions::gbdt;
using gbdt::testing::XgbBooster;
using gbdt::testing::XgbMatrix;

namespace {

constexpr size_t kTrainRows = 80'000, kPredictRows = 100'000, kFeatures = 20;
constexpr int kTrees = 100, kDepth = 6;
constexpr double kEta = 0.3;

template <typename T>
T Check(cloister::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}
void Check(const cloister::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Wall time and CPU time (all threads of the process) of one run. On a
// shared, oversubscribed machine wall time of a single-threaded run is
// inflated by other processes; CPU time is not.
struct Timing {
  double wall = 1e300;
  double cpu = 1e300;
};

// Best of `reps` for each clock: the least disturbed run. `setup` runs
// untimed before each rep.
Timing Best(int reps, const std::function<void()>& setup, const std::function<void()>& fn) {
  Timing best;
  for (int i = 0; i < reps; ++i) {
    setup();
    const double c0 = ProcessCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best.wall = std::min(best.wall, wall);
    best.cpu = std::min(best.cpu, ProcessCpuSeconds() - c0);
  }
  return best;
}

double Rmse(std::span<const double> p, std::span<const float> y) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += (p[i] - y[i]) * (p[i] - y[i]);
  return std::sqrt(s / static_cast<double>(p.size()));
}

std::map<std::string, std::string> XgbParams(int threads) {
  return {{"tree_method", "hist"},        {"max_depth", std::to_string(kDepth)},
          {"eta", std::to_string(kEta)},  {"nthread", std::to_string(threads)},
          {"objective", "reg:squarederror"}, {"verbosity", "0"}};
}

}  // namespace

int main(int argc, char** argv) {
  int train_reps = 3, predict_reps = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--train-reps") == 0) train_reps = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--predict-reps") == 0) predict_reps = std::atoi(argv[i + 1]);
  }

  const auto train = gbdt::testing::MakeSynthetic(kTrainRows, kFeatures,
                                                  gbdt::Objective::kRegression, 1);
  const auto test = gbdt::testing::MakeSynthetic(kPredictRows, kFeatures,
                                                 gbdt::Objective::kRegression, 2);
  std::printf("data: train %zu x %zu, predict %zu x %zu, %d trees, depth %d, eta %.1f\n",
              kTrainRows, kFeatures, kPredictRows, kFeatures, kTrees, kDepth, kEta);

  // ---- Training ----
  gbdt::GbdtParams p;
  p.num_trees = kTrees;
  p.max_depth = kDepth;
  p.learning_rate = kEta;
  gbdt::Model model;
  const XgbMatrix dtrain = Check(XgbMatrix::Create(train.x, train.y), "xgb train matrix");
  std::optional<XgbBooster> xgb_model;
  std::printf("\n%-24s %12s %12s %9s %12s %12s %9s\n", "training (best of reps)",
              "ours wall s", "xgb wall s", "ours/xgb", "ours cpu s", "xgb cpu s", "ours/xgb");
  for (int threads : {1, 2}) {
    if (train_reps == 0) {  // models only, for timing prediction
      p.num_threads = 2;
      model = Check(gbdt::Train(p, train.x, train.y, train.names), "train").model;
      auto b = Check(XgbBooster::Create(dtrain, XgbParams(2)), "xgb create");
      Check(b.Train(dtrain, kTrees), "xgb train");
      xgb_model.emplace(std::move(b));
      break;
    }
    p.num_threads = threads;
    const Timing ours = Best(train_reps, [] {}, [&] {
      model = Check(gbdt::Train(p, train.x, train.y, train.names), "train").model;
    });
    const Timing xgb = Best(train_reps, [] {}, [&] {
      auto b = Check(XgbBooster::Create(dtrain, XgbParams(threads)), "xgb create");
      Check(b.Train(dtrain, kTrees), "xgb train");
      xgb_model.emplace(std::move(b));
    });
    std::printf("%-24s %12.3f %12.3f %9.2f %12.3f %12.3f %9.2f\n",
                (std::to_string(threads) + " thread(s)").c_str(), ours.wall, xgb.wall,
                ours.wall / xgb.wall, ours.cpu, xgb.cpu, ours.cpu / xgb.cpu);
  }

  // Held-out quality of the two models being compared.
  std::vector<double> ours_pred(kPredictRows);
  Check(gbdt::Predictor(model).Predict(test.x, ours_pred, 2), "predict");
  const XgbMatrix dtest0 = Check(XgbMatrix::Create(test.x), "xgb test matrix");
  const auto xgb_pred_f = Check(xgb_model->Predict(dtest0), "xgb predict");
  const std::vector<double> xgb_pred(xgb_pred_f.begin(), xgb_pred_f.end());
  std::printf("held-out RMSE: ours %.5f, xgb %.5f (ratio %.4f); model nodes: %zu\n",
              Rmse(ours_pred, test.y), Rmse(xgb_pred, test.y),
              Rmse(ours_pred, test.y) / Rmse(xgb_pred, test.y), model.nodes.size());

  // ---- Prediction ----
  // XGBoost caches predictions per DMatrix, so each rep gets a fresh matrix
  // (created untimed) to measure real tree traversal.
  const gbdt::Predictor predictor(model);
  std::vector<double> out(kPredictRows);
  std::optional<XgbMatrix> dtest;
  Timing ours_t[3], xgb_t[3];
  if (predict_reps == 0) return 0;
  for (int threads : {1, 2}) {
    ours_t[threads] = Best(predict_reps, [] {}, [&] {
      Check(predictor.Predict(test.x, out, threads), "predict");
    });
    Check(xgb_model->SetParam("nthread", std::to_string(threads)), "xgb nthread");
    xgb_t[threads] = Best(
        predict_reps, [&] { dtest.emplace(Check(XgbMatrix::Create(test.x), "xgb matrix")); },
        [&] { Check(xgb_model->Predict(*dtest), "xgb predict"); });
  }
  std::printf("\n%-24s %12s %12s %9s %12s %12s %9s\n", "prediction (best of reps)",
              "ours wall ms", "xgb wall ms", "xgb/ours", "ours cpu ms", "xgb cpu ms", "xgb/ours");
  for (int threads : {1, 2})
    std::printf("%-24s %12.2f %12.2f %9.2f %12.2f %12.2f %9.2f\n",
                (std::to_string(threads) + " thread(s)").c_str(), ours_t[threads].wall * 1e3,
                xgb_t[threads].wall * 1e3, xgb_t[threads].wall / ours_t[threads].wall,
                ours_t[threads].cpu * 1e3, xgb_t[threads].cpu * 1e3,
                xgb_t[threads].cpu / ours_t[threads].cpu);
  // The other kernels of ours at one thread, in the same run, so a speed-up
  // of the dispatched path can be read against them under the same load.
  std::printf("ours path: %s\n", gbdt::Predictor::PathName(predictor.path()));
  for (auto path : {gbdt::Predictor::Path::kAvx2, gbdt::Predictor::Path::kScalar}) {
    const gbdt::Predictor forced(model, path);
    if (forced.path() == predictor.path()) continue;
    const Timing t = Best(
        predict_reps, [] {}, [&] { Check(forced.Predict(test.x, out, 1), "predict"); });
    std::printf(
        "ours forced %-6s 1 thread: wall %.2f ms (xgb/ours %.2f), cpu %.2f ms (xgb/ours %.2f)\n",
        gbdt::Predictor::PathName(forced.path()), t.wall * 1e3, xgb_t[1].wall / t.wall, t.cpu * 1e3,
        xgb_t[1].cpu / t.cpu);
  }
  std::printf("wall: ours 2 threads vs xgb 1 thread %.2fx, ours 1 thread vs xgb 2 threads %.2fx\n",
              xgb_t[1].wall / ours_t[2].wall, xgb_t[2].wall / ours_t[1].wall);
  std::printf("throughput ours (2 threads, wall): %.1f M rows/s\n",
              static_cast<double>(kPredictRows) / ours_t[2].wall / 1e6);
  return 0;
}
