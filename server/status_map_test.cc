#include "server/status_map.h"

#include "gtest/gtest.h"

namespace herald::server {
namespace {

TEST(StatusMap, EveryCanonicalCodeMapsToTheSameGrpcCodeAndKeepsTheMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status s(static_cast<absl::StatusCode>(code), "why " + std::to_string(code));
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), "why " + std::to_string(code));
  }
}

TEST(StatusMap, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(StatusMap, NamedCodesMatch) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_STREQ(GrpcCodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
}

TEST(StatusMap, OutOfRangeCodeBecomesUnknown) {
  const absl::Status s(static_cast<absl::StatusCode>(99), "odd");
  EXPECT_EQ(ToGrpcStatus(s).error_code(), grpc::StatusCode::UNKNOWN);
}

TEST(StatusMap, FillErrorUsesGrpcCodeNumbers) {
  v1::Error e;
  FillError(absl::NotFoundError("topic \"x\" not found"), &e);
  EXPECT_EQ(e.code(), 5);
  EXPECT_EQ(e.message(), "topic \"x\" not found");
}

}  // namespace
}  // namespace herald::server
