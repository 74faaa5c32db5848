package herald

import (
	"context"
	"math/rand"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// ProducerOptions tune a Producer; zero fields take the defaults shown.
type ProducerOptions struct {
	Acks               pb.Acks       // ACKS_ALL
	Linger             time.Duration // 5ms; negative: send every record at once
	BatchMaxBytes      int           // 256 KiB
	BufferMaxBytes     int           // 32 MiB of unresolved records
	MaxBlock           time.Duration // 60s: how long SendAsync waits for buffer room
	MaxInFlightBatches int           // 32 unacknowledged batches on the stream (and at most 5 per partition when idempotent)
	MaxInFlightBytes   int           // 8 MiB
	RetryBackoff       time.Duration // 100ms, doubling to RetryBackoffMax
	RetryBackoffMax    time.Duration // 2s
	DeliveryTimeout    time.Duration // 120s from sealing to acknowledgement
	RequestTimeout     time.Duration // 30s without an answer: the stream is presumed dead
	MetadataMaxAge     time.Duration // 5m partition-count cache
	RPCTimeout         time.Duration // 10s for DescribeTopic and InitProducer
	// DisableIdempotence sends plain batches (at-least-once: a retried batch
	// the broker already wrote is written again). Implied by ACKS_NONE.
	DisableIdempotence bool
	// TransactionalID makes the producer id stable: a new producer with the
	// same id fences this one (its sends then fail with codes.Aborted).
	TransactionalID string
}

func (o *ProducerOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	if o.Acks == pb.Acks_ACKS_UNSPECIFIED {
		o.Acks = pb.Acks_ACKS_ALL
	}
	def(&o.Linger, 5*time.Millisecond)
	defInt(&o.BatchMaxBytes, 256<<10)
	defInt(&o.BufferMaxBytes, 32<<20)
	def(&o.MaxBlock, 60*time.Second)
	defInt(&o.MaxInFlightBatches, 32)
	defInt(&o.MaxInFlightBytes, 8<<20)
	def(&o.RetryBackoff, 100*time.Millisecond)
	def(&o.RetryBackoffMax, 2*time.Second)
	def(&o.DeliveryTimeout, 120*time.Second)
	def(&o.RequestTimeout, 30*time.Second)
	def(&o.MetadataMaxAge, 5*time.Minute)
	def(&o.RPCTimeout, DefaultRPCTimeout)
}

// Callback receives a record's outcome: its metadata, or an *Error.
type Callback func(*RecordMetadata, error)

const recordOverheadBytes = 16 // protobuf tags and lengths per record, an upper bound

type batch struct {
	topic     string
	partition int32
	records   []*pb.Record
	callbacks []Callback
	bytes     int
	created   time.Time
	sealed    time.Time
	sent      time.Time
	requestID uint64
	// Idempotence: the sequence of the first record, kept across retries so
	// the broker recognises a re-sent batch; sentSeq is what the last write
	// carried (they differ after a failed earlier batch renumbered it).
	seq, sentSeq       int32
	hasSeq, hasSentSeq bool
	seqOrder           uint64 // when seq was assigned (orders retries)
}

type completion struct {
	cb   Callback
	meta *RecordMetadata
	err  error
}

type produceStream struct {
	cancel   context.CancelFunc
	client   pb.Broker_ProduceClient
	requests chan *pb.ProduceRequest // written by one writer goroutine
}

type topicMeta struct {
	partitions int32
	fetched    time.Time
}

// Producer sends records to Herald topics. Safe for concurrent use.
//
// A sender goroutine seals batches (Linger, BatchMaxBytes) and writes them on
// one Produce stream within the in-flight window; a reader goroutine per
// stream resolves records. Partitioning: Record.Partition > Kafka murmur2 of
// the key > a sticky random partition per topic, moved when its batch is
// sealed. Batches unacknowledged when the stream breaks are re-sent, in
// order, on a new stream after backoff. The producer is idempotent unless
// DisableIdempotence: it calls InitProducer before its first stream and
// numbers each partition's batches, so a re-sent batch the broker already
// wrote is answered with its original offsets, not written twice. Callbacks run
// on the producer's goroutines without locks held; keep them short and do
// not call Flush or Close from them.
type Producer struct {
	opts     ProducerOptions
	conn     *grpc.ClientConn
	ownsConn bool
	broker   pb.BrokerClient
	admin    pb.AdminClient

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced on every state change
	open          map[TopicPartition]*batch
	ready         []*batch
	inFlight      map[uint64]*batch
	inFlightBytes int
	buffered      int
	metadata      map[string]topicMeta
	sticky        map[string]int32
	nextID        uint64
	stream        *produceStream
	reconnectAt   time.Time
	backoff       time.Duration
	closing       bool
	stopped       bool
	done          chan struct{}

	idempotent bool
	hasPID     bool
	pid        int64
	epoch      int32
	nextSeq    map[TopicPartition]int32
	seqOrders  uint64
	resetSeqs  bool  // an in-doubt batch expired: take a new producer id
	fatal      error // fenced: every send fails
}

// NewProducer connects to target (host:port).
func NewProducer(target string, opts ProducerOptions, dial ...grpc.DialOption) (*Producer, error) {
	conn, err := Dial(target, dial...)
	if err != nil {
		return nil, err
	}
	p := NewProducerFromConn(conn, opts)
	p.ownsConn = true
	return p, nil
}

// NewProducerFromConn uses an existing connection (not closed by Close).
func NewProducerFromConn(conn *grpc.ClientConn, opts ProducerOptions) *Producer {
	opts.defaults()
	p := &Producer{
		opts: opts, conn: conn, broker: pb.NewBrokerClient(conn), admin: pb.NewAdminClient(conn),
		changed: make(chan struct{}), open: map[TopicPartition]*batch{}, inFlight: map[uint64]*batch{},
		metadata: map[string]topicMeta{}, sticky: map[string]int32{}, backoff: opts.RetryBackoff,
		done: make(chan struct{}), nextSeq: map[TopicPartition]int32{},
		idempotent: !opts.DisableIdempotence && opts.Acks != pb.Acks_ACKS_NONE,
	}
	go p.senderLoop()
	return p
}

// Send produces one record and waits for its acknowledgement (or ctx).
func (p *Producer) Send(ctx context.Context, rec Record) (*RecordMetadata, error) {
	type result struct {
		meta *RecordMetadata
		err  error
	}
	ch := make(chan result, 1)
	if err := p.SendAsync(rec, func(m *RecordMetadata, err error) { ch <- result{m, err} }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.meta, r.err
	case <-ctx.Done():
		return nil, fromRPC(ctx.Err())
	}
}

// SendAsync queues one record; cb is called exactly once with the outcome
// (broker errors such as an unknown topic arrive there as *Error). It returns
// an error only when the record was not queued: buffer full for MaxBlock
// (ResourceExhausted), producer closed (Canceled) or record too large.
func (p *Producer) SendAsync(rec Record, cb Callback) error {
	r := &pb.Record{Key: rec.Key, Value: rec.Value, TimestampMs: rec.TimestampMs}
	for _, h := range rec.Headers {
		r.Headers = append(r.Headers, &pb.Header{Key: h.Key, Value: h.Value})
	}
	size := proto.Size(r) + recordOverheadBytes
	if size > p.opts.BufferMaxBytes {
		return errorf(codes.InvalidArgument, "record of %d bytes exceeds BufferMaxBytes", size)
	}
	count, err := p.partitionCount(rec.Topic)
	if err != nil {
		cb(nil, err)
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.waitForRoomLocked(size); err != nil {
		return err
	}
	part := p.choosePartitionLocked(rec.Topic, rec.Key, rec.Partition, count)
	key := TopicPartition{rec.Topic, part}
	b := p.open[key]
	if b != nil && b.bytes+size > p.opts.BatchMaxBytes {
		p.sealLocked(key)
		b = nil
	}
	if b == nil {
		b = &batch{topic: rec.Topic, partition: part, created: time.Now()}
		p.open[key] = b
	}
	b.records = append(b.records, r)
	b.callbacks = append(b.callbacks, cb)
	b.bytes += size
	p.buffered += size
	if b.bytes >= p.opts.BatchMaxBytes || p.opts.Linger < 0 {
		p.sealLocked(key)
	}
	p.notifyLocked()
	return nil
}

// Flush sends every queued record now and waits until all records queued
// before the call are resolved (or ctx ends).
func (p *Producer) Flush(ctx context.Context) error {
	var wg sync.WaitGroup
	p.mu.Lock()
	for key := range p.open {
		p.sealLocked(key)
	}
	for _, b := range p.allBatchesLocked() {
		for i, cb := range b.callbacks {
			wg.Add(1)
			inner := cb
			b.callbacks[i] = func(m *RecordMetadata, err error) { inner(m, err); wg.Done() }
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errorf(codes.DeadlineExceeded, "flush: %v", ctx.Err())
	}
}

// Close flushes (bounded by ctx), then stops; records still pending fail
// with Canceled. Safe to call more than once.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	p.mu.Lock()
	p.closing = true
	p.notifyLocked()
	p.mu.Unlock()
	<-p.done
	if p.ownsConn {
		_ = p.conn.Close()
	}
	return err
}

// PartitionCount returns a topic's partition count (cached MetadataMaxAge).
func (p *Producer) partitionCount(topic string) (int32, error) {
	p.mu.Lock()
	m, ok := p.metadata[topic]
	p.mu.Unlock()
	if ok && time.Since(m.fetched) < p.opts.MetadataMaxAge {
		return m.partitions, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.RPCTimeout)
	defer cancel()
	resp, err := p.admin.DescribeTopic(ctx, &pb.DescribeTopicRequest{Name: topic}, grpc.WaitForReady(true))
	if err != nil {
		return 0, fromRPC(err)
	}
	n := int32(len(resp.Topic.GetPartitions()))
	p.mu.Lock()
	p.metadata[topic] = topicMeta{n, time.Now()}
	p.mu.Unlock()
	return n, nil
}

func (p *Producer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitLocked releases the lock until the state changes or d passes.
func (p *Producer) waitLocked(d time.Duration) {
	ch := p.changed
	p.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
	p.mu.Lock()
}

func (p *Producer) waitForRoomLocked(size int) error {
	deadline := time.Now().Add(p.opts.MaxBlock)
	for {
		if p.closing {
			return errorf(codes.Canceled, "producer is closed")
		}
		if p.fatal != nil {
			return p.fatal
		}
		if p.buffered+size <= p.opts.BufferMaxBytes {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errorf(codes.ResourceExhausted, "producer buffer full (%d of %d bytes)", p.buffered, p.opts.BufferMaxBytes)
		}
		p.waitLocked(left)
	}
}

func (p *Producer) choosePartitionLocked(topic string, key []byte, explicit *int32, count int32) int32 {
	if explicit != nil {
		return *explicit // validated by the broker (InvalidArgument)
	}
	if len(key) > 0 {
		return PartitionForKey(key, count)
	}
	s, ok := p.sticky[topic]
	if !ok || s >= count {
		s = rand.Int31n(count)
		p.sticky[topic] = s
	}
	return s
}

func (p *Producer) sealLocked(key TopicPartition) {
	b := p.open[key]
	delete(p.open, key)
	b.sealed = time.Now()
	p.ready = append(p.ready, b)
	n := p.metadata[key.Topic].partitions
	if s, ok := p.sticky[key.Topic]; ok && s == key.Partition && n > 1 {
		// Kafka's sticky partitioner: keyless records fill a batch, then move on.
		p.sticky[key.Topic] = (s + 1 + rand.Int31n(n-1)) % n
	}
}

func (p *Producer) allBatchesLocked() []*batch {
	out := make([]*batch, 0, len(p.open)+len(p.ready)+len(p.inFlight))
	for _, b := range p.open {
		out = append(out, b)
	}
	out = append(out, p.ready...)
	for _, b := range p.inFlight {
		out = append(out, b)
	}
	return out
}

func complete(cs []completion) {
	for _, c := range cs {
		c.cb(c.meta, c.err)
	}
}
