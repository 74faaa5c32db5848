package herald

import (
	"context"
	"time"

	"google.golang.org/grpc"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// Admin is the control-plane client. Safe for concurrent use; every call has
// a deadline (the context's, else RPCTimeout) and waits for the connection
// within it (WaitForReady), so calls made during a broker restart succeed.
type Admin struct {
	conn       *grpc.ClientConn
	ownsConn   bool
	admin      pb.AdminClient
	broker     pb.BrokerClient
	RPCTimeout time.Duration
}

// NewAdmin connects to target (host:port).
func NewAdmin(target string, opts ...grpc.DialOption) (*Admin, error) {
	conn, err := Dial(target, opts...)
	if err != nil {
		return nil, err
	}
	a := NewAdminFromConn(conn)
	a.ownsConn = true
	return a, nil
}

// NewAdminFromConn uses an existing connection (not closed by Close).
func NewAdminFromConn(conn *grpc.ClientConn) *Admin {
	return &Admin{conn: conn, admin: pb.NewAdminClient(conn), broker: pb.NewBrokerClient(conn), RPCTimeout: DefaultRPCTimeout}
}

// Close releases the connection if the Admin created it.
func (a *Admin) Close() error {
	if a.ownsConn {
		return a.conn.Close()
	}
	return nil
}

func call[Req any, Resp any](ctx context.Context, a *Admin, fn func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := unaryContext(ctx, a.RPCTimeout)
	defer cancel()
	resp, err := fn(ctx, req, grpc.WaitForReady(true))
	return resp, fromRPC(err)
}

// CreateTopic creates a topic (0 partitions / replication: broker defaults).
func (a *Admin) CreateTopic(ctx context.Context, name string, partitions, replicationFactor int32, config *pb.TopicConfig) (*pb.TopicDescription, error) {
	resp, err := call(ctx, a, a.admin.CreateTopic, &pb.CreateTopicRequest{Name: name, Partitions: partitions, ReplicationFactor: replicationFactor, Config: config})
	if err != nil {
		return nil, err
	}
	return resp.Topic, nil
}

// DeleteTopic deletes a topic and its data.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	_, err := call(ctx, a, a.admin.DeleteTopic, &pb.DeleteTopicRequest{Name: name})
	return err
}

// ListTopics lists every topic.
func (a *Admin) ListTopics(ctx context.Context) ([]*pb.ListTopicsResponse_Topic, error) {
	resp, err := call(ctx, a, a.admin.ListTopics, &pb.ListTopicsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.Topics, nil
}

// DescribeTopic returns a topic's partitions and effective configuration.
func (a *Admin) DescribeTopic(ctx context.Context, name string) (*pb.TopicDescription, error) {
	resp, err := call(ctx, a, a.admin.DescribeTopic, &pb.DescribeTopicRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return resp.Topic, nil
}

// AlterTopicConfig changes the set fields of config; returns the effective config.
func (a *Admin) AlterTopicConfig(ctx context.Context, name string, config *pb.TopicConfig) (*pb.TopicConfig, error) {
	resp, err := call(ctx, a, a.admin.AlterTopicConfig, &pb.AlterTopicConfigRequest{Name: name, Config: config})
	if err != nil {
		return nil, err
	}
	return resp.Config, nil
}

// CreatePartitions grows a topic to totalPartitions.
func (a *Admin) CreatePartitions(ctx context.Context, name string, totalPartitions int32) (*pb.TopicDescription, error) {
	resp, err := call(ctx, a, a.admin.CreatePartitions, &pb.CreatePartitionsRequest{Name: name, TotalPartitions: totalPartitions})
	if err != nil {
		return nil, err
	}
	return resp.Topic, nil
}

// DescribeCluster returns the brokers and cluster id.
func (a *Admin) DescribeCluster(ctx context.Context) (*pb.DescribeClusterResponse, error) {
	return call(ctx, a, a.admin.DescribeCluster, &pb.DescribeClusterRequest{})
}

// ListGroups lists consumer groups.
func (a *Admin) ListGroups(ctx context.Context) (*pb.ListGroupsResponse, error) {
	return call(ctx, a, a.admin.ListGroups, &pb.ListGroupsRequest{})
}

// ListOffsets returns, per partition (all when none given), the offset of
// position (earliest, latest or a timestamp) and the log bounds.
func (a *Admin) ListOffsets(ctx context.Context, topic string, position StartPosition, partitions ...int32) (map[int32]*pb.ListOffsetsResponse_PartitionOffsets, error) {
	resp, err := call(ctx, a, a.broker.ListOffsets, &pb.ListOffsetsRequest{Topic: topic, Partitions: partitions, Position: position.proto()})
	if err != nil {
		return nil, err
	}
	out := make(map[int32]*pb.ListOffsetsResponse_PartitionOffsets, len(resp.Partitions))
	for _, p := range resp.Partitions {
		out[p.Partition] = p
	}
	return out, nil
}

// CommitOffsets commits the next offset to read per partition for group.
// generation/memberID are zero for standalone (non-member) commits. The first
// per-partition error is returned.
func (a *Admin) CommitOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64, generation int64, memberID string) error {
	req := &pb.CommitOffsetsRequest{Group: group, Generation: generation, MemberId: memberID}
	for tp, off := range offsets {
		req.Offsets = append(req.Offsets, &pb.PartitionOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: off})
	}
	resp, err := call(ctx, a, a.broker.CommitOffsets, req)
	if err != nil {
		return err
	}
	for _, r := range resp.Results {
		if r.Error != nil && r.Error.Code != 0 {
			return inBand(r.Error)
		}
	}
	return nil
}

// FetchCommittedOffsets returns group's committed offsets (-1: none) for the
// given partitions, or every partition with one when none are given.
func (a *Admin) FetchCommittedOffsets(ctx context.Context, group string, partitions ...TopicPartition) (map[TopicPartition]int64, error) {
	req := &pb.FetchCommittedOffsetsRequest{Group: group}
	for _, tp := range partitions {
		req.Partitions = append(req.Partitions, &pb.TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	resp, err := call(ctx, a, a.broker.FetchCommittedOffsets, req)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(resp.Offsets))
	for _, c := range resp.Offsets {
		out[TopicPartition{c.Topic, c.Partition}] = c.Offset
	}
	return out, nil
}
