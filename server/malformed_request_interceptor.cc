#include "server/malformed_request_interceptor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"

namespace herald::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// "/herald.v1.Admin/CreateTopic" -> the method's descriptor, if it exists.
const google::protobuf::MethodDescriptor* FindMethod(const char* path) {
  if (path == nullptr || path[0] != '/') return nullptr;
  const std::string name = absl::StrReplaceAll(std::string(path + 1), {{"/", "."}});
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
}

class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(const google::protobuf::MethodDescriptor* method)
      : method_(method) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          status.error_message().empty()) {
        methods->ModifySendStatus(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("malformed request: the bytes do not parse as ",
                                      method_->input_type()->full_name())));
      }
    }
    methods->Proceed();
  }

 private:
  const google::protobuf::MethodDescriptor* method_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // Only unary methods: streams parse their messages in Herald's own code.
    if (info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY) return nullptr;
    const google::protobuf::MethodDescriptor* method = FindMethod(info->method());
    return method == nullptr ? nullptr : new MalformedRequestInterceptor(method);
  }
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MalformedRequestInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<Factory>());
  return out;
}

}  // namespace herald::server
