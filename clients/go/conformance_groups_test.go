package herald

// Group and idempotence scenarios C15-C17 (clients/CONFORMANCE.md).

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// producePerPartition writes per records to each partition, values first, first+1, ...
func producePerPartition(t *testing.T, s *testServer, topic string, partitions int32, first, per int) {
	t.Helper()
	p := newProducer(t, s, ProducerOptions{})
	v := first
	for part := int32(0); part < partitions; part++ {
		for i := 0; i < per; i++ {
			p.SendAsync(Record{Topic: topic, Partition: i32(part), Value: []byte(strconv.Itoa(v))}, func(_ *RecordMetadata, err error) {
				if err != nil {
					t.Errorf("send: %v", err)
				}
			})
			v++
		}
	}
	if err := p.Flush(testCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// pollUntil polls every consumer (collecting records per consumer) until
// done holds; fails the test after 20 s.
func pollUntil(t *testing.T, consumers []*Consumer, got map[int][]ConsumedRecord, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		for i, c := range consumers {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			recs, err := c.Poll(ctx, 500)
			cancel()
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			got[i] = append(got[i], recs...)
		}
	}
}

func tpSet(tps []TopicPartition) map[TopicPartition]bool {
	out := map[TopicPartition]bool{}
	for _, tp := range tps {
		out[tp] = true
	}
	return out
}

func sortedValues(t *testing.T, records []ConsumedRecord) []int {
	out := make([]int, 0, len(records))
	for _, r := range records {
		v, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

func checkRange(t *testing.T, what string, values []int, from, to int) {
	t.Helper()
	if len(values) != to-from {
		t.Fatalf("%s: %d values, want %d..%d", what, len(values), from, to-1)
	}
	for i, v := range values {
		if v != from+i {
			t.Fatalf("%s: value %d at %d, want %d..%d once each", what, v, i, from, to-1)
		}
	}
}

func TestC15GroupSplitAndRebalance(t *testing.T) {
	s := startServer(t)
	topic, group := unique("split"), unique("g")
	createTopic(t, newAdmin(t, s), topic, 6)
	producePerPartition(t, s, topic, 6, 0, 10) // values 0..59
	var mu sync.Mutex
	var revokedA [][]TopicPartition
	a := newConsumer(t, s, ConsumerOptions{Group: group, OnRevoke: func(tps []TopicPartition) {
		mu.Lock()
		revokedA = append(revokedA, tps)
		mu.Unlock()
	}})
	b := newConsumer(t, s, ConsumerOptions{Group: group})
	ctx := testCtx(t, 60*time.Second)
	if err := a.Subscribe(ctx, []string{topic}, Earliest(), true); err != nil {
		t.Fatal(err)
	}
	checkRange(t, "first", sortedValues(t, readN(t, a, 60, 20*time.Second)), 0, 60)
	if n := len(a.Assignment()); n != 6 {
		t.Fatalf("A owns %d partitions, want 6", n)
	}

	if err := b.Subscribe(ctx, []string{topic}, Earliest(), true); err != nil {
		t.Fatal(err)
	}
	got := map[int][]ConsumedRecord{}
	pollUntil(t, []*Consumer{a, b}, got, func() bool { return len(a.Assignment()) == 3 && len(b.Assignment()) == 3 })
	ownedA, ownedB := tpSet(a.Assignment()), tpSet(b.Assignment())
	for tp := range ownedB {
		if ownedA[tp] {
			t.Fatalf("%v owned by both", tp)
		}
	}
	mu.Lock()
	if len(revokedA) != 1 || len(revokedA[0]) != 3 {
		t.Fatalf("A revoked %v, want one revoke of 3 partitions", revokedA)
	}
	for _, tp := range revokedA[0] {
		if !ownedB[tp] {
			t.Fatalf("A revoked %v, which B did not get (B owns %v)", tp, ownedB)
		}
	}
	mu.Unlock()
	committed, err := a.Committed(ctx, b.Assignment()...)
	if err != nil {
		t.Fatal(err)
	}
	for tp, off := range committed {
		if off != 10 {
			t.Fatalf("commit-on-revoke: %v committed at %d, want 10", tp, off)
		}
	}

	producePerPartition(t, s, topic, 6, 60, 10) // 60..119
	pollUntil(t, []*Consumer{a, b}, got, func() bool { return len(got[0])+len(got[1]) >= 60 })
	for i, owned := range []map[TopicPartition]bool{ownedA, ownedB} {
		for _, r := range got[i] {
			if !owned[TopicPartition{r.Topic, r.Partition}] {
				t.Fatalf("consumer %d got a record of %s/%d it does not own", i, r.Topic, r.Partition)
			}
		}
	}
	checkRange(t, "after split", sortedValues(t, append(got[0], got[1]...)), 60, 120)

	if err := a.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b.Close() // commits its positions, then leaves: its partitions move back to A
	got = map[int][]ConsumedRecord{}
	pollUntil(t, []*Consumer{a}, got, func() bool { return len(a.Assignment()) == 6 })
	producePerPartition(t, s, topic, 6, 120, 10) // 120..179
	pollUntil(t, []*Consumer{a}, got, func() bool { return len(got[0]) >= 60 })
	checkRange(t, "after close", sortedValues(t, got[0]), 120, 180)
	if extra, _ := a.Poll(testCtx(t, 300*time.Millisecond), 10); len(extra) > 0 {
		t.Fatalf("unexpected records after resume: %d", len(extra))
	}
}

func TestC16IdempotentRetry(t *testing.T) {
	s := startServer(t)
	topic := unique("idem")
	createTopic(t, newAdmin(t, s), topic, 1)
	ctx := testCtx(t, 60*time.Second)
	conn, err := Dial(s.target())
	if err != nil {
		t.Fatal(err)
	}
	broker := pb.NewBrokerClient(conn)
	init, err := broker.InitProducer(ctx, &pb.InitProducerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	batch := &pb.RecordBatch{Records: []*pb.Record{{Value: []byte("0")}, {Value: []byte("1")}, {Value: []byte("2")}}}
	// Each request on its own stream after the previous answer (a retry of a
	// batch still being written would get Unavailable instead).
	produce := func(seq int32) *pb.ProduceResponse {
		stream, err := broker.Produce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := &pb.ProduceRequest{RequestId: 1, Topic: topic, Partition: i32(0), Batch: batch,
			ProducerId: init.ProducerId, ProducerEpoch: init.ProducerEpoch, BaseSequence: seq}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		stream.CloseSend()
		return resp
	}
	original := produce(0)
	retry := produce(0) // its acknowledgement was "lost"
	gap := produce(7)   // expected 3
	if original.Error != nil || original.Duplicate {
		t.Fatalf("original: %v", original)
	}
	if retry.Error != nil || !retry.Duplicate || retry.BaseOffset != original.BaseOffset {
		t.Fatalf("retry: %v (original at %d)", retry, original.BaseOffset)
	}
	if codes.Code(gap.GetError().GetCode()) != codes.OutOfRange {
		t.Fatalf("gap: %v", gap)
	}
	fetched, err := broker.Fetch(ctx, &pb.FetchRequest{Topic: topic, Partition: 0, Offset: 0})
	if err != nil || fetched.HighWatermark != 3 {
		t.Fatalf("stored once: hwm %d, err %v", fetched.GetHighWatermark(), err)
	}

	// The wrapper: idempotent by default; batches re-sent across a restart
	// (written, acknowledgement lost) must not be stored twice.
	p := newProducer(t, s, ProducerOptions{Linger: time.Millisecond, RetryBackoff: 50 * time.Millisecond,
		RetryBackoffMax: 500 * time.Millisecond, RequestTimeout: 3 * time.Second})
	offsets := make([]int64, 200)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			p.SendAsync(Record{Topic: topic, Value: []byte("w" + strconv.Itoa(i))}, func(m *RecordMetadata, err error) {
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					return
				}
				offsets[i] = m.Offset
			})
		}
	}
	send(0, 100)
	s.restart()
	send(100, 200)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 200; i++ {
		if offsets[i] <= offsets[i-1] {
			t.Fatalf("offsets not increasing at %d: %d after %d", i, offsets[i], offsets[i-1])
		}
	}
	c := newConsumer(t, s, ConsumerOptions{})
	c.Assign(ctx, map[TopicPartition]StartPosition{{topic, 0}: AtOffset(3)})
	for i, r := range readN(t, c, 200, 20*time.Second) {
		if string(r.Value) != "w"+strconv.Itoa(i) {
			t.Fatalf("record %d is %q", i, r.Value)
		}
	}
	if extra, _ := c.Poll(testCtx(t, 300*time.Millisecond), 10); len(extra) > 0 {
		t.Fatalf("%d duplicate records", len(extra))
	}
	conn.Close()
	conn, err = Dial(s.target())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fetched, err = pb.NewBrokerClient(conn).Fetch(ctx, &pb.FetchRequest{Topic: topic, Partition: 0, Offset: 3})
	if err != nil || len(fetched.Batches) == 0 {
		t.Fatalf("fetch: %v", err)
	}
	for _, b := range fetched.Batches {
		if b.ProducerId == 0 {
			t.Fatalf("batch at %d written without a producer id", b.BaseOffset)
		}
	}
}

func TestC17StaleCommitAborted(t *testing.T) {
	s := startServer(t)
	topic, group := unique("stale"), unique("g")
	admin := newAdmin(t, s)
	createTopic(t, admin, topic, 2)
	a := newConsumer(t, s, ConsumerOptions{Group: group})
	b := newConsumer(t, s, ConsumerOptions{Group: group})
	ctx := testCtx(t, 30*time.Second)
	if err := a.Subscribe(ctx, []string{topic}, Earliest(), true); err != nil {
		t.Fatal(err)
	}
	got := map[int][]ConsumedRecord{}
	pollUntil(t, []*Consumer{a}, got, func() bool { return len(a.Assignment()) == 2 })
	oldGeneration, memberA := a.GroupMember()
	if err := b.Subscribe(ctx, []string{topic}, Earliest(), true); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, []*Consumer{a, b}, got, func() bool { return len(a.Assignment()) == 1 && len(b.Assignment()) == 1 })
	if g, _ := a.GroupMember(); g <= oldGeneration {
		t.Fatalf("generation %d after the rebalance, was %d", g, oldGeneration)
	}
	ownedA, ownedB := a.Assignment()[0], b.Assignment()[0]
	err := admin.CommitOffsets(ctx, group, map[TopicPartition]int64{ownedA: 0}, oldGeneration, memberA)
	if status.Code(err) != codes.Aborted || !errors.Is(err, ErrAborted) {
		t.Fatalf("stale generation commit: %v, want Aborted", err)
	}
	var herr *Error
	if err := a.Commit(ctx, map[TopicPartition]int64{ownedB: 0}); !errors.As(err, &herr) || herr.Code() != codes.Aborted {
		t.Fatalf("commit of a partition not owned: %v, want Aborted", err)
	}
	if err := a.Commit(ctx, map[TopicPartition]int64{ownedA: 0}); err != nil {
		t.Fatalf("owner's commit: %v", err)
	}
}

