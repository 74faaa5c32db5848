#pragma once
// HeraldServer: the gRPC edge around one broker core. Owns the services,
// the grpc::Server (callback API), health checking, reflection and the
// metrics endpoint. main.cc only parses flags, opens the store and broker,
// and waits for a signal.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "broker/broker.h"
#include "grpcpp/grpcpp.h"
#include "server/edge.h"
#include "server/metrics.h"
#include "server/produce_forwarder.h"
#include "server/stream_registry.h"

namespace herald::server {

class AdminService;
class BrokerService;

struct ServerOptions {
  std::string listen = "0.0.0.0:7420";
  std::string metrics_listen;  // empty: no metrics endpoint
  int32_t max_message_bytes_limit = 16 << 20;
  int64_t shutdown_grace_ms = 10'000;
  std::string version = "dev";
  EdgeOptions edge;
};

class HeraldServer {
 public:
  // `broker` must outlive the server.
  HeraldServer(broker::Broker* broker, ServerOptions options);
  ~HeraldServer();

  // Binds both ports and starts serving. UNAVAILABLE if a port cannot be
  // bound.
  absl::Status Start();
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  Metrics* metrics() { return &metrics_; }

  // Graceful stop: health NOT_SERVING, broker Shutdown (in-flight appends
  // complete, subscriptions end), open streams end with UNAVAILABLE, then the
  // gRPC server stops with a deadline of shutdown_grace_ms. Idempotent.
  void Shutdown();

 private:
  broker::Broker* const broker_;
  const ServerOptions options_;
  Metrics metrics_;
  StreamRegistry streams_;
  Edge edge_;
  std::unique_ptr<BrokerService> broker_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  // Cluster mode: produce for partitions led elsewhere goes there.
  std::unique_ptr<ProduceForwarderImpl> forwarder_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace herald::server
