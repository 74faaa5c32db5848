package herald

// Conformance scenarios (clients/CONFORMANCE.md) against a real herald-server.

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

func unique(prefix string) string { return fmt.Sprintf("%s-%08x", prefix, rand.Uint32()) }

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newAdmin(t *testing.T, s *testServer) *Admin {
	a, err := NewAdmin(s.target())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func newProducer(t *testing.T, s *testServer, opts ProducerOptions) *Producer {
	p, err := NewProducer(s.target(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(testCtx(t, 10*time.Second)) })
	return p
}

func newConsumer(t *testing.T, s *testServer, opts ConsumerOptions) *Consumer {
	c, err := NewConsumer(s.target(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func createTopic(t *testing.T, a *Admin, name string, partitions int32) {
	if _, err := a.CreateTopic(testCtx(t, 10*time.Second), name, partitions, 0, nil); err != nil {
		t.Fatalf("CreateTopic(%s): %v", name, err)
	}
}

// readN polls until n records arrived; fails the test after timeout.
func readN(t *testing.T, c *Consumer, n int, timeout time.Duration) []ConsumedRecord {
	t.Helper()
	ctx := testCtx(t, timeout)
	var out []ConsumedRecord
	for len(out) < n {
		recs, err := c.Poll(ctx, n-len(out))
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records", len(out), n)
		}
		out = append(out, recs...)
	}
	return out
}

func mustSend(t *testing.T, p *Producer, rec Record) *RecordMetadata {
	t.Helper()
	meta, err := p.Send(testCtx(t, 20*time.Second), rec)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return meta
}

func i32(v int32) *int32 { return &v }

func TestC02RoundTripHeadersKeys(t *testing.T) {
	s := startServer(t)
	topic := unique("rt")
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{Linger: 2 * time.Millisecond})
	results := make(chan *RecordMetadata, 200)
	for i := 0; i < 200; i++ {
		rec := Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i)),
			Headers: []Header{{"h", []byte("1")}, {"h", []byte{0, 0xff}}, {"trace", []byte(fmt.Sprintf("t%d", i))}}}
		if err := p.SendAsync(rec, func(m *RecordMetadata, err error) {
			if err != nil {
				t.Errorf("delivery: %v", err)
			}
			results <- m
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(testCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, s, ConsumerOptions{})
	if err := c.Assign(testCtx(t, 10*time.Second), map[TopicPartition]StartPosition{{topic, 0}: Earliest()}); err != nil {
		t.Fatal(err)
	}
	records := readN(t, c, 200, 20*time.Second)
	for i, r := range records {
		if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("key-%d", i) || string(r.Value) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("record %d: offset %d key %q value %q", i, r.Offset, r.Key, r.Value)
		}
		want := []Header{{"h", []byte("1")}, {"h", []byte{0, 0xff}}, {"trace", []byte(fmt.Sprintf("t%d", i))}}
		if fmt.Sprint(r.Headers) != fmt.Sprint(want) || r.TimestampMs <= 0 {
			t.Fatalf("record %d: headers %v timestamp %d", i, r.Headers, r.TimestampMs)
		}
	}
	seen := map[int64]bool{}
	for i := 0; i < 200; i++ {
		seen[(<-results).Offset] = true
	}
	if len(seen) != 200 {
		t.Fatalf("send results carry %d distinct offsets, want 200", len(seen))
	}
}

// The broker's C++ PartitionForKey on the Kafka vectors, with 16 partitions.
var brokerPartitions16 = map[string]int32{"21": 12, "foobar": 14, "abc": 11}

func TestC03SameKeySamePartition(t *testing.T) {
	s := startServer(t)
	topic := unique("keys")
	createTopic(t, newAdmin(t, s), topic, 16)
	p := newProducer(t, s, ProducerOptions{})
	for key, want := range brokerPartitions16 {
		for i := 0; i < 5; i++ {
			if m := mustSend(t, p, Record{Topic: topic, Key: []byte(key), Value: []byte("v")}); m.Partition != want {
				t.Fatalf("key %q went to %d, want %d", key, m.Partition, want)
			}
		}
	}
	// Let the broker choose (no partition in the request): it must agree.
	conn, err := Dial(s.target())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := pb.NewBrokerClient(conn).Produce(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"21", "foobar", "abc"}
	for i, key := range keys {
		req := &pb.ProduceRequest{RequestId: uint64(i + 1), Topic: topic, Batch: &pb.RecordBatch{Records: []*pb.Record{{Key: []byte(key)}}}}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	for range keys {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if key := keys[resp.RequestId-1]; resp.Partition != brokerPartitions16[key] {
			t.Fatalf("broker put %q in %d, want %d", key, resp.Partition, brokerPartitions16[key])
		}
	}
}

func TestC04CommitAndResume(t *testing.T) {
	s := startServer(t)
	topic, group := unique("commit"), unique("g")
	tp := TopicPartition{topic, 0}
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{})
	for i := 0; i < 30; i++ {
		p.SendAsync(Record{Topic: topic, Value: []byte(strconv.Itoa(i))}, func(*RecordMetadata, error) {})
	}
	p.Flush(testCtx(t, 10*time.Second))
	ctx := testCtx(t, 20*time.Second)
	c := newConsumer(t, s, ConsumerOptions{Group: group})
	c.Assign(ctx, map[TopicPartition]StartPosition{tp: Earliest()})
	first := readN(t, c, 12, 20*time.Second)
	if c.Position(tp) != 12 {
		t.Fatalf("position %d, want 12", c.Position(tp))
	}
	if err := c.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	resumed := newConsumer(t, s, ConsumerOptions{Group: group})
	committed, err := resumed.Committed(ctx, tp)
	if err != nil || committed[tp] != 12 {
		t.Fatalf("committed %v, %v; want 12", committed, err)
	}
	resumed.Assign(ctx, map[TopicPartition]StartPosition{tp: AtOffset(committed[tp])})
	rest := readN(t, resumed, 18, 20*time.Second)
	for i, r := range append(first, rest...) {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
	}
}

func TestC05SeekByOffset(t *testing.T) {
	s := startServer(t)
	topic := unique("seek")
	tp := TopicPartition{topic, 0}
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{Linger: time.Second})
	for start := 0; start < 50; start += 10 { // batches of 10: reads from the middle are trimmed
		for i := start; i < start+10; i++ {
			p.SendAsync(Record{Topic: topic, Partition: i32(0), Value: []byte(strconv.Itoa(i))}, func(*RecordMetadata, error) {})
		}
		p.Flush(testCtx(t, 10*time.Second))
	}
	ctx := testCtx(t, 30*time.Second)
	c := newConsumer(t, s, ConsumerOptions{})
	c.Assign(ctx, map[TopicPartition]StartPosition{tp: AtOffset(15)})
	checkOffsets(t, readN(t, c, 35, 20*time.Second), 15, 50)
	if err := c.Seek(ctx, tp, AtOffset(7)); err != nil {
		t.Fatal(err)
	}
	checkOffsets(t, readN(t, c, 43, 20*time.Second), 7, 50)
}

