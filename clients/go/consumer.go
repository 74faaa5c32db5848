package herald

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// ConsumerOptions tune a Consumer; zero fields take the defaults shown.
type ConsumerOptions struct {
	// Group names the committing group (Commit, Committed) and, with
	// Subscribe(..., UseGroup), the group to join.
	Group      string
	InstanceID string
	ClientID   string // "herald-go"
	// OnAssign gets the complete set of partitions the member owns after
	// every Assignment; OnRevoke only the partitions moving away (cooperative
	// rebalancing), before they are released. Both run on the consumer's
	// reader goroutine (no records arrive meanwhile); Commit may be called.
	OnAssign func([]TopicPartition)
	OnRevoke func([]TopicPartition)
	// NoCommitOnRevoke turns off the automatic commit of the positions of
	// revoked partitions (after OnRevoke, before RevokeDone) and of every
	// owned partition on Close.
	NoCommitOnRevoke bool
	// SessionTimeout asks the broker for a session timeout (0: its default).
	SessionTimeout time.Duration
	// HeartbeatInterval: an idle group stream sends a Heartbeat this often (3s).
	HeartbeatInterval    time.Duration
	MaxBufferedRecords   int64         // 10000
	MaxBufferedBytes     int64         // 16 MiB
	ReconnectBackoff     time.Duration // 100ms, doubling to ReconnectBackoffMax
	ReconnectBackoffMax  time.Duration // 2s
	MaxReconnectAttempts int           // 100 consecutive failures
	RPCTimeout           time.Duration // 10s
}

// Credit bytes are charged per batch as its encoded size plus the stored batch
// header: an upper bound of the broker's own measure, so the client never
// believes the broker holds more credit than it does (which would stall).
const batchOverheadBytes = 64

// Stream endings that resume the subscription (CANCELLED: a broker shutting
// down gracefully; streams the client cancels itself never reach the check).
var reconnectCodes = map[codes.Code]bool{codes.Unavailable: true, codes.DeadlineExceeded: true, codes.Canceled: true}

type partState struct {
	start    StartPosition
	fetch    int64 // next offset to buffer; -1 unknown
	position int64 // next offset handed to the application; -1 unknown
}

type chunk struct {
	tp            TopicPartition
	records       []ConsumedRecord
	next          int
	creditRecords int64
	creditBytes   int64
}

type subStream struct {
	ctx       context.Context
	cancel    context.CancelFunc
	requests  chan *pb.SubscribeRequest
	delivered bool
}

// Consumer reads records from explicit partitions or whole topics with a
// credit-based Subscribe stream: the broker sends only what the bounded
// buffer can hold (plus at most one batch), and credit is granted as the
// application consumes. Each partition resumes at its cursor after a
// reconnect, so the application sees no gap and no duplicate. Safe for
// concurrent use.
type Consumer struct {
	opts     ConsumerOptions
	conn     *grpc.ClientConn
	ownsConn bool
	broker   pb.BrokerClient
	admin    *Admin

	mu            sync.Mutex
	changed       chan struct{}
	parts         map[TopicPartition]*partState
	groupTopics   []string
	groupReset    StartPosition
	generation    int64
	memberID      string
	buffer        []*chunk
	bufRecords    int64
	bufBytes      int64
	creditRecords int64 // returned by the application, not yet granted
	creditBytes   int64
	stream        *subStream
	restart       bool
	fatal         error
	closed        bool
	running       bool
	readerDone    chan struct{}
}

// NewConsumer connects to target (host:port).
func NewConsumer(target string, opts ConsumerOptions, dial ...grpc.DialOption) (*Consumer, error) {
	conn, err := Dial(target, dial...)
	if err != nil {
		return nil, err
	}
	c := NewConsumerFromConn(conn, opts)
	c.ownsConn = true
	return c, nil
}

