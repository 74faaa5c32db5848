#include "common/names.h"

#include <string>

#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(TopicName, AcceptsKafkaStyleNames) {
  EXPECT_TRUE(ValidateTopicName("orders").ok());
  EXPECT_TRUE(ValidateTopicName("order_placed.v1-EU").ok());
  EXPECT_TRUE(ValidateTopicName(std::string(249, 'a')).ok());
}

TEST(TopicName, RejectsBadNamesWithReasons) {
  EXPECT_EQ(ValidateTopicName("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicName(".").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicName("..").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicName(std::string(250, 'a')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicName("__internal").code(), absl::StatusCode::kInvalidArgument);
  auto s = ValidateTopicName("bad name");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("invalid character"), std::string::npos);
  EXPECT_FALSE(ValidateTopicName(std::string("a\0b", 3)).ok());
}

TEST(GroupName, Rules) {
  EXPECT_TRUE(ValidateGroupName("billing service").ok());
  EXPECT_FALSE(ValidateGroupName("").ok());
  EXPECT_FALSE(ValidateGroupName(std::string(256, 'g')).ok());
  EXPECT_FALSE(ValidateGroupName("tab\there").ok());
}

}  // namespace
}  // namespace herald
