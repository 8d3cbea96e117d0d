// Numeric CSV with a header row for the GBDT functions: the built-ins' one
// CSV reader (functions/builtin/csv.h, docs/functions.md "CSV dialect") with
// a stricter cell rule, into a float matrix.
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

// Dialect: that of every CSV input (RFC 4180: ',' separated, LF or CRLF,
// quoted fields with "" escapes, empty lines skipped, unique header names,
// every row as wide as the header); header names are trimmed of spaces and
// must not be empty. A data cell, trimmed, is a finite decimal number
// representable as a float ('+', "inf" and overflow refused); an empty cell,
// "NA" or "nan" (any case) is a missing value.
//
// Errors are InvalidArgument with reason "GBDT_BAD_CSV" and a message naming
// the 1-based line and column ("line 7, column 3 ('x2'): 'abc' is not a
// finite number"). Zero data rows is not an error here.
Result<CsvTable> ParseNumericCsv(std::string_view text);

// Index of `name` in t.header, or nullopt.
std::optional<size_t> FindColumn(const CsvTable& t, std::string_view name);

}  // namespace cloister::functions::gbdt::internal