func checkOffsets(t *testing.T, records []ConsumedRecord, from, to int64) {
	t.Helper()
	if int64(len(records)) != to-from {
		t.Fatalf("got %d records, want %d", len(records), to-from)
	}
	for i, r := range records {
		if r.Offset != from+int64(i) {
			t.Fatalf("record %d has offset %d, want %d", i, r.Offset, from+int64(i))
		}
	}
}

func TestC06SeekByTime(t *testing.T) {
	s := startServer(t)
	topic := unique("time")
	tp := TopicPartition{topic, 0}
	createTopic(t, newAdmin(t, s), topic, 1)
	const base = int64(1_700_000_000_000)
	p := newProducer(t, s, ProducerOptions{Linger: time.Second})
	for i := 0; i < 20; i++ { // one batch, create times base + 1000*i
		p.SendAsync(Record{Topic: topic, Partition: i32(0), Value: []byte(strconv.Itoa(i)), TimestampMs: base + 1000*int64(i)}, func(*RecordMetadata, error) {})
	}
	p.Flush(testCtx(t, 10*time.Second))
	ctx := testCtx(t, 30*time.Second)
	c := newConsumer(t, s, ConsumerOptions{})
	c.Assign(ctx, map[TopicPartition]StartPosition{tp: AtTimestamp(base + 12_500)})
	records := readN(t, c, 7, 20*time.Second)
	checkOffsets(t, records, 13, 20)
	if records[0].TimestampMs != base+13_000 {
		t.Fatalf("timestamp %d", records[0].TimestampMs)
	}
	c.Seek(ctx, tp, AtTimestamp(base+5_000))
	checkOffsets(t, readN(t, c, 15, 20*time.Second), 5, 20)
}

