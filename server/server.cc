#include "server/server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/admin_service.h"
#include "server/broker_service.h"
#include "server/logging.h"
#include "server/malformed_request_interceptor.h"

namespace herald::server {
namespace {

// Room for the request envelope around the largest accepted batch.
constexpr int kMessageSlackBytes = 64 << 10;

void ApplyChannelArgs(const ServerOptions& options, grpc::ServerBuilder* builder) {
  // Clients may ping every 10 s, even with no call open (long-lived idle
  // Subscribe streams behind NATs/LBs); faster pings get GOAWAY
  // (too_many_pings). The server pings idle connections every 60 s and drops
  // them if no ack comes within 20 s.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder->SetMaxReceiveMessageSize(options.max_message_bytes_limit + kMessageSlackBytes);
  builder->SetMaxSendMessageSize(-1);  // deliveries are bounded by the broker instead
}

}  // namespace

HeraldServer::HeraldServer(broker::Broker* broker, ServerOptions options)
    : broker_(broker), options_(std::move(options)), metrics_(options_.version) {
  edge_.broker = broker_;
  edge_.metrics = &metrics_;
  edge_.streams = &streams_;
  edge_.options = options_.edge;
  broker_service_ = std::make_unique<BrokerService>(&edge_);
  forwarder_ = std::make_unique<ProduceForwarderImpl>();
  broker_->SetProduceForwarder(forwarder_.get());
  admin_service_ = std::make_unique<AdminService>(&edge_, options_.version);
  metrics_.SetBroker(broker_);
}

HeraldServer::~HeraldServer() {
  Shutdown();
  metrics_.SetBroker(nullptr);
}

absl::Status HeraldServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Links grpc/health/v1/health.proto's descriptor into the binary so that
  // reflection can describe the built-in health service (grpcurl needs it).
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::ServerBuilder builder;
  builder.experimental().SetInterceptorCreators(MalformedRequestInterceptors());
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &grpc_port_);
  ApplyChannelArgs(options_, &builder);
  builder.RegisterService(broker_service_.get());
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (!options_.metrics_listen.empty()) {
    if (auto s = metrics_.StartExposer(options_.metrics_listen, &metrics_port_); !s.ok()) {
      server_->Shutdown();
      server_.reset();
      return s;
    }
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  LogEvent(spdlog::level::info, "listening",
           {{"grpc", options_.listen},
            {"grpc_port", std::to_string(grpc_port_)},
            {"metrics", options_.metrics_listen},
            {"metrics_port", std::to_string(metrics_port_)}});
  return absl::OkStatus();
}

void HeraldServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  LogEvent(spdlog::level::info, "shutdown_begin",
           {{"open_streams", std::to_string(streams_.size())}});
  // Probes see NOT_SERVING first, so load balancers stop sending new work.
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Forwarded batches fail (outcome unknown) before the broker stops.
  broker_->SetProduceForwarder(nullptr);
  forwarder_->Shutdown();
  // Completes in-flight appends (their acks are queued on the streams) and
  // ends subscriptions with UNAVAILABLE.
  broker_->Shutdown();
  LogEvent(spdlog::level::info, "broker_stopped", {});
  // Produce streams flush their queued acks, then end with UNAVAILABLE;
  // streams opened from now on end at once.
  streams_.EndAll(absl::UnavailableError("server shutting down"));
  // Our streams end once their queued acks are written; wait for that (up to
  // the grace period), then stop gRPC at once. A deadline given to gRPC
  // itself is waited out in full whenever any client keeps a connection open.
  const bool drained =
      streams_.WaitUntilEmpty(std::chrono::milliseconds(options_.shutdown_grace_ms));
  LogEvent(spdlog::level::info, "streams_drained",
           {{"complete", drained ? "true" : "false"},
            {"open_streams", std::to_string(streams_.size())}});
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  LogEvent(spdlog::level::info, "grpc_stopped", {});
  metrics_.StopExposer();
  LogEvent(spdlog::level::info, "shutdown_done", {});
}

}  // namespace herald::server
