// Strict numeric CSV parsing; see csv_reader.h for the accepted format.
#include "functions/gbdt/internal/csv_reader.h"

#include <charconv>
#include <cmath>
#include <set>

namespace cloister::functions::gbdt::internal {
namespace {

constexpr size_t kMaxColumns = 1 << 20;
constexpr size_t kMaxQuotedCell = 40;  // how much of a bad cell the error echoes

Error CsvError(size_t line, std::string msg) {
  return InvalidArgument("line " + std::to_string(line) + ": " + std::move(msg), "GBDT_BAD_CSV");
}

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

// Splits the next line off `rest`; strips "\r\n" / "\n".
std::string_view NextLine(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

Result<CsvTable> ParseNumericCsv(std::string_view text) {
  if (text.empty()) return InvalidArgument("CSV input is empty (expected a header row)", "GBDT_BAD_CSV");
  CsvTable table;
  std::string_view rest = text;
  const std::string_view header_line = NextLine(rest);
  std::set<std::string, std::less<>> seen;
  size_t col = 0;
  for (size_t pos = 0;;) {
    const size_t comma = header_line.find(',', pos);
    std::string_view name = Trim(header_line.substr(pos, comma == std::string_view::npos
                                                             ? std::string_view::npos
                                                             : comma - pos));
    ++col;
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
      name = name.substr(1, name.size() - 2);
    if (name.empty() || name.find('"') != std::string_view::npos)
      return CsvError(1, "column " + std::to_string(col) + ": header name is empty or badly quoted");
    if (!seen.emplace(name).second)
      return CsvError(1, "column " + std::to_string(col) + ": duplicate header name '" +
                             Printable(name) + "'");
    if (col > kMaxColumns) return CsvError(1, "too many columns");
    table.header.emplace_back(name);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  const size_t ncols = table.header.size();

  // Two passes would need the line count first; instead grow a flat buffer.
  std::vector<float> cells;
  size_t rows = 0;
  size_t line_no = 1;
  while (!rest.empty()) {
    const std::string_view line = NextLine(rest);
    ++line_no;
    size_t pos = 0;
    for (size_t c = 0; c < ncols; ++c) {
      if (pos > line.size())
        return CsvError(line_no, "expected " + std::to_string(ncols) + " cells, got " +
                                     std::to_string(c));
      const size_t comma = line.find(',', pos);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      const std::string_view cell = Trim(line.substr(pos, end - pos));
      pos = end + 1;  // one past the line's end when this was the last cell
      if (cell.empty() || EqualsIgnoreCase(cell, "na") || EqualsIgnoreCase(cell, "nan")) {
        cells.push_back(std::nanf(""));
        continue;
      }
      float v = 0;
      const auto [p, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
      if (ec != std::errc() || p != cell.data() + cell.size() || !std::isfinite(v))
        return InvalidArgument("line " + std::to_string(line_no) + ", column " +
                                   std::to_string(c + 1) + " ('" + Printable(table.header[c]) +
                                   "'): '" + Printable(cell) + "' is not a finite number",
                               "GBDT_BAD_CSV");
      cells.push_back(v);
    }
    if (pos <= line.size())
      return CsvError(line_no, "more than " + std::to_string(ncols) + " cells");
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
