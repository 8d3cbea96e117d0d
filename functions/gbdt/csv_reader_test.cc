// Tests for the strict numeric CSV reader (internal/csv_reader.h).
#include "functions/gbdt/internal/csv_reader.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cloister::functions::gbdt::internal {
namespace {

TEST(CsvReaderTest, ParsesHeaderCellsAndMissingValues) {
  auto t = ParseNumericCsv("a,\"b\", c\r\n1,2.5,-3e2\n,NA,nan\n\n4, 5 ,\"NaN\"");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t->cells.rows(), 3u);
  EXPECT_EQ(t->cells.at(0, 2), -300.0f);
  EXPECT_EQ(t->cells.at(0, 1), 2.5f);
  EXPECT_TRUE(std::isnan(t->cells.at(1, 0)));
  EXPECT_TRUE(std::isnan(t->cells.at(1, 1)));
  EXPECT_TRUE(std::isnan(t->cells.at(1, 2)));
  EXPECT_EQ(t->cells.at(2, 1), 5.0f);
  EXPECT_TRUE(std::isnan(t->cells.at(2, 2)));
  EXPECT_EQ(FindColumn(*t, "b"), 1u);
  EXPECT_FALSE(FindColumn(*t, "z").has_value());
}

TEST(CsvReaderTest, HeaderOnlyIsZeroRows) {
  auto t = ParseNumericCsv("a,b\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->cells.rows(), 0u);
  EXPECT_EQ(t->cells.cols(), 2u);
}

TEST(CsvReaderTest, BadCellNamesLineAndColumn) {
  auto t = ParseNumericCsv("a,b\n1,2\n3,abc\n");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.code(), Code::kInvalidArgument);
  EXPECT_EQ(t.error().reason(), "GBDT_BAD_CSV");
  EXPECT_NE(t.error().message().find("line 3"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("column 2 ('b')"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("'abc'"), std::string::npos);
}

TEST(CsvReaderTest, RejectsMalformedInput) {
  for (const char* bad : {"", "a,a\n1,2\n", "a,,b\n1,2,3\n", "a,b\n1\n", "a,b\n1,2,3\n",
                          "a\ninf\n", "a\n1e999\n", "a\n+1\n", "a\n1\"\n", "a\n1x\n",
                          "a,b\n1,2\n3\n", "\"a\n1\n", "a, \"b\"\n1,2\n", "a, a\n1,2\n"}) {
    auto t = ParseNumericCsv(bad);
    EXPECT_EQ(t.code(), Code::kInvalidArgument) << "input: " << bad;
  }
}

TEST(CsvReaderTest, ErrorMessagesDoNotEchoControlBytes) {
  auto t = ParseNumericCsv(std::string("a\n\x01\x02zz\n"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message().find('\x01'), std::string::npos);
}

}  // namespace
}  // namespace cloister::functions::gbdt::internal
