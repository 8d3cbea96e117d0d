// Tests for the shared CSV reader/writer: RFC 4180 quoting, CRLF, bounds,
// missing-value policies and error messages that name line and column.
#include "functions/builtin/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace cloister::functions::builtin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::vector<std::string>> ReadAll(std::string_view text, CsvOptions o = {}) {
  auto r = CsvReader::Open(text, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  std::vector<std::vector<std::string>> rows;
  rows.push_back(r->header());
  while (true) {
    auto more = r->Next();
    EXPECT_TRUE(more.ok()) << more.error().ToString();
    if (!more.ok() || !*more) break;
    rows.emplace_back(r->fields().begin(), r->fields().end());
  }
  return rows;
}

TEST(CsvReaderTest, ParsesQuotedFieldsWithDelimitersQuotesAndNewlines) {
  auto rows = ReadAll("a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\"line1\nline2\"\n,,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[1], ElementsAre("x,1", "say \"hi\"", "line1\nline2"));
  EXPECT_THAT(rows[2], ElementsAre("", "", ""));
}

TEST(CsvReaderTest, HandlesCrlfBlankLinesBomAndNoTrailingNewline) {
  CsvOptions o;
  o.delimiter = ';';
  auto rows = ReadAll("\xEF\xBB\xBFid;v\r\n1;\"a\"\r\n\r\n2;b", o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0], ElementsAre("id", "v"));
  EXPECT_THAT(rows[1], ElementsAre("1", "a"));
  EXPECT_THAT(rows[2], ElementsAre("2", "b"));
}

TEST(CsvReaderTest, KeepsLoneCarriageReturnInsideField) {
  auto rows = ReadAll("a\nx\ry\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], "x\ry");
}

TEST(CsvReaderTest, ReportsLineNumbersAcrossQuotedNewlines) {
  auto r = CsvReader::Open("a,b\n\"1\n2\",3\n4,5\n");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*r->Next());
  EXPECT_EQ(r->line(), 2u);
  ASSERT_TRUE(*r->Next());
  EXPECT_EQ(r->line(), 4u);
}

TEST(CsvReaderTest, RejectsMalformedInput) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"a,b\n1\n", "line 2: expected 2 fields, got 1"},
      {"a,b\n1,2,3\n", "expected 2 fields, got 3"},
      {"a\n\"open\n", "unterminated quoted field"},
      {"a\n\"x\"y\n", "after closing quote"},
      {"a\nx\"y\n", "quote inside an unquoted field"},
      {"a,a\n", "duplicate column name"},
  };
  for (const auto& c : cases) {
    auto r = CsvReader::Open(c.text);
    Status s = r.ok() ? OkStatus() : r.status();
    while (s.ok()) {
      auto more = r->Next();
      if (!more.ok()) s = more.status();
      else if (!*more) break;
    }
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_THAT(s.error().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(CsvReaderTest, EnforcesFieldAndColumnBounds) {
  CsvOptions o;
  o.max_field_bytes = 4;
  o.max_columns = 3;
  EXPECT_TRUE(CsvReader::Open("abcd,b,c\n", o).ok());
  EXPECT_THAT(CsvReader::Open("abcde\n", o).error().message(), HasSubstr("longer than 4"));
  EXPECT_THAT(CsvReader::Open("\"abcde\"\n", o).error().message(), HasSubstr("longer than 4"));
  EXPECT_THAT(CsvReader::Open("a,b,c,d\n", o).error().message(), HasSubstr("more than 3"));
  EXPECT_THAT(CsvReader::Open("a,b,c,\n", o).error().message(), HasSubstr("more than 3"));
}

TEST(ReadNumericTest, NamesLineColumnAndValueOnBadNumber) {
  std::string text = "id,x,age\n";
  for (int i = 0; i < 15; ++i) text += "1,2,3\n";
  text += "1,2,x1\n";  // line 17
  const std::vector<std::string> cols = {"x", "age"};
  auto t = ReadNumeric(text, cols, MissingPolicy::kError);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(t.error().message(), "line 17, column 3 ('age'): 'x1' is not a number");
}

TEST(ReadNumericTest, AppliesMissingPolicies) {
  const std::string text = "a,b\n1,2\n,3\n4,NA\n +5 , 6e0 \n";
  const std::vector<std::string> cols = {"b", "a"};
  auto err = ReadNumeric(text, cols, MissingPolicy::kError);
  ASSERT_FALSE(err.ok());
  EXPECT_THAT(err.error().message(), HasSubstr("line 3, column 1 ('a'): missing value"));

  auto skip = ReadNumeric(text, cols, MissingPolicy::kSkipRow);
  ASSERT_TRUE(skip.ok()) << skip.error().ToString();
  EXPECT_EQ(skip->rows, 2u);
  EXPECT_EQ(skip->skipped_rows, 2u);
  EXPECT_THAT(skip->values, ElementsAre(2, 1, 6, 5));

  auto nan = ReadNumeric(text, cols, MissingPolicy::kNaN);
  ASSERT_TRUE(nan.ok());
  ASSERT_EQ(nan->rows, 4u);
  EXPECT_TRUE(std::isnan(nan->values[3]));
  EXPECT_TRUE(std::isnan(nan->values[4]));
}

TEST(ReadNumericTest, RejectsNonFiniteSpellingsAndMissingColumn) {
  const std::vector<std::string> cols = {"a"};
  EXPECT_FALSE(ReadNumeric("a\ninf\n", cols, MissingPolicy::kNaN).ok());
  EXPECT_FALSE(ReadNumeric("a\n1e999\n", cols, MissingPolicy::kNaN).ok());
  EXPECT_FALSE(ReadNumeric("a\n+-1\n", cols, MissingPolicy::kNaN).ok());
  const std::vector<std::string> other = {"zz"};
  EXPECT_THAT(ReadNumeric("a\n1\n", other, MissingPolicy::kNaN).error().message(),
              HasSubstr("no column 'zz'"));
}

TEST(CsvTableTest, TypedColumnAccess) {
  auto t = CsvTable::Parse("name,score\nann,1.5\nbob,\n");
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(*t->Strings("name"), ElementsAre("ann", "bob"));
  EXPECT_THAT(*t->Doubles("score", MissingPolicy::kSkipRow), ElementsAre(1.5));
  EXPECT_THAT(t->Doubles("score", MissingPolicy::kError).error().message(),
              HasSubstr("line 3, column 2 ('score')"));
  EXPECT_THAT(t->Doubles("name", MissingPolicy::kNaN).error().message(),
              HasSubstr("'ann' is not a number"));
}

TEST(CsvWriterTest, QuotesOnlyWhenNeededAndRoundTrips) {
  CsvWriter w;
  w.Field("plain");
  w.Field("a,b");
  w.Field("q\"q");
  w.Field("l\nl");
  w.Number(0.1);
  w.Number(std::nan(""));
  w.EndRow();
  EXPECT_EQ(w.text(), "plain,\"a,b\",\"q\"\"q\",\"l\nl\",0.1,NaN\n");
  auto rows = ReadAll("h1,h2,h3,h4,h5,h6\n" + w.text());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1], ElementsAre("plain", "a,b", "q\"q", "l\nl", "0.1", "NaN"));
}

}  // namespace
}  // namespace cloister::functions::builtin