func TestC07UnknownTopicNotFound(t *testing.T) {
	s := startServer(t)
	_, err := newAdmin(t, s).DescribeTopic(testCtx(t, 10*time.Second), "no-such-topic")
	var herr *Error
	if !errors.As(err, &herr) || herr.Code() != codes.NotFound || status.Code(err) != codes.NotFound {
		t.Fatalf("DescribeTopic: %v, want NotFound", err)
	}
	_, err = newProducer(t, s, ProducerOptions{}).Send(testCtx(t, 10*time.Second), Record{Topic: "no-such-topic"})
	if !errors.Is(err, ErrNotFound) || status.Code(err) != codes.NotFound {
		t.Fatalf("Send: %v, want NotFound", err)
	}
}

func TestC08BadNameInvalidArgument(t *testing.T) {
	s := startServer(t)
	_, err := newAdmin(t, s).CreateTopic(testCtx(t, 10*time.Second), "bad/name", 0, 0, nil)
	var herr *Error
	if !errors.As(err, &herr) || herr.Code() != codes.InvalidArgument || status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateTopic: %v, want InvalidArgument", err)
	}
}

func TestC09ProducerReconnectAfterRestart(t *testing.T) {
	s := startServer(t)
	topic := unique("prestart")
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{RetryBackoff: 50 * time.Millisecond, RetryBackoffMax: 500 * time.Millisecond, RequestTimeout: 3 * time.Second})
	offsets := make(chan int64, 30)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			p.SendAsync(Record{Topic: topic, Value: []byte(strconv.Itoa(i))}, func(m *RecordMetadata, err error) {
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					offsets <- -1
					return
				}
				offsets <- m.Offset
			})
		}
	}
	send(0, 10)
	p.Flush(testCtx(t, 10*time.Second))
	s.stop()
	send(10, 20)
	s.start()
	send(20, 30)
	if err := p.Flush(testCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, s, ConsumerOptions{})
	c.Assign(testCtx(t, 10*time.Second), map[TopicPartition]StartPosition{{topic, 0}: Earliest()})
	for i, r := range readN(t, c, 30, 20*time.Second) {
		if string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d is %q", i, r.Value)
		}
	}
}

func TestC10ConsumerReconnectAfterRestart(t *testing.T) {
	s := startServer(t)
	topic := unique("crestart")
	createTopic(t, newAdmin(t, s), topic, 2)
	c := newConsumer(t, s, ConsumerOptions{ReconnectBackoff: 50 * time.Millisecond})
	if err := c.Subscribe(testCtx(t, 10*time.Second), []string{topic}, Earliest(), false); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		p, err := NewProducer(s.target(), ProducerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			p.SendAsync(Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(strconv.Itoa(i))}, func(_ *RecordMetadata, err error) {
				if err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			})
		}
		p.Close(testCtx(t, 20*time.Second))
	}
	produce(0, 20)
	records := readN(t, c, 20, 20*time.Second)
	s.restart()
	produce(20, 40)
	records = append(records, readN(t, c, 20, 30*time.Second)...)
	seen := map[string]bool{}
	next := map[int32]int64{}
	for _, r := range records {
		if seen[string(r.Value)] || r.Offset != next[r.Partition] {
			t.Fatalf("duplicate or gap at %d/%d (%q)", r.Partition, r.Offset, r.Value)
		}
		seen[string(r.Value)] = true
		next[r.Partition]++
	}
}

