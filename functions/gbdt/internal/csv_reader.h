// A minimal, strict reader for numeric CSV with a header row, private to the
// GBDT functions until the shared reader in functions/builtin/csv.h lands.
//
//   CLOISTER_ASSIGN_OR_RETURN(CsvTable t, ParseNumericCsv(bytes));
//   t.header[c] names column c of t.cells.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "functions/gbdt/dense_matrix.h"

namespace cloister::functions::gbdt::internal {

struct CsvTable {
  std::vector<std::string> header;  // unique, non-empty names
  DenseMatrix cells;                // rows × header.size(); NaN = missing
};

// Format: lines end in "\n" or "\r\n" (the last one may lack it); fields are
// separated by ',' with optional surrounding spaces/tabs; no quoting except
// that a header name may be wrapped in one pair of double quotes. A data cell
// is a finite decimal number representable as a float; an empty cell, "NA"
// or "nan" (any case) is a missing value. Every row has as many cells as the
// header.
//
// Errors are InvalidArgument with reason "GBDT_BAD_CSV" and a message naming
// the 1-based line and column ("line 7, column 3 ('x2'): 'abc' is not a
// number"). Zero data rows is not an error here.
Result<CsvTable> ParseNumericCsv(std::string_view text);

// Index of `name` in t.header, or nullopt.
std::optional<size_t> FindColumn(const CsvTable& t, std::string_view name);

}  // namespace cloister::functions::gbdt::internal
