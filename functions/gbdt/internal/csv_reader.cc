// Strict numeric CSV for the GBDT functions, on the one CSV reader of the
// built-ins (functions/builtin/csv.h): the dialect (RFC 4180, header row,
// bounded fields, empty lines skipped) is theirs; what is stricter here is
// the cell: a finite decimal number that fits a float, or missing.
#include "functions/gbdt/internal/csv_reader.h"

#include <charconv>
#include <cmath>

#include "functions/builtin/csv.h"

namespace cloister::functions::gbdt::internal {
namespace {

constexpr size_t kMaxColumns = 1 << 20;
constexpr size_t kMaxQuotedCell = 40;  // how much of a bad cell the error echoes
constexpr const char* kReason = "GBDT_BAD_CSV";

// The shared reader's error, under the GBDT reason callers match on.
Error Bad(const Error& e) { return InvalidArgument(e.message(), kReason); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Echoes a bad cell without letting arbitrary bytes or sizes into messages.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxQuotedCell)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > kMaxQuotedCell) out += "...";
  return out;
}

}  // namespace

Result<CsvTable> ParseNumericCsv(std::string_view text) {
  if (text.empty()) return InvalidArgument("CSV input is empty (expected a header row)", kReason);
  auto reader = builtin::CsvReader::Open(text, {.max_columns = kMaxColumns});
  if (!reader.ok()) return Bad(reader.error());
  CsvTable table;
  for (size_t c = 0; c < reader->header().size(); ++c) {
    const std::string_view name = Trim(reader->header()[c]);
    if (name.empty())
      return InvalidArgument("line 1, column " + std::to_string(c + 1) + ": header name is empty",
                             kReason);
    if (FindColumn(table, name))
      return InvalidArgument("line 1, column " + std::to_string(c + 1) +
                                 ": duplicate header name '" + Printable(name) + "'",
                             kReason);
    table.header.emplace_back(name);
  }
  const size_t ncols = table.header.size();
  // The row count is unknown until the end: grow a flat buffer.
  std::vector<float> cells;
  size_t rows = 0;
  for (;;) {
    auto more = reader->Next();
    if (!more.ok()) return Bad(more.error());
    if (!*more) break;
    const auto fields = reader->fields();
    for (size_t c = 0; c < ncols; ++c) {
      const std::string_view cell = Trim(fields[c]);
      if (cell.empty() || EqualsIgnoreCase(cell, "na") || EqualsIgnoreCase(cell, "nan")) {
        cells.push_back(std::nanf(""));
        continue;
      }
      float v = 0;
      const auto [p, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
      if (ec != std::errc() || p != cell.data() + cell.size() || !std::isfinite(v))
        return Bad(reader->FieldError(c, "'" + Printable(cell) + "' is not a finite number"));
      cells.push_back(v);
    }
    ++rows;
  }
  table.cells = DenseMatrix(rows, ncols);
  std::copy(cells.begin(), cells.end(), table.cells.mutable_data().begin());
  return table;
}

std::optional<size_t> FindColumn(const CsvTable& t, std::string_view name) {
  for (size_t i = 0; i < t.header.size(); ++i)
    if (t.header[i] == name) return i;
  return std::nullopt;
}

}  // namespace cloister::functions::gbdt::internal
