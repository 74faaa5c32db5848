#include "server/logging.h"

#include "gtest/gtest.h"

namespace herald::server {
namespace {

TEST(Logging, TextIsLogfmtAndQuotesValuesThatNeedIt) {
  EXPECT_EQ(FormatEvent(LogFormat::kText, "listening", {{"port", "7420"}, {"msg", "a b"}}),
            "event=listening port=7420 msg=\"a b\"");
  EXPECT_EQ(FormatEvent(LogFormat::kText, "e", {{"empty", ""}, {"q", "say \"hi\""}}),
            "event=e empty=\"\" q=\"say \\\"hi\\\"\"");
}

TEST(Logging, JsonEscapesEverything) {
  EXPECT_EQ(FormatEvent(LogFormat::kJson, "e", {{"k", "a\"b\n"}}),
            "\"event\":\"e\",\"k\":\"a\\\"b\\n\"");
}

}  // namespace
}  // namespace herald::server
