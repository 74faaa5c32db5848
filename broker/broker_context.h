#pragma once
// BrokerContext: what the broker and its subscriptions share. Held by
// shared_ptr so a Subscription handle that outlives the Broker object can
// still Close() safely (the store is destroyed with the last holder).
#include <memory>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "broker/broker.h"
#include "broker/offset_monitor.h"
#include "broker/read_pool.h"
#include "broker/topic_registry.h"
#include "storage/log_store.h"

namespace herald::broker {

class SubscriptionCore;

struct BrokerContext {
  BrokerContext(const BrokerOptions& opts, std::unique_ptr<storage::LogStore> log_store);

  const BrokerOptions options;
  const std::unique_ptr<storage::LogStore> store;
  OffsetMonitor monitor;
  TopicRegistry registry;
  ReadPool pool;

  // Open subscriptions, for Shutdown and topic growth. Bounded by the
  // number of Subscription handles the edge holds.
  std::mutex subs_mu;
  bool subs_closed = false;  // set by Shutdown: no new subscriptions
  absl::flat_hash_map<SubscriptionCore*, std::weak_ptr<SubscriptionCore>> subs;
};

}  // namespace herald::broker
