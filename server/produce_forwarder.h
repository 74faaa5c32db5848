#pragma once
// ProduceForwarder over gRPC: in cluster mode a node that receives a batch
// for a partition another node leads sends it there, so clients and plain
// generated stubs can produce through any node.
//
// One long-lived public Produce stream per leader address (metadata
// "herald-forwarded: 1", so the leader never forwards again), batches
// written in call order (the order of a partition's batches is kept), each
// completed by the response with its request id. Bounded: at most
// kMaxPendingPerLeader batches / kMaxPendingBytesPerLeader bytes waiting per
// leader; beyond, Forward fails fast with RESOURCE_EXHAUSTED. A broken
// stream fails its pending batches with UNAVAILABLE (outcome unknown, as
// for any lost ack: idempotent producers retry safely) and is replaced on
// the next Forward.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "broker/broker.h"

namespace herald::server {

class ProduceForwarderImpl final : public broker::ProduceForwarder {
 public:
  static constexpr size_t kMaxPendingPerLeader = 4096;
  static constexpr int64_t kMaxPendingBytesPerLeader = 64 << 20;

  ProduceForwarderImpl();
  ~ProduceForwarderImpl() override;  // Shutdown()

  void Forward(const std::string& leader_address, broker::ProduceBatch batch,
               broker::ProduceCallback done) override;
  // Cancels every stream, fails what is pending, waits for the streams to
  // end. Later Forward calls fail with UNAVAILABLE.
  void Shutdown();

  class LeaderStream;

 private:
  std::mutex mu_;
  bool shut_down_ = false;
  std::map<std::string, std::shared_ptr<LeaderStream>> streams_;
};

}  // namespace herald::server
