// Row accessors: bounds- and type-checked reads of query results.
#include "storage/value.h"

#include <optional>

namespace cloister::storage {

Result<const Value*> Row::At(size_t i) const {
  if (i >= values_.size())
    return Internal("column " + std::to_string(i) + " out of range (row has " +
                    std::to_string(values_.size()) + ")");
  return &values_[i];
}

bool Row::IsNull(size_t i) const {
  return i < values_.size() && std::holds_alternative<std::monostate>(values_[i]);
}

Result<int64_t> Row::GetInt(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (const auto* x = std::get_if<int64_t>(v)) return *x;
  return Internal("column " + std::to_string(i) + " is not an integer");
}

Result<double> Row::GetDouble(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (const auto* x = std::get_if<double>(v)) return *x;
  if (const auto* x = std::get_if<int64_t>(v)) return static_cast<double>(*x);
  return Internal("column " + std::to_string(i) + " is not a number");
}

Result<std::string> Row::GetText(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (const auto* x = std::get_if<std::string>(v)) return *x;
  return Internal("column " + std::to_string(i) + " is not text");
}

Result<Bytes> Row::GetBlob(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (const auto* x = std::get_if<Bytes>(v)) return *x;
  if (const auto* x = std::get_if<std::string>(v)) return ToBytes(*x);
  return Internal("column " + std::to_string(i) + " is not a blob");
}

Result<std::optional<int64_t>> Row::GetOptionalInt(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (std::holds_alternative<std::monostate>(*v)) return std::optional<int64_t>();
  CLOISTER_ASSIGN_OR_RETURN(int64_t x, GetInt(i));
  return std::optional<int64_t>(x);
}

Result<std::optional<std::string>> Row::GetOptionalText(size_t i) const {
  CLOISTER_ASSIGN_OR_RETURN(const Value* v, At(i));
  if (std::holds_alternative<std::monostate>(*v)) return std::optional<std::string>();
  CLOISTER_ASSIGN_OR_RETURN(std::string x, GetText(i));
  return std::optional<std::string>(std::move(x));
}

}  // namespace cloister::storage
