#pragma once
// gRPC 1.51 answers a unary request that does not parse as its message type
// with UNIMPLEMENTED and an empty message, before any Herald code runs. That
// misleads clients ("is the method missing?"). This interceptor turns exactly
// that answer, for methods that do exist, into INVALID_ARGUMENT naming the
// request type. Herald's own handlers never finish with an empty-message
// UNIMPLEMENTED, so nothing else is rewritten.
#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace herald::server {

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MalformedRequestInterceptors();

}  // namespace herald::server
