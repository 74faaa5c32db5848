package herald

import (
	"context"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// The broker remembers only the last five batches of a producer per partition
// (coordination/producer_state.h, kMaxRecordedBatches) and refuses to dedupe a
// retry of an older one (FailedPrecondition), so at most five may be
// unacknowledged per partition for every retry to be deduplicated. The global
// window (MaxInFlightBatches) applies too.
const maxInFlightPerPartition = 5

// initProducer gets a producer id (InitProducer) before the first stream, and
// again after an in-doubt batch expired (sequences then restart at 0). It
// returns false when the connect must wait (backoff set) or batches failed.
func (p *Producer) initProducer() bool {
	var unknown []completion
	p.mu.Lock()
	if p.resetSeqs {
		p.resetSeqs, p.hasPID = false, false
		p.nextSeq = map[TopicPartition]int32{}
		p.failUnknownOutcomeLocked(&unknown)
	}
	if !p.idempotent || p.hasPID {
		p.mu.Unlock()
		complete(unknown)
		return true
	}
	p.mu.Unlock()
	complete(unknown)
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.RPCTimeout)
	defer cancel()
	resp, err := p.broker.InitProducer(ctx, &pb.InitProducerRequest{TransactionalId: p.opts.TransactionalID})
	var cs []completion
	p.mu.Lock()
	if err != nil {
		if code := status.Code(err); !retryableCodes[code] && code != codes.DeadlineExceeded {
			// e.g. Unimplemented: no idempotence on this broker. Fail what is
			// queued rather than retrying forever.
			for _, b := range p.ready {
				p.failLocked(b, fromRPC(err), &cs)
			}
			p.ready = nil
		}
		p.scheduleReconnectLocked()
		p.mu.Unlock()
		complete(cs)
		return false
	}
	p.pid, p.epoch, p.hasPID = resp.ProducerId, resp.ProducerEpoch, true
	p.mu.Unlock()
	return true
}

// failUnknownOutcomeLocked runs before a new producer id is taken. A batch
// already sent under the old id (it carried a sequence) and not acknowledged
// may be in the log: the broker dedupes only by (producer id, sequence), so
// re-sending it with a new id and sequence could write it twice. It fails
// with Aborted, "outcome unknown"; batches never sent are renumbered under
// the new id as usual. The stream is gone here, so every unacknowledged
// batch is in ready.
func (p *Producer) failUnknownOutcomeLocked(cs *[]completion) {
	kept := p.ready[:0]
	for _, b := range p.ready {
		if !b.hasSentSeq {
			b.hasSeq = false
			kept = append(kept, b)
			continue
		}
		p.failLocked(b, errorf(codes.Aborted, "outcome unknown: batch for %s/%d was sent but not acknowledged before the producer had to take a new producer id; it may have been written", b.topic, b.partition), cs)
	}
	for i := len(kept); i < len(p.ready); i++ {
		p.ready[i] = nil // let failed batches be collected
	}
	p.ready = kept
}

func (p *Producer) inFlightPerPartitionLocked() map[TopicPartition]int {
	out := map[TopicPartition]int{}
	if p.idempotent {
		for _, b := range p.inFlight {
			out[TopicPartition{b.topic, b.partition}]++
		}
	}
	return out
}

// assignSequenceLocked numbers a batch when it is first written; retries keep
// the number.
func (p *Producer) assignSequenceLocked(b *batch) {
	if !b.hasSeq {
		key := TopicPartition{b.topic, b.partition}
		b.seq, b.hasSeq = p.nextSeq[key], true
		p.nextSeq[key] = b.seq + int32(len(b.records))
		p.seqOrders++
		b.seqOrder = p.seqOrders
	}
	b.sentSeq, b.hasSentSeq = b.seq, true
}

// requeueLocked puts batches back ahead of new ones: sequenced batches in the
// order their sequences were assigned (the broker accepts each partition's
// batches only in sequence order), then unsequenced ones in their order.
func (p *Producer) requeueLocked(batches []*batch) {
	var retries, fresh []*batch
	for _, b := range append(append([]*batch(nil), batches...), p.ready...) {
		if b.hasSeq {
			retries = append(retries, b)
		} else {
			fresh = append(fresh, b)
		}
	}
	sort.SliceStable(retries, func(i, j int) bool { return retries[i].seqOrder < retries[j].seqOrder })
	// Unsequenced batches given back (idempotence off) still go first.
	var givenBack, rest []*batch
	inBatches := map[*batch]bool{}
	for _, b := range batches {
		inBatches[b] = true
	}
	for _, b := range fresh {
		if inBatches[b] {
			givenBack = append(givenBack, b)
		} else {
			rest = append(rest, b)
		}
	}
	p.ready = append(append(givenBack, retries...), rest...)
}

func (p *Producer) unresolvedLocked(of *batch) []*batch {
	var out []*batch
	for _, b := range append(append([]*batch(nil), p.ready...), p.inFlightSlice()...) {
		if b != of && b.topic == of.topic && b.partition == of.partition {
			out = append(out, b)
		}
	}
	return out
}

func (p *Producer) inFlightSlice() []*batch {
	out := make([]*batch, 0, len(p.inFlight))
	for _, b := range p.inFlight {
		out = append(out, b)
	}
	return out
}

// sequencePendingLocked: an OutOfRange for b is expected (retry it) when b was
// renumbered after it was sent, or an earlier batch of its partition is still
// unresolved.
func (p *Producer) sequencePendingLocked(b *batch) bool {
	if !p.idempotent || !b.hasSeq {
		return false
	}
	if b.sentSeq != b.seq {
		return true
	}
	for _, o := range p.unresolvedLocked(b) {
		if o.hasSeq && o.seq < b.seq {
			return true
		}
	}
	return false
}

// renumberAfterLocked: a batch that was not written leaves a hole in its
// partition's sequence; the later batches shift down (those already on the
// wire are rejected as out of order and re-sent with their new numbers).
func (p *Producer) renumberAfterLocked(failed *batch) {
	if !p.idempotent || !failed.hasSeq {
		return
	}
	n := int32(len(failed.records))
	for _, b := range p.unresolvedLocked(failed) {
		if b.hasSeq && b.seq > failed.seq {
			b.seq -= n
		}
	}
	p.nextSeq[TopicPartition{failed.topic, failed.partition}] -= n
}

// batchErrorLocked types an in-band error; a fenced producer (Aborted) stops.
func (p *Producer) batchErrorLocked(b *batch, e *pb.Error) error {
	code := codes.Code(e.GetCode())
	switch {
	case p.idempotent && code == codes.Aborted:
		p.fatal = errorf(codes.Aborted, "producer fenced: producer %d epoch %d (%s/%d: %s)", p.pid, p.epoch, b.topic, b.partition, e.GetMessage())
		return p.fatal
	case p.idempotent && code == codes.OutOfRange:
		return errorf(codes.OutOfRange, "out of order sequence: %s/%d: %s", b.topic, b.partition, e.GetMessage())
	}
	return inBand(e)
}

func (p *Producer) failAllLocked(err error, cs *[]completion) {
	for _, b := range p.open {
		p.failLocked(b, err, cs)
	}
	for _, b := range p.ready {
		p.failLocked(b, err, cs)
	}
	p.open = map[TopicPartition]*batch{}
	p.ready = nil
}