func TestC11AdminTopics(t *testing.T) {
	s := startServer(t)
	a := newAdmin(t, s)
	ctx := testCtx(t, 20*time.Second)
	topic := unique("admin")
	created, err := a.CreateTopic(ctx, topic, 2, 0, &pb.TopicConfig{RetentionMs: proto.Int64(3_600_000)})
	if err != nil || len(created.Partitions) != 2 {
		t.Fatalf("CreateTopic: %v %v", created, err)
	}
	topics, _ := a.ListTopics(ctx)
	found := false
	for _, tt := range topics {
		found = found || tt.Name == topic
	}
	altered, err := a.AlterTopicConfig(ctx, topic, &pb.TopicConfig{RetentionBytes: proto.Int64(1 << 20)})
	if !found || err != nil || altered.GetRetentionBytes() != 1<<20 || altered.GetRetentionMs() != 3_600_000 {
		t.Fatalf("list found=%v, alter %v %v", found, altered, err)
	}
	grown, err := a.CreatePartitions(ctx, topic, 4)
	if err != nil || len(grown.Partitions) != 4 {
		t.Fatalf("CreatePartitions: %v", err)
	}
	offsets, err := a.ListOffsets(ctx, topic, Latest())
	if err != nil || len(offsets) != 4 {
		t.Fatalf("ListOffsets: %v %v", offsets, err)
	}
	if cl, err := a.DescribeCluster(ctx); err != nil || len(cl.Brokers) == 0 {
		t.Fatalf("DescribeCluster: %v %v", cl, err)
	}
	if err := a.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DescribeTopic(ctx, topic); status.Code(err) != codes.NotFound {
		t.Fatalf("after delete: %v", err)
	}
}

func TestC12GroupSubscribe(t *testing.T) {
	s := startServer(t)
	topic, group := unique("grp"), unique("g")
	createTopic(t, newAdmin(t, s), topic, 2)
	ctx := testCtx(t, 30*time.Second)
	p := newProducer(t, s, ProducerOptions{})
	send := func(from, to int) {
		for i := from; i < to; i++ {
			mustSend(t, p, Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
		}
	}
	send(0, 10) // before joining
	assigned := make(chan []TopicPartition, 8)
	c := newConsumer(t, s, ConsumerOptions{Group: group, OnAssign: func(tps []TopicPartition) { assigned <- tps }})
	if err := c.Subscribe(ctx, []string{topic}, Earliest(), true); err != nil {
		t.Fatal(err)
	}
	records := readN(t, c, 10, 20*time.Second)
	send(10, 20) // after
	records = append(records, readN(t, c, 10, 20*time.Second)...)
	seen := map[string]bool{}
	for _, r := range records {
		seen[string(r.Value)] = true
	}
	if len(seen) != 20 {
		t.Fatalf("got %d distinct of 20 records", len(seen))
	}
	var last []TopicPartition
	for len(assigned) > 0 {
		last = <-assigned
	}
	if len(last) != 2 {
		t.Fatalf("assignment %v, want both partitions", last)
	}
}

func TestC13AsyncRoundTrip(t *testing.T) {
	s := startServer(t)
	topic := unique("async")
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{})
	done := make(chan int64, 50)
	for i := 0; i < 50; i++ {
		if err := p.SendAsync(Record{Topic: topic, Value: []byte(strconv.Itoa(i))}, func(m *RecordMetadata, err error) {
			if err != nil {
				t.Errorf("delivery: %v", err)
				done <- -1
				return
			}
			done <- m.Offset
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		if off := <-done; off < 0 || off >= 50 {
			t.Fatalf("offset %d", off)
		}
	}
	c := newConsumer(t, s, ConsumerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.Assign(ctx, map[TopicPartition]StartPosition{{topic, 0}: Earliest()})
	var values []string
	errStop := errors.New("stop")
	err := c.Run(ctx, func(r ConsumedRecord) error {
		values = append(values, string(r.Value))
		if len(values) == 50 {
			return errStop
		}
		return nil
	})
	if err != errStop || values[49] != "49" {
		t.Fatalf("Run: %v, %d values", err, len(values))
	}
}

func TestC14BoundedBuffer(t *testing.T) {
	s := startServer(t)
	topic := unique("bound")
	createTopic(t, newAdmin(t, s), topic, 1)
	p := newProducer(t, s, ProducerOptions{BufferMaxBytes: 64 << 10, MaxBlock: 200 * time.Millisecond, Linger: -1})
	mustSend(t, p, Record{Topic: topic, Value: []byte("warm-up")}) // caches the metadata
	s.pause()                                                      // acknowledgements stop: unresolved bytes pile up
	defer s.resume()
	sent := 0
	var err error
	for ; sent < 1000; sent++ {
		if err = p.SendAsync(Record{Topic: topic, Value: make([]byte, 1024)}, func(*RecordMetadata, error) {}); err != nil {
			break
		}
	}
	if status.Code(err) != codes.ResourceExhausted || sent < 50 || sent > 64 {
		t.Fatalf("after %d sends: %v, want ResourceExhausted within the 64 KiB buffer", sent, err)
	}
	s.resume()
	if err := p.Flush(testCtx(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
}
