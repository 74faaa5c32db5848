package herald

import (
	"context"
	"log"

	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// GroupMember returns the generation and member id of the current group
// membership (0, "" before the first Assignment).
func (c *Consumer) GroupMember() (int64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation, c.memberID
}

// Assignment returns the partitions currently read (for a group member: the
// ones the coordinator assigned).
func (c *Consumer) Assignment() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.parts))
	for tp := range c.parts {
		out = append(out, tp)
	}
	return out
}

// committedForNew fetches the committed offsets of newly assigned partitions.
// The broker starts them there, but batches are served whole and may begin
// earlier, so the client needs the offset to trim. It runs on the reader
// goroutine before any batch of the new partitions is handled. A failure only
// means untrimmed (already committed) records may be delivered again.
func (c *Consumer) committedForNew(ctx context.Context, a *pb.Assignment) map[TopicPartition]int64 {
	c.mu.Lock()
	var fresh []TopicPartition
	for _, p := range a.Partitions {
		tp := TopicPartition{p.Topic, p.Partition}
		if _, ok := c.parts[tp]; !ok {
			fresh = append(fresh, tp)
		}
	}
	c.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.admin.RPCTimeout)
	defer cancel()
	found, err := c.admin.FetchCommittedOffsets(ctx, c.opts.Group, fresh...)
	if err != nil {
		log.Printf("herald: fetching committed offsets for %v: %v", fresh, err)
		return nil
	}
	out := map[TopicPartition]int64{}
	for tp, off := range found {
		if off >= 0 {
			out[tp] = off
		}
	}
	return out
}

// finishRevoke runs OnRevoke, commits the revoked partitions' positions
// (still the owner until RevokeDone), forgets them and confirms.
func (c *Consumer) finishRevoke(s *subStream, rv *pb.Revoke, revoked []TopicPartition) {
	if c.opts.OnRevoke != nil {
		c.opts.OnRevoke(revoked)
	}
	if !c.opts.NoCommitOnRevoke {
		c.commitQuietly(revoked)
	}
	c.mu.Lock()
	for _, tp := range revoked {
		delete(c.parts, tp)
	}
	c.mu.Unlock()
	done := &pb.SubscribeRequest{Request: &pb.SubscribeRequest_RevokeDone{RevokeDone: &pb.RevokeDone{Generation: rv.Generation, Partitions: rv.Partitions}}}
	select {
	case s.requests <- done:
	case <-s.ctx.Done(): // the stream ended; the broker takes them back anyway
	}
}

// commitQuietly commits the positions of partitions (revoke, close). A
// failure only means the next owner re-reads the uncommitted tail, so it is
// logged, not returned.
func (c *Consumer) commitQuietly(partitions []TopicPartition) {
	c.mu.Lock()
	offsets := map[TopicPartition]int64{}
	for _, tp := range partitions {
		if st, ok := c.parts[tp]; ok && st.position >= 0 {
			offsets[tp] = st.position
		}
	}
	c.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.admin.RPCTimeout)
	defer cancel()
	if err := c.Commit(ctx, offsets); err != nil {
		log.Printf("herald: commit of %v failed: %v", offsets, err)
	}
}