// NewConsumerFromConn uses an existing connection (not closed by Close).
func NewConsumerFromConn(conn *grpc.ClientConn, opts ConsumerOptions) *Consumer {
	if opts.ClientID == "" {
		opts.ClientID = "herald-go"
	}
	if opts.MaxBufferedRecords <= 0 {
		opts.MaxBufferedRecords = 10000
	}
	if opts.MaxBufferedBytes <= 0 {
		opts.MaxBufferedBytes = 16 << 20
	}
	if opts.ReconnectBackoff <= 0 {
		opts.ReconnectBackoff = 100 * time.Millisecond
	}
	if opts.ReconnectBackoffMax <= 0 {
		opts.ReconnectBackoffMax = 2 * time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 3 * time.Second
	}
	if opts.MaxReconnectAttempts <= 0 {
		opts.MaxReconnectAttempts = 100
	}
	admin := NewAdminFromConn(conn)
	if opts.RPCTimeout > 0 {
		admin.RPCTimeout = opts.RPCTimeout
	}
	return &Consumer{
		opts: opts, conn: conn, broker: pb.NewBrokerClient(conn), admin: admin,
		changed: make(chan struct{}), parts: map[TopicPartition]*partState{}, readerDone: make(chan struct{}),
	}
}

// Assign reads exactly these partitions (replacing any previous set), each
// from its position.
func (c *Consumer) Assign(ctx context.Context, partitions map[TopicPartition]StartPosition) error {
	parts := make(map[TopicPartition]*partState, len(partitions))
	for tp, pos := range partitions {
		st, err := c.resolve(ctx, tp, pos)
		if err != nil {
			return err
		}
		parts[tp] = st
	}
	return c.restartWith(func() {
		c.parts = parts
		c.groupTopics = nil
		c.dropBufferedLocked(func(TopicPartition) bool { return true })
	})
}

// Subscribe reads every partition of topics from start. With useGroup the
// consumer joins Options.Group and the broker assigns partitions (start is
// the reset position for partitions without a committed offset); brokers
// without group support end the subscription with Unimplemented.
func (c *Consumer) Subscribe(ctx context.Context, topics []string, start StartPosition, useGroup bool) error {
	if !useGroup {
		assignment := map[TopicPartition]StartPosition{}
		for _, topic := range topics {
			desc, err := c.admin.DescribeTopic(ctx, topic)
			if err != nil {
				return err
			}
			for _, p := range desc.Partitions {
				assignment[TopicPartition{topic, p.Partition}] = start
			}
		}
		return c.Assign(ctx, assignment)
	}
	if c.opts.Group == "" {
		return errorf(codes.InvalidArgument, "useGroup needs ConsumerOptions.Group")
	}
	return c.restartWith(func() {
		c.parts = map[TopicPartition]*partState{}
		c.groupTopics = append([]string(nil), topics...)
		c.groupReset = start
		c.dropBufferedLocked(func(TopicPartition) bool { return true })
	})
}

// Seek moves an assigned partition: buffered records for it are dropped and
// the next record returned for it is the one at position. Implemented as a
// reconnect with every partition at its cursor, not the in-stream Seek: the
// broker may deliver batches from the new position before its SeekResult, so
// in-flight batches from the old position could not be told apart.
func (c *Consumer) Seek(ctx context.Context, tp TopicPartition, position StartPosition) error {
	st, err := c.resolve(ctx, tp, position)
	if err != nil {
		return err
	}
	var notAssigned bool
	err = c.restartWith(func() {
		if _, ok := c.parts[tp]; !ok {
			notAssigned = true
			return
		}
		c.dropBufferedLocked(func(t TopicPartition) bool { return t == tp })
		c.parts[tp] = st
	})
	if notAssigned {
		return errorf(codes.FailedPrecondition, "%s/%d is not assigned", tp.Topic, tp.Partition)
	}
	return err
}

// Position is the next offset Poll returns for tp (-1 before the first record).
func (c *Consumer) Position(tp TopicPartition) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.parts[tp]; ok {
		return st.position
	}
	return -1
}

// Poll returns up to maxRecords records, waiting until at least one is
// buffered or ctx ends (then it returns nil, nil). It returns the
// subscription's *Error if the subscription ended.
func (c *Consumer) Poll(ctx context.Context, maxRecords int) ([]ConsumedRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buffer) == 0 {
		if c.fatal != nil {
			return nil, c.fatal
		}
		if c.closed {
			return nil, errorf(codes.Canceled, "consumer is closed")
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			return nil, nil
		}
	}
	out := c.takeLocked(maxRecords)
	c.grantCreditLocked()
	return out, nil
}

