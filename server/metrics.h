#pragma once
// Prometheus metrics of the server (names follow Prometheus conventions:
// base units, _total for counters). Per-partition and storage gauges are
// read from the broker at scrape time, so they never go stale and deleted
// topics' series disappear by themselves; per-topic counters are removed
// with ForgetTopic when a topic is deleted.
//
// Thread-safe. Hot-path calls cost a label lookup under prometheus-cpp's
// family mutex.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "broker/broker.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace herald::server {

class Metrics {
 public:
  explicit Metrics(absl::string_view version);
  ~Metrics();

  // Serves /metrics on `listen` (host:port, port 0 picks one). Reports the
  // bound port. Failure to bind is an error, not an exception.
  absl::Status StartExposer(const std::string& listen, int* port);
  void StopExposer();

  // Source of per-partition and storage gauges; nullptr detaches (before
  // the broker is destroyed).
  void SetBroker(broker::Broker* broker);

  void OnProduced(absl::string_view topic, int64_t records, int64_t bytes);
  void OnConsumed(absl::string_view topic, int64_t records, int64_t bytes);
  void ObserveAckLatency(broker::Acks acks, double seconds);
  // Unary RPC finished (duration, and an error count when code != OK).
  void ObserveUnary(absl::string_view method, double seconds, int code);
  // Any RPC failed (streams included).
  void CountError(absl::string_view method, int code);
  void StreamOpened(absl::string_view rpc);
  void StreamClosed(absl::string_view rpc);
  // Drops the per-topic series of a deleted topic.
  void ForgetTopic(absl::string_view topic);

  // The text exposition of everything (for tests and debugging).
  std::string Render();

 private:
  class BrokerCollector;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<BrokerCollector> broker_collector_;
  prometheus::Family<prometheus::Counter>* produce_records_;
  prometheus::Family<prometheus::Counter>* produce_bytes_;
  prometheus::Family<prometheus::Counter>* consume_records_;
  prometheus::Family<prometheus::Counter>* consume_bytes_;
  prometheus::Family<prometheus::Histogram>* ack_latency_;
  prometheus::Family<prometheus::Histogram>* rpc_duration_;
  prometheus::Family<prometheus::Gauge>* active_streams_;
  prometheus::Family<prometheus::Counter>* rpc_errors_;
  std::mutex exposer_mu_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace herald::server
