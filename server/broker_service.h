#pragma once
// herald.v1.Broker on the gRPC callback API. Produce, Subscribe and Fetch are
// raw (grpc::ByteBuffer) methods so record batches pass through without
// re-encoding; the rest use the generated messages.
#include "grpcpp/grpcpp.h"
#include "herald/v1/broker.grpc.pb.h"
#include "server/edge.h"

namespace herald::server {

using BrokerServiceBase = v1::Broker::WithRawCallbackMethod_Produce<
    v1::Broker::WithRawCallbackMethod_Subscribe<v1::Broker::WithRawCallbackMethod_Fetch<
        v1::Broker::WithCallbackMethod_ListOffsets<v1::Broker::WithCallbackMethod_CommitOffsets<
            v1::Broker::WithCallbackMethod_FetchCommittedOffsets<
                v1::Broker::WithCallbackMethod_InitProducer<v1::Broker::Service>>>>>>>;

class BrokerService final : public BrokerServiceBase {
 public:
  explicit BrokerService(Edge* edge) : edge_(edge) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Produce(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListOffsets(grpc::CallbackServerContext* context,
                                        const v1::ListOffsetsRequest* request,
                                        v1::ListOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* CommitOffsets(grpc::CallbackServerContext* context,
                                          const v1::CommitOffsetsRequest* request,
                                          v1::CommitOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* FetchCommittedOffsets(
      grpc::CallbackServerContext* context, const v1::FetchCommittedOffsetsRequest* request,
      v1::FetchCommittedOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* InitProducer(grpc::CallbackServerContext* context,
                                         const v1::InitProducerRequest* request,
                                         v1::InitProducerResponse* response) override;

 private:
  Edge* const edge_;
};

}  // namespace herald::server