// Run calls handle for every record until ctx ends (returns nil), handle
// returns an error, or the subscription fails.
func (c *Consumer) Run(ctx context.Context, handle func(ConsumedRecord) error) error {
	for ctx.Err() == nil {
		records, err := c.Poll(ctx, 500)
		if err != nil {
			return err
		}
		for _, r := range records {
			if err := handle(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Commit commits offsets (nil: the current positions) for Options.Group with
// the CommitOffsets RPC. A group member's commit carries its generation and
// member id: a stale generation or a partition it does not own (e.g. revoked
// concurrently) fails with codes.Aborted.
func (c *Consumer) Commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	if c.opts.Group == "" {
		return errorf(codes.InvalidArgument, "Commit needs ConsumerOptions.Group")
	}
	c.mu.Lock()
	if offsets == nil {
		offsets = map[TopicPartition]int64{}
		for tp, st := range c.parts {
			if st.position >= 0 {
				offsets[tp] = st.position
			}
		}
	}
	generation, member := c.generation, c.memberID
	c.mu.Unlock()
	if len(offsets) == 0 {
		return nil
	}
	return c.admin.CommitOffsets(ctx, c.opts.Group, offsets, generation, member)
}

// Committed returns Options.Group's committed offsets (-1: none).
func (c *Consumer) Committed(ctx context.Context, partitions ...TopicPartition) (map[TopicPartition]int64, error) {
	if c.opts.Group == "" {
		return nil, errorf(codes.InvalidArgument, "Committed needs ConsumerOptions.Group")
	}
	return c.admin.FetchCommittedOffsets(ctx, c.opts.Group, partitions...)
}

// Close ends the subscription. Safe to call more than once. A group member
// first commits its positions (unless NoCommitOnRevoke); closing the stream
// then leaves the group at once.
func (c *Consumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	var owned []TopicPartition
	if c.memberID != "" && !c.opts.NoCommitOnRevoke {
		for tp := range c.parts {
			owned = append(owned, tp)
		}
	}
	c.mu.Unlock()
	if len(owned) > 0 {
		c.commitQuietly(owned)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s, running := c.stream, c.running
	c.notifyLocked()
	c.mu.Unlock()
	if s != nil {
		s.cancel()
	}
	if running {
		<-c.readerDone
	}
	if c.ownsConn {
		return c.conn.Close()
	}
	return nil
}

func (c *Consumer) resolve(ctx context.Context, tp TopicPartition, pos StartPosition) (*partState, error) {
	// A timestamp becomes an exact offset first: batches are delivered whole,
	// so only a known offset lets the client skip the records before it.
	if pos.kind == posTimestamp {
		offsets, err := c.admin.ListOffsets(ctx, tp.Topic, pos, tp.Partition)
		if err != nil {
			return nil, err
		}
		pos = AtOffset(offsets[tp.Partition].GetOffset())
	}
	if pos.kind == posOffset {
		return &partState{start: pos, fetch: pos.value, position: pos.value}, nil
	}
	return &partState{start: pos, fetch: -1, position: -1}, nil
}

func (c *Consumer) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Consumer) takeLocked(maxRecords int) []ConsumedRecord {
	var out []ConsumedRecord
	for len(c.buffer) > 0 && len(out) < maxRecords {
		ch := c.buffer[0]
		n := len(ch.records) - ch.next
		if left := maxRecords - len(out); n > left {
			n = left
		}
		out = append(out, ch.records[ch.next:ch.next+n]...)
		ch.next += n
		if st, ok := c.parts[ch.tp]; ok {
			st.position = out[len(out)-1].Offset + 1
		}
		if ch.next == len(ch.records) {
			c.buffer = c.buffer[1:]
			c.releaseLocked(ch)
		}
	}
	return out
}

func (c *Consumer) releaseLocked(ch *chunk) {
	c.bufRecords -= ch.creditRecords
	c.bufBytes -= ch.creditBytes
	c.creditRecords += ch.creditRecords
	c.creditBytes += ch.creditBytes
}

func (c *Consumer) dropBufferedLocked(match func(TopicPartition) bool) {
	kept := c.buffer[:0]
	for _, ch := range c.buffer {
		if match(ch.tp) {
			c.releaseLocked(ch)
		} else {
			kept = append(kept, ch)
		}
	}
	c.buffer = kept
	c.grantCreditLocked()
}

// grantCreditLocked grants in steps of a quarter of the buffer (or when it
// ran dry) so a fast consumer does not send a Credit per record.
func (c *Consumer) grantCreditLocked() {
	if c.creditRecords == 0 && c.creditBytes == 0 || c.stream == nil {
		return
	}
	if c.creditRecords*4 < c.opts.MaxBufferedRecords && c.creditBytes*4 < c.opts.MaxBufferedBytes && len(c.buffer) > 0 {
		return
	}
	req := &pb.SubscribeRequest{Request: &pb.SubscribeRequest_Credit{Credit: &pb.Credit{Records: c.creditRecords, Bytes: c.creditBytes}}}
	select {
	case c.stream.requests <- req:
		c.creditRecords, c.creditBytes = 0, 0
	default: // the writer is behind; the credit goes with the next grant
	}
}

// restartWith applies update under the lock and makes the reader reconnect
// with the new subscription; the running stream is detached first so nothing
// it still delivers mixes with the new positions.
func (c *Consumer) restartWith(update func()) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errorf(codes.Canceled, "consumer is closed")
	}
	update()
	c.fatal = nil
	c.restart = true
	s := c.stream
	c.stream = nil
	if !c.running {
		c.running = true
		go c.readerLoop()
	}
	c.notifyLocked()
	c.mu.Unlock()
	if s != nil {
		s.cancel()
	}
	return nil
}

func (c *Consumer) readerLoop() {
	defer close(c.readerDone)
	attempts := 0
	backoff := c.opts.ReconnectBackoff
	for {
		c.mu.Lock()
		for !c.closed && !c.restart && c.fatal != nil {
			ch := c.changed
			c.mu.Unlock()
			<-ch
			c.mu.Lock()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.restart = false
		ctx, cancel := context.WithCancel(context.Background())
		s := &subStream{ctx: ctx, cancel: cancel, requests: make(chan *pb.SubscribeRequest, 64)}
		s.requests <- c.startRequestLocked()
		c.stream = s
		c.mu.Unlock()

		err := c.runStream(ctx, s)
		cancel()

		c.mu.Lock()
		if c.stream == s {
			c.stream = nil
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		if c.restart {
			c.mu.Unlock()
			continue
		}
		if s.delivered {
			attempts, backoff = 0, c.opts.ReconnectBackoff
		} else {
			attempts++
		}
		if code := status.Code(err); !reconnectCodes[code] || attempts > c.opts.MaxReconnectAttempts {
			c.fatal = err
			c.notifyLocked()
			c.mu.Unlock()
			continue
		}
		ch := c.changed
		c.mu.Unlock()
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-time.After(wait):
		case <-ch: // closed or re-subscribed meanwhile
		}
		if backoff *= 2; backoff > c.opts.ReconnectBackoffMax {
			backoff = c.opts.ReconnectBackoffMax
		}
	}
}

func (c *Consumer) startRequestLocked() *pb.SubscribeRequest {
	max64 := func(a, b int64) int64 {
		if a > b {
			return a
		}
		return b
	}
	c.creditRecords, c.creditBytes = 0, 0 // a new stream starts afresh
	start := &pb.SubscribeStart{Credit: &pb.Credit{
		Records: max64(1, c.opts.MaxBufferedRecords-c.bufRecords),
		Bytes:   max64(1, c.opts.MaxBufferedBytes-c.bufBytes),
	}}
	if len(c.groupTopics) > 0 {
		start.Group = c.opts.Group
		start.Topics = c.groupTopics
		start.InstanceId = c.opts.InstanceID
		start.ClientId = c.opts.ClientID
		start.Reset_ = c.groupReset.proto().GetNamed()
		start.SessionTimeoutMs = int32(c.opts.SessionTimeout / time.Millisecond)
		c.generation, c.memberID = 0, "" // a new stream joins as a new member
		return &pb.SubscribeRequest{Request: &pb.SubscribeRequest_Start{Start: start}}
	}
	for tp, st := range c.parts {
		pos := st.start
		if st.fetch >= 0 {
			pos = AtOffset(st.fetch) // resume at the cursor
		}
		start.Partitions = append(start.Partitions, &pb.SubscribeStart_PartitionStart{Topic: tp.Topic, Partition: tp.Partition, Position: pos.proto()})
	}
	return &pb.SubscribeRequest{Request: &pb.SubscribeRequest_Start{Start: start}}
}

// runStream runs one Subscribe stream until it ends; a clean end by the
// broker counts as Unavailable (resume).
func (c *Consumer) runStream(ctx context.Context, s *subStream) error {
	client, err := c.broker.Subscribe(ctx)
	if err != nil {
		return fromRPC(err)
	}
	c.mu.Lock()
	group := len(c.groupTopics) > 0
	c.mu.Unlock()
	go func() {
		// An idle group member (full buffer, nothing to commit) must still
		// send something within its session timeout.
		var beat <-chan time.Time
		if group {
			t := time.NewTicker(c.opts.HeartbeatInterval)
			defer t.Stop()
			beat = t.C
		}
		for {
			var req *pb.SubscribeRequest
			select {
			case req = <-s.requests:
			case <-beat:
				req = &pb.SubscribeRequest{Request: &pb.SubscribeRequest_Heartbeat{Heartbeat: &pb.Heartbeat{}}}
			case <-ctx.Done():
				return
			}
			if client.Send(req) != nil {
				return
			}
		}
	}()
	for {
		resp, err := client.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errorf(codes.Unavailable, "subscription ended by the broker")
			}
			return fromRPC(err)
		}
		c.onResponse(s, resp)
	}
}

