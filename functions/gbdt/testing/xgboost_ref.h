// RAII wrapper over XGBoost's C API, used only as the reference
// implementation in gbdt tests and benchmarks (never linked into Cloister).
//
//   auto train = XgbMatrix::Create(x, y);
//   auto booster = XgbBooster::Create(*train, {{"max_depth", "6"}, ...});
//   booster->Train(*train, 50);  auto p = booster->Predict(*test);
#pragma once

#include <xgboost/c_api.h>

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "functions/gbdt/dense_matrix.h"

namespace cloister::functions::gbdt::testing {

inline Error XgbError(std::string_view what) {
  return Internal(std::string(what) + ": " + XGBGetLastError());
}

class XgbMatrix {
 public:
  // labels may be empty (prediction-only matrix). NaN = missing.
  static Result<XgbMatrix> Create(const DenseMatrix& x, std::span<const float> labels = {}) {
    DMatrixHandle h = nullptr;
    if (XGDMatrixCreateFromMat(x.data().data(), x.rows(), x.cols(), std::nanf(""), &h) != 0)
      return XgbError("XGDMatrixCreateFromMat");
    XgbMatrix m(h);
    if (!labels.empty() &&
        XGDMatrixSetFloatInfo(h, "label", labels.data(), labels.size()) != 0)
      return XgbError("XGDMatrixSetFloatInfo");
    return m;
  }
  DMatrixHandle get() const { return h_.get(); }

 private:
  struct Free {
    void operator()(void* h) const { XGDMatrixFree(h); }
  };
  explicit XgbMatrix(DMatrixHandle h) : h_(h) {}
  std::unique_ptr<void, Free> h_;
};

class XgbBooster {
 public:
  static Result<XgbBooster> Create(const XgbMatrix& train,
                                   const std::map<std::string, std::string>& params) {
    DMatrixHandle dm = train.get();
    BoosterHandle h = nullptr;
    if (XGBoosterCreate(&dm, 1, &h) != 0) return XgbError("XGBoosterCreate");
    XgbBooster b(h);
    for (const auto& [k, v] : params)
      if (XGBoosterSetParam(h, k.c_str(), v.c_str()) != 0) return XgbError("XGBoosterSetParam " + k);
    return b;
  }

  Status Train(const XgbMatrix& train, int rounds) {
    for (int i = 0; i < rounds; ++i)
      if (XGBoosterUpdateOneIter(h_.get(), i, train.get()) != 0)
        return XgbError("XGBoosterUpdateOneIter");
    return OkStatus();
  }

  // Transformed predictions (probabilities for binary:logistic).
  Result<std::vector<float>> Predict(const XgbMatrix& data) const {
    bst_ulong len = 0;
    const float* out = nullptr;
    if (XGBoosterPredict(h_.get(), data.get(), 0, 0, 0, &len, &out) != 0)
      return XgbError("XGBoosterPredict");
    return std::vector<float>(out, out + len);
  }

  Status SetParam(const std::string& k, const std::string& v) {
    if (XGBoosterSetParam(h_.get(), k.c_str(), v.c_str()) != 0) return XgbError("XGBoosterSetParam");
    return OkStatus();
  }

 private:
  struct Free {
    void operator()(void* h) const { XGBoosterFree(h); }
  };
  explicit XgbBooster(BoosterHandle h) : h_(h) {}
  std::unique_ptr<void, Free> h_;
};

}  // namespace cloister::functions::gbdt::testing