func TestC16TransactionalFencing(t *testing.T) {
	s := startServer(t)
	topic := unique("fence")
	createTopic(t, newAdmin(t, s), topic, 1)
	old := newProducer(t, s, ProducerOptions{TransactionalID: "tx-" + topic})
	mustSend(t, old, Record{Topic: topic, Value: []byte("a")})
	newer := newProducer(t, s, ProducerOptions{TransactionalID: "tx-" + topic})
	mustSend(t, newer, Record{Topic: topic, Value: []byte("b")})
	ctx := testCtx(t, 10*time.Second)
	if _, err := old.Send(ctx, Record{Topic: topic, Value: []byte("c")}); !errors.Is(err, ErrAborted) {
		t.Fatalf("send of a fenced producer: %v, want Aborted", err)
	}
	err := old.SendAsync(Record{Topic: topic, Value: []byte("d")}, func(*RecordMetadata, error) {})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("send after fencing: %v, want Aborted", err)
	}
	mustSend(t, newer, Record{Topic: topic, Value: []byte("e")})
}

// A batch the broker refuses (too large, not written) must not leave a
// sequence gap that fails the pipelined batches behind it: they are
// renumbered and re-sent.
func TestC16RejectedBatchKeepsSequence(t *testing.T) {
	s := startServer(t)
	topic := unique("toolarge")
	maxBytes := int32(2048)
	if _, err := newAdmin(t, s).CreateTopic(testCtx(t, 10*time.Second), topic, 1, 0, &pb.TopicConfig{MaxMessageBytes: &maxBytes}); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, s, ProducerOptions{Linger: -1})
	mustSend(t, p, Record{Topic: topic, Value: []byte("warm-up")}) // metadata + producer id
	bigErr := make(chan error, 1)
	p.SendAsync(Record{Topic: topic, Value: make([]byte, 4096)}, func(_ *RecordMetadata, err error) { bigErr <- err })
	offsets := make([]int64, 10)
	for i := range offsets {
		i := i
		p.SendAsync(Record{Topic: topic, Value: []byte("s" + strconv.Itoa(i))}, func(m *RecordMetadata, err error) {
			if err != nil {
				t.Errorf("record %d: %v", i, err)
				return
			}
			offsets[i] = m.Offset
		})
	}
	if err := p.Flush(testCtx(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-bigErr; !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("oversize batch: %v, want InvalidArgument", err)
	}
	for i, off := range offsets {
		if off != int64(i+1) {
			t.Fatalf("offsets %v, want 1..10", offsets)
		}
	}
}
