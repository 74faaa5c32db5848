package herald

import (
	pb "github.com/herald-streaming/herald/clients/go/heraldpb"
)

// Header is one record header; keys need not be unique.
type Header struct {
	Key   string
	Value []byte
}

// Record is one event to produce. A nil or empty Key means keyless.
type Record struct {
	Topic string
	// Partition, when non-nil, overrides key partitioning.
	Partition   *int32
	Key         []byte
	Value       []byte
	Headers     []Header
	TimestampMs int64 // 0: the broker's append time
}

// RecordMetadata is where a produced record was stored (Offset -1 for AcksNone).
type RecordMetadata struct {
	Topic       string
	Partition   int32
	Offset      int64
	TimestampMs int64
}

// ConsumedRecord is one record read by a Consumer. TimestampMs follows the
// broker's rule: the append time for LOG_APPEND_TIME topics and for records
// produced without a timestamp, else the create time.
type ConsumedRecord struct {
	Topic         string
	Partition     int32
	Offset        int64
	Key           []byte
	Value         []byte
	Headers       []Header
	TimestampMs   int64
	TimestampType pb.TimestampType
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// StartPosition is where to start reading a partition.
type StartPosition struct {
	kind  int
	value int64
}

const (
	posLatest = iota
	posEarliest
	posCommitted
	posOffset
	posTimestamp
)

// Earliest is the first retained record.
func Earliest() StartPosition { return StartPosition{kind: posEarliest} }

// Latest is the end of the log (only records produced from now on).
func Latest() StartPosition { return StartPosition{kind: posLatest} }

// Committed is the group's committed offset (groups only).
func Committed() StartPosition { return StartPosition{kind: posCommitted} }

// AtOffset starts at an exact offset.
func AtOffset(offset int64) StartPosition { return StartPosition{kind: posOffset, value: offset} }

// AtTimestamp starts at the first record with timestamp >= ms.
func AtTimestamp(ms int64) StartPosition { return StartPosition{kind: posTimestamp, value: ms} }

func (p StartPosition) proto() *pb.StartPosition {
	switch p.kind {
	case posEarliest:
		return &pb.StartPosition{Position: &pb.StartPosition_Named_{Named: pb.StartPosition_NAMED_EARLIEST}}
	case posCommitted:
		return &pb.StartPosition{Position: &pb.StartPosition_Named_{Named: pb.StartPosition_NAMED_COMMITTED}}
	case posOffset:
		return &pb.StartPosition{Position: &pb.StartPosition_Offset{Offset: p.value}}
	case posTimestamp:
		return &pb.StartPosition{Position: &pb.StartPosition_TimestampMs{TimestampMs: p.value}}
	default:
		return &pb.StartPosition{Position: &pb.StartPosition_Named_{Named: pb.StartPosition_NAMED_LATEST}}
	}
}

// decodeBatch returns the records of a delivered batch at or after
// fromOffset (batches are served whole and may begin earlier); fromOffset < 0
// keeps every record.
func decodeBatch(b *pb.ConsumedBatch, fromOffset int64) []ConsumedRecord {
	out := make([]ConsumedRecord, 0, len(b.Records))
	logAppend := b.TimestampType == pb.TimestampType_TIMESTAMP_TYPE_LOG_APPEND_TIME
	for i, r := range b.Records {
		offset := b.BaseOffset + int64(i)
		if fromOffset >= 0 && offset < fromOffset {
			continue
		}
		ts := r.TimestampMs
		if logAppend || ts == 0 {
			ts = b.AppendTimeMs
		}
		headers := make([]Header, len(r.Headers))
		for j, h := range r.Headers {
			headers[j] = Header{Key: h.Key, Value: h.Value}
		}
		out = append(out, ConsumedRecord{
			Topic: b.Topic, Partition: b.Partition, Offset: offset, Key: r.Key, Value: r.Value,
			Headers: headers, TimestampMs: ts, TimestampType: b.TimestampType,
		})
	}
	return out
}
