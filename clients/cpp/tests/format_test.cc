#include "cli/format.h"

#include "gtest/gtest.h"
#include "herald/client/admin.h"

namespace herald::cli {
namespace {

client::ConsumedRecord Sample() {
  client::ConsumedRecord r;
  r.topic = "orders";
  r.partition = 3;
  r.offset = 42;
  r.timestamp_ms = 1700;
  r.key = "k1";
  r.value = "hello \"world\"\n";
  r.headers = {{"a", "1"}, {"b", "2"}};
  return r;
}

TEST(Format, TemplateExpandsEveryDirective) {
  EXPECT_EQ(FormatRecord("%t/%p@%o %T %k=%v [%h] 100%%\\t.", Sample()),
            "orders/3@42 1700 k1=hello \"world\"\n [a=1,b=2] 100%\t.");
}

TEST(Format, UnknownDirectivesArePrintedAsIs) { EXPECT_EQ(FormatRecord("%x %", Sample()), "%x %"); }

TEST(Format, JsonEscapesQuotesAndControlCharacters) {
  EXPECT_EQ(JsonRecord(Sample()),
            "{\"topic\":\"orders\",\"partition\":3,\"offset\":42,\"timestamp_ms\":1700,"
            "\"key\":\"k1\",\"value\":\"hello \\\"world\\\"\\n\",\"headers\":[{\"key\":\"a\","
            "\"value\":\"1\"},{\"key\":\"b\",\"value\":\"2\"}]}");
  EXPECT_EQ(JsonEscape(std::string("\x01", 1)), "\\u0001");
}

TEST(Format, FromAcceptsNamesOffsetsAndTimestamps) {
  EXPECT_EQ(ParseFrom("earliest")->kind, client::StartPosition::Kind::kEarliest);
  EXPECT_EQ(ParseFrom("latest")->kind, client::StartPosition::Kind::kLatest);
  EXPECT_EQ(ParseFrom("17")->value, 17);
  EXPECT_EQ(ParseFrom("17")->kind, client::StartPosition::Kind::kOffset);
  EXPECT_EQ(ParseFrom("@1700")->kind, client::StartPosition::Kind::kTimestamp);
  EXPECT_EQ(ParseFrom("@1700")->value, 1700);
  EXPECT_FALSE(ParseFrom("-3").ok());
  EXPECT_FALSE(ParseFrom("@x").ok());
  EXPECT_FALSE(ParseFrom("soon").ok());
}

TEST(Format, KeySeparatorSplitsAtTheFirstOccurrence) {
  EXPECT_EQ(SplitKeyValue("a:b:c", ":"), std::make_pair(std::string("a"), std::string("b:c")));
  EXPECT_EQ(SplitKeyValue("abc", ":"), std::make_pair(std::string(""), std::string("abc")));
  EXPECT_EQ(SplitKeyValue("a:b", ""), std::make_pair(std::string(""), std::string("a:b")));
}

TEST(Format, KeyValueNeedsAKeyAndAnEqualsSign) {
  EXPECT_EQ(ParseKeyValue("a=b=c")->second, "b=c");
  EXPECT_FALSE(ParseKeyValue("=b").ok());
  EXPECT_FALSE(ParseKeyValue("ab").ok());
}

TEST(Format, AcksNames) {
  EXPECT_EQ(*ParseAcks("none"), client::Acks::kNone);
  EXPECT_EQ(*ParseAcks("leader"), client::Acks::kLeader);
  EXPECT_EQ(*ParseAcks("all"), client::Acks::kAll);
  EXPECT_FALSE(ParseAcks("some").ok());
}

TEST(Format, ErrorLineNamesTheCode) {
  EXPECT_EQ(ErrorLine(absl::NotFoundError("topic \"x\" not found")),
            "error: topic \"x\" not found (NOT_FOUND)");
}

TEST(TopicConfig, ParsesKnownKeysAndRejectsOthers) {
  auto config = client::ParseTopicConfig({{"retention_ms", "1000"},
                                          {"retention_bytes", "-1"},
                                          {"max_message_bytes", "2048"},
                                          {"timestamp_type", "log_append_time"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->retention_ms(), 1000);
  EXPECT_EQ(config->retention_bytes(), -1);
  EXPECT_EQ(config->max_message_bytes(), 2048);
  EXPECT_EQ(config->timestamp_type(), v1::TIMESTAMP_TYPE_LOG_APPEND_TIME);
  EXPECT_FALSE(client::ParseTopicConfig({{"retention_ms", "soon"}}).ok());
  EXPECT_FALSE(client::ParseTopicConfig({{"colour", "blue"}}).ok());
  EXPECT_FALSE(client::ParseTopicConfig({{"timestamp_type", "later"}}).ok());
}

}  // namespace
}  // namespace herald::cli