func (c *Consumer) onResponse(s *subStream, resp *pb.SubscribeResponse) {
	var assigned, revoked []TopicPartition
	var committed map[TopicPartition]int64
	if a := resp.GetAssignment(); a != nil {
		committed = c.committedForNew(s.ctx, a) // network call: before locking
	}
	c.mu.Lock()
	if s != c.stream {
		c.mu.Unlock()
		return
	}
	switch ev := resp.Event.(type) {
	case *pb.SubscribeResponse_Batches:
		for _, b := range ev.Batches.Batches {
			c.onBatchLocked(b)
		}
		s.delivered = true
	case *pb.SubscribeResponse_Assignment:
		c.generation, c.memberID = ev.Assignment.Generation, ev.Assignment.MemberId
		parts := map[TopicPartition]*partState{}
		for _, p := range ev.Assignment.Partitions {
			tp := TopicPartition{p.Topic, p.Partition}
			if st, ok := c.parts[tp]; ok {
				parts[tp] = st
			} else if off, ok := committed[tp]; ok {
				parts[tp] = &partState{start: AtOffset(off), fetch: off, position: off}
			} else {
				parts[tp] = &partState{start: Committed(), fetch: -1, position: -1}
			}
			assigned = append(assigned, tp)
		}
		c.parts = parts
		c.dropBufferedLocked(func(tp TopicPartition) bool { return parts[tp] == nil })
	case *pb.SubscribeResponse_Revoke:
		for _, p := range ev.Revoke.Partitions {
			revoked = append(revoked, TopicPartition{p.Topic, p.Partition})
		}
		gone := map[TopicPartition]bool{}
		for _, tp := range revoked {
			gone[tp] = true
		}
		c.dropBufferedLocked(func(tp TopicPartition) bool { return gone[tp] })
	}
	c.notifyLocked()
	c.mu.Unlock()
	// Group callbacks run without the lock held.
	if assigned != nil && c.opts.OnAssign != nil {
		c.opts.OnAssign(assigned)
	}
	if rv := resp.GetRevoke(); rv != nil {
		c.finishRevoke(s, rv, revoked)
	}
}

func (c *Consumer) onBatchLocked(b *pb.ConsumedBatch) {
	tp := TopicPartition{b.Topic, b.Partition}
	ch := &chunk{tp: tp, creditRecords: int64(len(b.Records)), creditBytes: int64(proto.Size(b)) + batchOverheadBytes}
	c.bufRecords += ch.creditRecords
	c.bufBytes += ch.creditBytes
	st, ok := c.parts[tp]
	if ok {
		ch.records = decodeBatch(b, st.fetch)
	}
	if len(ch.records) == 0 { // all skipped (replay after reconnect): credit back now
		c.releaseLocked(ch)
		c.grantCreditLocked()
		return
	}
	st.fetch = ch.records[len(ch.records)-1].Offset + 1
	c.buffer = append(c.buffer, ch)
}
