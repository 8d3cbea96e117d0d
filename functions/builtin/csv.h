// The CSV reader and writer shared by the built-in functions: RFC 4180 with a
// header row, bounded field sizes and errors that name line and column.
//
//   CLOISTER_ASSIGN_OR_RETURN(CsvReader r, CsvReader::Open(text));
//   while (true) { CLOISTER_ASSIGN_OR_RETURN(bool more, r.Next()); if (!more) break;
//                  Use(r.fields()); }
//
// Dialect: fields separated by `delimiter`; records end in LF or CRLF; a field
// that starts with '"' is quoted and may contain the delimiter, CR, LF and
// '""' (one quote). A quote inside an unquoted field and anything but a
// delimiter or line end after a closing quote are errors. Completely empty
// lines are skipped. Every record must have as many fields as the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::functions::builtin {

// What a numeric read does with a missing value (an empty field, or "NA",
// "NaN", "nan", "null" after trimming spaces).
enum class MissingPolicy { kError, kSkipRow, kNaN };
// "error" | "skip" | "nan"; InvalidArgument naming `arg` otherwise.
Result<MissingPolicy> ParseMissingPolicy(std::string_view text, std::string_view arg);

struct CsvOptions {
  char delimiter = ',';
  // Bounds against hostile inputs; exceeding one is InvalidArgument.
  size_t max_field_bytes = 1u << 20;
  size_t max_columns = 4096;
};

// Streaming reader over a byte buffer. The buffer must outlive the reader.
// fields() views stay valid until the next call to Next(). Not thread-safe.
class CsvReader {
 public:
  // Reads and validates the header row (non-empty, bounded, unique names).
  // InvalidArgument on an empty input or a malformed header.
  static Result<CsvReader> Open(std::string_view data, CsvOptions opts = {});

  const std::vector<std::string>& header() const { return header_; }
  size_t columns() const { return header_.size(); }
  // InvalidArgument naming the column when it is absent.
  Result<size_t> ColumnIndex(std::string_view name) const;

  // Advances to the next record: true if there is one, false at the end.
  // InvalidArgument (naming the line) on malformed input.
  Result<bool> Next();
  std::span<const std::string_view> fields() const { return fields_; }
  // 1-based physical line on which the current record starts (header = 1).
  size_t line() const { return record_line_; }

  // "line 17, column 3 ('age'): <what>" for the current record.
  Error FieldError(size_t column, std::string_view what) const;

 private:
  CsvReader(std::string_view data, CsvOptions opts) : data_(data), opts_(opts) {}
  // Parses one record into fields_; false at end of input.
  Result<bool> ReadRecord();

  struct FieldRef {
    size_t offset;
    size_t size;
    bool in_scratch;
  };

  std::string_view data_;
  CsvOptions opts_;
  size_t pos_ = 0;
  size_t line_ = 1;         // physical line at pos_
  size_t record_line_ = 0;  // line where the current record began
  std::vector<std::string> header_;
  std::vector<FieldRef> refs_;
  std::vector<std::string_view> fields_;
  std::string scratch_;  // unescaped quoted fields
};

// Parses a finite number; nullopt when `text` is not one. Accepts leading and
// trailing spaces and a leading '+'; rejects "inf"/"nan" spellings.
std::optional<double> ParseNumber(std::string_view text);
// Whether a field counts as missing (see MissingPolicy).
bool IsMissing(std::string_view field);

// Numeric columns read in one streaming pass, row-major.
struct NumericTable {
  std::vector<std::string> names;
  std::vector<double> values;  // rows * names.size(), row-major
  size_t rows = 0;
  size_t skipped_rows = 0;  // rows dropped by MissingPolicy::kSkipRow
};
// Reads `columns` (by name, in that order) as doubles. A non-number is
// InvalidArgument naming line, column and the offending text (cut to 32 bytes).
Result<NumericTable> ReadNumeric(std::string_view data, std::span<const std::string> columns,
                                 MissingPolicy missing, CsvOptions opts = {});

// A whole small table in memory, for typed column access by name.
class CsvTable {
 public:
  static Result<CsvTable> Parse(std::string_view data, CsvOptions opts = {});
  const std::vector<std::string>& header() const { return header_; }
  size_t rows() const { return lines_.size(); }
  // InvalidArgument if the column is absent. kSkipRow drops missing cells.
  Result<std::vector<double>> Doubles(std::string_view column, MissingPolicy missing) const;
  Result<std::vector<std::string>> Strings(std::string_view column) const;

 private:
  Result<size_t> Index(std::string_view column) const;
  std::vector<std::string> header_;
  std::vector<std::string> cells_;  // row-major
  std::vector<size_t> lines_;       // source line of each row
};

// Builds CSV text; quotes fields that contain the delimiter, a quote, CR or LF.
class CsvWriter {
 public:
  explicit CsvWriter(char delimiter = ',') : delimiter_(delimiter) {}
  void Field(std::string_view text);
  // Shortest text that parses back to the same double; "NaN" for NaN.
  void Number(double v);
  void EndRow();
  const std::string& text() const { return out_; }
  std::string Take() && { return std::move(out_); }

 private:
  void Separate();
  char delimiter_;
  bool row_started_ = false;
  std::string out_;
};

// Appends the shortest round-trip text of `v` ("NaN", "inf", "-inf" too).
void AppendNumber(std::string& out, double v);

}  // namespace cloister::functions::builtin
