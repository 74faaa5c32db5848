package herald

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// fakeBroker answers InitProducer only; the other methods are not called.
type fakeBroker struct {
	pb.BrokerClient
	nextPID int64
}

func (f *fakeBroker) InitProducer(context.Context, *pb.InitProducerRequest, ...grpc.CallOption) (*pb.InitProducerResponse, error) {
	f.nextPID++
	return &pb.InitProducerResponse{ProducerId: f.nextPID}, nil
}

// newUnitProducer builds a Producer without a connection or sender goroutine,
// so its locked helpers can be driven directly.
func newUnitProducer(broker pb.BrokerClient) *Producer {
	opts := ProducerOptions{}
	opts.defaults()
	return &Producer{
		opts: opts, broker: broker, changed: make(chan struct{}),
		open: map[TopicPartition]*batch{}, inFlight: map[uint64]*batch{},
		metadata: map[string]topicMeta{}, sticky: map[string]int32{},
		nextSeq: map[TopicPartition]int32{}, idempotent: true, backoff: opts.RetryBackoff,
	}
}

type outcome struct {
	called bool
	err    error
}

func unitBatch(partition int32, o *outcome) *batch {
	return &batch{
		topic: "t", partition: partition, records: []*pb.Record{{Value: []byte("v")}},
		callbacks: []Callback{func(_ *RecordMetadata, err error) { o.called, o.err = true, err }},
		bytes:     10,
	}
}

func TestAtMostFivePerPartitionInFlight(t *testing.T) {
	p := newUnitProducer(nil)
	p.stream = &produceStream{requests: make(chan *pb.ProduceRequest, p.opts.MaxInFlightBatches+1)}
	var p0 []*batch
	for i := 0; i < 8; i++ {
		b := unitBatch(0, &outcome{})
		p0 = append(p0, b)
		p.ready = append(p.ready, b)
	}
	other := unitBatch(1, &outcome{})
	p.ready = append(p.ready, other)
	var cs []completion
	p.writeReadyLocked(&cs)

	if got := p.inFlightPerPartitionLocked()[TopicPartition{"t", 0}]; got != maxInFlightPerPartition {
		t.Fatalf("partition 0 in flight = %d, want %d", got, maxInFlightPerPartition)
	}
	if other.requestID == 0 {
		t.Fatal("a batch of another partition was held back by partition 0's limit")
	}
	if len(p.ready) != 3 {
		t.Fatalf("ready = %d batches, want 3", len(p.ready))
	}
	for i, b := range p.ready {
		if b != p0[5+i] || b.hasSeq {
			t.Fatalf("held-back batch %d out of order or already sequenced", i)
		}
	}
	// Sent in order with consecutive sequences.
	for i := 0; i < 5; i++ {
		req := <-p.stream.requests
		if req.Partition == nil || *req.Partition != 0 {
			continue
		}
		if req.BaseSequence != p0[i].seq || p0[i].seq != int32(i) {
			t.Fatalf("request %d: base sequence %d, batch seq %d", i, req.BaseSequence, p0[i].seq)
		}
	}
}

func TestNewIdentityFailsSentBatchesAsOutcomeUnknown(t *testing.T) {
	broker := &fakeBroker{nextPID: 41}
	p := newUnitProducer(broker)
	p.pid, p.hasPID = 41, true
	var sentOut, freshOut outcome
	sent, fresh := unitBatch(0, &sentOut), unitBatch(0, &freshOut)
	p.assignSequenceLocked(sent) // written under pid 41, never acknowledged
	p.ready = []*batch{sent, fresh}
	p.buffered = sent.bytes + fresh.bytes
	p.resetSeqs = true

	if !p.initProducer() {
		t.Fatal("initProducer failed")
	}
	if p.pid != 42 || !p.hasPID {
		t.Fatalf("pid = %d (has %v), want a new id 42", p.pid, p.hasPID)
	}
	if !sentOut.called {
		t.Fatal("the already-sent batch was kept (it would be re-sent with a new sequence)")
	}
	var e *Error
	if !errors.As(sentOut.err, &e) || e.Code() != codes.Aborted || !strings.HasPrefix(e.Message(), "outcome unknown: ") {
		t.Fatalf("sent batch error = %v, want Aborted \"outcome unknown: ...\"", sentOut.err)
	}
	if freshOut.called || len(p.ready) != 1 || p.ready[0] != fresh || fresh.hasSeq {
		t.Fatalf("the never-sent batch must stay queued, unsequenced (called=%v ready=%d)", freshOut.called, len(p.ready))
	}
	if p.buffered != fresh.bytes {
		t.Fatalf("buffered = %d, want %d", p.buffered, fresh.bytes)
	}
	p.assignSequenceLocked(fresh)
	if fresh.seq != 0 {
		t.Fatalf("fresh batch seq under the new id = %d, want 0", fresh.seq)
	}
}
