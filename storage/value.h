// Values and rows of the storage layer: the small variant a statement binds
// and a query returns (NULL, 64-bit integer, double, UTF-8 text, blob).
//
//   std::vector<Value> params = {int64_t{7}, std::string("alice"), Null()};
//   CLOISTER_ASSIGN_OR_RETURN(int64_t n, row.GetInt(0));
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace cloister::storage {

// Index order matters: it is what Row::Get* check against.
using Value = std::variant<std::monostate, int64_t, double, std::string, Bytes>;

inline Value Null() { return std::monostate{}; }

// One result row. Accessors are bounds- and type-checked: a wrong index or
// column type is a programming error reported as Internal, never UB.
class Row {
 public:
  Row() = default;
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  const std::vector<Value>& values() const { return values_; }

  bool IsNull(size_t i) const;
  Result<int64_t> GetInt(size_t i) const;
  Result<double> GetDouble(size_t i) const;   // integers widen
  Result<std::string> GetText(size_t i) const;
  Result<Bytes> GetBlob(size_t i) const;      // text reads as its bytes
  // NULL → std::nullopt; otherwise as GetInt / GetText.
  Result<std::optional<int64_t>> GetOptionalInt(size_t i) const;
  Result<std::optional<std::string>> GetOptionalText(size_t i) const;

 private:
  Result<const Value*> At(size_t i) const;
  std::vector<Value> values_;
};

}  // namespace cloister::storage
