// CSV parsing and writing; the dialect is described in csv.h.
#include "functions/builtin/csv.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <utility>

namespace cloister::functions::builtin {
namespace {

// Error text quotes at most this much of a bad value: enough to find it,
// not enough to dump a whole hostile field into a log.
constexpr size_t kQuoteBytes = 32;

std::string Quote(std::string_view s) {
  std::string out = "'";
  // Control and non-ASCII bytes never reach an error message as they are.
  for (char c : s.substr(0, kQuoteBytes)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > kQuoteBytes) out.append("...");
  out.push_back('\'');
  return out;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<MissingPolicy> ParseMissingPolicy(std::string_view text, std::string_view arg) {
  if (text == "error") return MissingPolicy::kError;
  if (text == "skip") return MissingPolicy::kSkipRow;
  if (text == "nan") return MissingPolicy::kNaN;
  return InvalidArgument("argument '" + std::string(arg) + "': " + Quote(text) +
                             " is not one of error|skip|nan",
                         "BAD_ARGUMENT");
}

Result<CsvReader> CsvReader::Open(std::string_view data, CsvOptions opts) {
  if (opts.delimiter == '"' || opts.delimiter == '\n' || opts.delimiter == '\r')
    return InvalidArgument("CSV delimiter cannot be a quote or line break", "BAD_ARGUMENT");
  // A UTF-8 byte-order mark is not part of the first column's name.
  if (data.size() >= 3 && data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
  CsvReader r(data, opts);
  CLOISTER_ASSIGN_OR_RETURN(bool has, r.ReadRecord());
  if (!has) return InvalidArgument("CSV input is empty: a header row is required", "CSV_EMPTY");
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < r.fields_.size(); ++i) {
    if (!seen.insert(r.fields_[i]).second)
      return InvalidArgument("CSV header, column " + std::to_string(i + 1) +
                                 ": duplicate column name " + Quote(r.fields_[i]),
                             "CSV_MALFORMED");
  }
  r.header_.assign(r.fields_.begin(), r.fields_.end());
  return r;
}

Result<size_t> CsvReader::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return i;
  return InvalidArgument("CSV has no column " + Quote(name), "CSV_NO_SUCH_COLUMN");
}

Error CsvReader::FieldError(size_t column, std::string_view what) const {
  std::string msg = "line " + std::to_string(record_line_) + ", column " +
                    std::to_string(column + 1);
  if (column < header_.size()) msg += " (" + Quote(header_[column]) + ")";
  msg += ": ";
  msg += what;
  return InvalidArgument(std::move(msg), "CSV_BAD_VALUE");
}

Result<bool> CsvReader::Next() {
  CLOISTER_ASSIGN_OR_RETURN(bool has, ReadRecord());
  if (!has) return false;
  if (fields_.size() != header_.size())
    return InvalidArgument("line " + std::to_string(record_line_) + ": expected " +
                               std::to_string(header_.size()) + " fields, got " +
                               std::to_string(fields_.size()),
                           "CSV_MALFORMED");
  return true;
}

Result<bool> CsvReader::ReadRecord() {
  const char delim = opts_.delimiter;
  const size_t n = data_.size();
  // Completely empty lines carry no record.
  while (pos_ < n && (data_[pos_] == '\n' || (data_[pos_] == '\r' && (pos_ + 1 == n ||
                                                                       data_[pos_ + 1] == '\n')))) {
    if (data_[pos_] == '\r') ++pos_;
    if (pos_ < n) ++pos_;
    ++line_;
  }
  if (pos_ >= n) return false;
  record_line_ = line_;
  refs_.clear();
  scratch_.clear();
  auto malformed = [&](std::string what) -> Error {
    return InvalidArgument("line " + std::to_string(line_) + ", column " +
                               std::to_string(refs_.size() + 1) + ": " + what,
                           "CSV_MALFORMED");
  };
  while (true) {
    if (refs_.size() >= opts_.max_columns)
      return malformed("more than " + std::to_string(opts_.max_columns) + " columns");
    FieldRef ref{};
    if (pos_ < n && data_[pos_] == '"') {
      const size_t open_line = line_;
      ref.in_scratch = true;
      ref.offset = scratch_.size();
      size_t p = pos_ + 1;
      while (true) {
        const void* q = std::memchr(data_.data() + p, '"', n - p);
        if (q == nullptr)
          return InvalidArgument("line " + std::to_string(open_line) + ", column " +
                                     std::to_string(refs_.size() + 1) +
                                     ": unterminated quoted field",
                                 "CSV_MALFORMED");
        const size_t qpos = static_cast<size_t>(static_cast<const char*>(q) - data_.data());
        std::string_view chunk = data_.substr(p, qpos - p);
        for (char c : chunk) line_ += c == '\n';
        scratch_.append(chunk);
        if (scratch_.size() - ref.offset > opts_.max_field_bytes)
          return malformed("field longer than " + std::to_string(opts_.max_field_bytes) +
                           " bytes");
        if (qpos + 1 < n && data_[qpos + 1] == '"') {  // "" is one quote
          scratch_.push_back('"');
          p = qpos + 2;
          continue;
        }
        pos_ = qpos + 1;
        break;
      }
      ref.size = scratch_.size() - ref.offset;
      if (pos_ < n && data_[pos_] != delim && data_[pos_] != '\n' &&
          !(data_[pos_] == '\r' && (pos_ + 1 == n || data_[pos_ + 1] == '\n')))
        return malformed("unexpected character after closing quote");
    } else {
      ref.in_scratch = false;
      ref.offset = pos_;
      size_t p = pos_;
      while (p < n) {
        const char c = data_[p];
        if (c == delim || c == '\n') break;
        if (c == '"') return malformed("quote inside an unquoted field");
        ++p;
      }
      size_t end = p;
      // The CR of a CRLF ends the record; it is not field content.
      if ((p == n || data_[p] == '\n') && end > pos_ && data_[end - 1] == '\r') --end;
      ref.size = end - pos_;
      if (ref.size > opts_.max_field_bytes)
        return malformed("field longer than " + std::to_string(opts_.max_field_bytes) +
                         " bytes");
      pos_ = p;
    }
    refs_.push_back(ref);
    if (pos_ < n && data_[pos_] == '\r') ++pos_;  // only reached for CRLF / CR at EOF
    if (pos_ >= n) break;
    if (data_[pos_] == '\n') {
      ++pos_;
      ++line_;
      break;
    }
    ++pos_;  // delimiter: another field follows (possibly empty, even at EOF)
    if (pos_ >= n || data_[pos_] == '\n' ||
        (data_[pos_] == '\r' && (pos_ + 1 == n || data_[pos_ + 1] == '\n'))) {
      if (refs_.size() >= opts_.max_columns)
        return malformed("more than " + std::to_string(opts_.max_columns) + " columns");
      refs_.push_back(FieldRef{pos_, 0, false});
      if (pos_ < n && data_[pos_] == '\r') ++pos_;
      if (pos_ < n && data_[pos_] == '\n') {
        ++pos_;
        ++line_;
      }
      break;
    }
  }
  fields_.clear();
  fields_.reserve(refs_.size());
  for (const FieldRef& r : refs_)
    fields_.push_back(r.in_scratch ? std::string_view(scratch_).substr(r.offset, r.size)
                                   : data_.substr(r.offset, r.size));
  return true;
}

std::optional<double> ParseNumber(std::string_view text) {
  text = TrimSpaces(text);
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

bool IsMissing(std::string_view field) {
  field = TrimSpaces(field);
  return field.empty() || field == "NA" || field == "NaN" || field == "nan" ||
         field == "null";
}

Result<NumericTable> ReadNumeric(std::string_view data, std::span<const std::string> columns,
                                 MissingPolicy missing, CsvOptions opts) {
  CLOISTER_ASSIGN_OR_RETURN(CsvReader r, CsvReader::Open(data, opts));
  NumericTable t;
  std::vector<size_t> idx;
  for (const std::string& c : columns) {
    CLOISTER_ASSIGN_OR_RETURN(size_t i, r.ColumnIndex(c));
    idx.push_back(i);
    t.names.push_back(c);
  }
  const size_t k = idx.size();
  // One allocation guess from the average record length avoids ~log(n)
  // regrowths of a vector that can be hundreds of MB.
  if (k > 0) {
    const size_t header_bytes = std::max<size_t>(r.columns() * 4, 16);
    t.values.reserve(std::min<size_t>(data.size() / header_bytes + 16, size_t{1} << 26) * k);
  }
  while (true) {
    CLOISTER_ASSIGN_OR_RETURN(bool more, r.Next());
    if (!more) break;
    const auto f = r.fields();
    const size_t start = t.values.size();
    bool skip = false;
    for (size_t j = 0; j < k; ++j) {
      const std::string_view cell = f[idx[j]];
      std::optional<double> v = ParseNumber(cell);
      if (!v) {
        if (!IsMissing(cell))
          return r.FieldError(idx[j], Quote(cell) + " is not a number");
        if (missing == MissingPolicy::kError)
          return r.FieldError(idx[j], "missing value (use missing=skip or nan)");
        if (missing == MissingPolicy::kSkipRow) {
          skip = true;
          continue;  // still validate the other cells of the row
        }
        v = std::nan("");
      }
      t.values.push_back(*v);
    }
    if (skip) {
      t.values.resize(start);
      ++t.skipped_rows;
      continue;
    }
    ++t.rows;
  }
  return t;
}

Result<CsvTable> CsvTable::Parse(std::string_view data, CsvOptions opts) {
  CLOISTER_ASSIGN_OR_RETURN(CsvReader r, CsvReader::Open(data, opts));
  CsvTable t;
  t.header_ = r.header();
  while (true) {
    CLOISTER_ASSIGN_OR_RETURN(bool more, r.Next());
    if (!more) break;
    for (std::string_view f : r.fields()) t.cells_.emplace_back(f);
    t.lines_.push_back(r.line());
  }
  return t;
}

Result<size_t> CsvTable::Index(std::string_view column) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == column) return i;
  return InvalidArgument("CSV has no column " + Quote(column), "CSV_NO_SUCH_COLUMN");
}

Result<std::vector<double>> CsvTable::Doubles(std::string_view column,
                                              MissingPolicy missing) const {
  CLOISTER_ASSIGN_OR_RETURN(size_t c, Index(column));
  std::vector<double> out;
  out.reserve(rows());
  const size_t w = header_.size();
  for (size_t i = 0; i < rows(); ++i) {
    const std::string& cell = cells_[i * w + c];
    std::optional<double> v = ParseNumber(cell);
    auto err = [&](std::string what) {
      return InvalidArgument("line " + std::to_string(lines_[i]) + ", column " +
                                 std::to_string(c + 1) + " (" + Quote(header_[c]) +
                                 "): " + what,
                             "CSV_BAD_VALUE");
    };
    if (!v) {
      if (!IsMissing(cell)) return err(Quote(cell) + " is not a number");
      if (missing == MissingPolicy::kError)
        return err("missing value (use missing=skip or nan)");
      if (missing == MissingPolicy::kSkipRow) continue;
      v = std::nan("");
    }
    out.push_back(*v);
  }
  return out;
}

Result<std::vector<std::string>> CsvTable::Strings(std::string_view column) const {
  CLOISTER_ASSIGN_OR_RETURN(size_t c, Index(column));
  std::vector<std::string> out;
  out.reserve(rows());
  for (size_t i = 0; i < rows(); ++i) out.push_back(cells_[i * header_.size() + c]);
  return out;
}

void CsvWriter::Separate() {
  if (row_started_) out_.push_back(delimiter_);
  row_started_ = true;
}

void CsvWriter::Field(std::string_view text) {
  Separate();
  bool quote = !text.empty() && text.front() == '"';
  for (char c : text)
    if (c == delimiter_ || c == '"' || c == '\n' || c == '\r') quote = true;
  if (!quote) {
    out_.append(text);
    return;
  }
  out_.push_back('"');
  for (char c : text) {
    if (c == '"') out_.push_back('"');
    out_.push_back(c);
  }
  out_.push_back('"');
}

void CsvWriter::Number(double v) {
  Separate();
  AppendNumber(out_, v);
}

void CsvWriter::EndRow() {
  out_.push_back('\n');
  row_started_ = false;
}

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ec == std::errc() ? p : buf);
}

}  // namespace cloister::functions::builtin
