package herald

import (
	"context"
	"math/rand"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// Stream endings after which unacknowledged batches are re-sent.
var retryableCodes = map[codes.Code]bool{
	codes.Unavailable: true, codes.Canceled: true, codes.Aborted: true, codes.ResourceExhausted: true,
}

func (p *Producer) senderLoop() {
	defer close(p.done)
	p.mu.Lock()
	for {
		if p.closing && (p.stopped || len(p.open)+len(p.ready)+len(p.inFlight) == 0) {
			break
		}
		now := time.Now()
		var cs []completion
		p.sealExpiredLocked(now)
		p.expireLocked(now, &cs)
		var stalled *produceStream
		connect := false
		if p.stream == nil && len(p.ready) > 0 && !now.Before(p.reconnectAt) {
			connect = true
		} else if p.stream != nil {
			if p.resetSeqs {
				// Write nothing more; once the batches on the wire are
				// answered (or time out), re-initialise on a fresh stream.
				// Waiting lets them be acknowledged rather than end in doubt.
				stalled = p.stalledLocked(now)
				if len(p.inFlight) == 0 {
					stalled = p.stream
				}
			} else {
				p.writeReadyLocked(&cs)
				stalled = p.stalledLocked(now)
			}
		}
		if !connect && stalled == nil && len(cs) == 0 {
			p.waitLocked(p.waitDurationLocked(now))
			continue
		}
		p.mu.Unlock()
		complete(cs)
		if stalled != nil {
			stalled.cancel()
			p.onStreamEnd(stalled, errorf(codes.Unavailable, "stream stalled"))
		}
		if connect {
			p.connect()
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	p.shutdown()
}

func (p *Producer) waitDurationLocked(now time.Time) time.Duration {
	deadline := now.Add(time.Second)
	for _, b := range p.open {
		if t := b.created.Add(p.opts.Linger); t.Before(deadline) {
			deadline = t
		}
	}
	if oldest := p.oldestInFlightLocked(); oldest != nil {
		if t := oldest.sent.Add(p.opts.RequestTimeout + time.Millisecond); t.Before(deadline) {
			deadline = t
		}
	}
	if p.stream == nil && len(p.ready) > 0 && p.reconnectAt.Before(deadline) {
		deadline = p.reconnectAt
	}
	if d := deadline.Sub(now); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}

func (p *Producer) sealExpiredLocked(now time.Time) {
	for key, b := range p.open {
		if now.Sub(b.created) >= p.opts.Linger {
			p.sealLocked(key)
		}
	}
}

func (p *Producer) expireLocked(now time.Time, cs *[]completion) {
	for len(p.ready) > 0 && now.Sub(p.ready[0].sealed) > p.opts.DeliveryTimeout {
		b := p.ready[0]
		p.ready = p.ready[1:]
		if b.hasSentSeq {
			// It may have been written (its ack lost): later sequences can no
			// longer be trusted, so start over with a new producer id.
			p.resetSeqs = true
		}
		p.failLocked(b, errorf(codes.DeadlineExceeded, "batch for %s/%d not acknowledged within %v", b.topic, b.partition, p.opts.DeliveryTimeout), cs)
	}
}

func (p *Producer) oldestInFlightLocked() *batch {
	var oldest *batch
	for _, b := range p.inFlight {
		if oldest == nil || b.requestID < oldest.requestID {
			oldest = b
		}
	}
	return oldest
}

// stalledLocked: a stream whose oldest batch stayed unanswered for
// RequestTimeout is presumed dead (e.g. a connection accepted by a broker that
// was going away) and is replaced.
func (p *Producer) stalledLocked(now time.Time) *produceStream {
	if oldest := p.oldestInFlightLocked(); oldest != nil && now.Sub(oldest.sent) > p.opts.RequestTimeout {
		return p.stream
	}
	return nil
}

func (p *Producer) windowOpenLocked(b *batch) bool {
	if len(p.inFlight) >= p.opts.MaxInFlightBatches {
		return false
	}
	// A single oversize batch may go alone so it cannot stall forever.
	return len(p.inFlight) == 0 || p.inFlightBytes+b.bytes <= p.opts.MaxInFlightBytes
}

func (p *Producer) writeReadyLocked(cs *[]completion) {
	perPartition := p.inFlightPerPartitionLocked()
	var blocked []*batch // kept in order for later
	for len(p.ready) > 0 && p.windowOpenLocked(p.ready[0]) {
		b := p.ready[0]
		p.ready = p.ready[1:]
		if p.idempotent {
			key := TopicPartition{b.topic, b.partition}
			if perPartition[key] >= maxInFlightPerPartition {
				blocked = append(blocked, b) // later batches of it block too: order kept
				continue
			}
			perPartition[key]++
			p.assignSequenceLocked(b)
		}
		p.nextID++
		b.requestID = p.nextID
		b.sent = time.Now()
		part := b.partition
		req := &pb.ProduceRequest{
			RequestId: b.requestID, Topic: b.topic, Partition: &part,
			Batch: &pb.RecordBatch{Records: b.records}, Acks: p.opts.Acks,
		}
		if p.idempotent {
			req.ProducerId, req.ProducerEpoch, req.BaseSequence = p.pid, p.epoch, b.seq
		}
		// Never blocks: the channel holds at most the in-flight window.
		p.stream.requests <- req
		if p.opts.Acks == pb.Acks_ACKS_NONE {
			p.buffered -= b.bytes // nobody waits for an answer: resolve on write
			for i, r := range b.records {
				*cs = append(*cs, completion{b.callbacks[i], &RecordMetadata{b.topic, b.partition, -1, r.TimestampMs}, nil})
			}
			continue
		}
		p.inFlight[b.requestID] = b
		p.inFlightBytes += b.bytes
	}
	p.ready = append(blocked, p.ready...)
}

func (p *Producer) connect() {
	if !p.initProducer() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &produceStream{cancel: cancel, requests: make(chan *pb.ProduceRequest, p.opts.MaxInFlightBatches+1)}
	client, err := p.broker.Produce(ctx)
	if err != nil {
		cancel()
		p.mu.Lock()
		p.stream = s // so onStreamEnd treats it as current
		p.mu.Unlock()
		p.onStreamEnd(s, fromRPC(err))
		return
	}
	s.client = client
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		cancel()
		return
	}
	p.stream = s
	p.notifyLocked()
	p.mu.Unlock()
	go p.writer(ctx, s)
	go p.reader(s)
}

func (p *Producer) writer(ctx context.Context, s *produceStream) {
	for {
		select {
		case req := <-s.requests:
			if req == nil {
				_ = s.client.CloseSend()
				return
			}
			if err := s.client.Send(req); err != nil {
				return // the reader sees the stream's status
			}
		case <-ctx.Done():
			return
		}
	}
}

func (p *Producer) reader(s *produceStream) {
	for {
		resp, err := s.client.Recv()
		if err != nil {
			p.onStreamEnd(s, fromRPC(err))
			return
		}
		p.onResponse(s, resp)
	}
}

func (p *Producer) onResponse(s *produceStream, resp *pb.ProduceResponse) {
	var cs []completion
	p.mu.Lock()
	b, ok := p.inFlight[resp.RequestId]
	if !ok || s != p.stream {
		p.mu.Unlock()
		return
	}
	delete(p.inFlight, resp.RequestId)
	p.inFlightBytes -= b.bytes
	p.backoff = p.opts.RetryBackoff // the stream works
	switch code := codes.Code(resp.GetError().GetCode()); {
	case code == codes.Unavailable || code == codes.OutOfRange && p.sequencePendingLocked(b):
		// Retried in order on this stream; for OutOfRange an earlier batch of
		// the partition is being retried (or this one was renumbered), so the
		// gap closes once that one is written.
		p.requeueLocked([]*batch{b})
	case code != codes.OK:
		if code == codes.NotFound || code == codes.InvalidArgument {
			delete(p.metadata, b.topic) // describe again on the next send
		}
		err := p.batchErrorLocked(b, resp.Error)
		p.failLocked(b, err, &cs)
		p.renumberAfterLocked(b)
		if p.fatal != nil {
			p.failAllLocked(p.fatal, &cs)
		}
	default: // also duplicate=true: the offsets are the original write's
		p.buffered -= b.bytes
		for i, r := range b.records {
			ts := r.TimestampMs
			if ts == 0 {
				ts = resp.LogAppendTimeMs
			}
			cs = append(cs, completion{b.callbacks[i], &RecordMetadata{b.topic, resp.Partition, resp.BaseOffset + int64(i), ts}, nil})
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
	complete(cs)
}

func (p *Producer) failLocked(b *batch, err error, cs *[]completion) {
	p.buffered -= b.bytes
	for _, cb := range b.callbacks {
		*cs = append(*cs, completion{cb, nil, err})
	}
}

func (p *Producer) onStreamEnd(s *produceStream, err error) {
	var cs []completion
	p.mu.Lock()
	if s != p.stream {
		p.mu.Unlock()
		return // a stream already given up (stalled, replaced or closed)
	}
	p.stream = nil
	s.cancel()
	unacked := make([]*batch, 0, len(p.inFlight))
	for _, b := range p.inFlight {
		unacked = append(unacked, b)
	}
	sort.Slice(unacked, func(i, j int) bool { return unacked[i].requestID < unacked[j].requestID })
	p.inFlight = map[uint64]*batch{}
	p.inFlightBytes = 0
	code := status.Code(err)
	if retryableCodes[code] || code == codes.OK {
		// Re-sent in order, ahead of newer batches, with the same sequences:
		// the broker dedupes the ones it already wrote.
		p.requeueLocked(unacked)
	} else {
		for _, b := range unacked {
			p.failLocked(b, err, &cs)
		}
	}
	p.scheduleReconnectLocked()
	p.mu.Unlock()
	complete(cs)
}

func (p *Producer) scheduleReconnectLocked() {
	jitter := 0.8 + 0.4*rand.Float64()
	p.reconnectAt = time.Now().Add(time.Duration(float64(p.backoff) * jitter))
	if p.backoff *= 2; p.backoff > p.opts.RetryBackoffMax {
		p.backoff = p.opts.RetryBackoffMax
	}
	p.notifyLocked()
}

func (p *Producer) shutdown() {
	var cs []completion
	p.mu.Lock()
	p.stopped = true
	s := p.stream
	p.stream = nil
	for _, b := range p.allBatchesLocked() {
		p.failLocked(b, errorf(codes.Canceled, "producer closed before delivery"), &cs)
	}
	p.open = map[TopicPartition]*batch{}
	p.ready = nil
	p.inFlight = map[uint64]*batch{}
	p.notifyLocked()
	p.mu.Unlock()
	if s != nil {
		select {
		case s.requests <- nil: // half-close, then cancel
		default:
		}
		s.cancel()
	}
	complete(cs)
}
