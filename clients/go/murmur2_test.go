package herald

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kafka's vectors (UtilsTest.java) and common/murmur2_test.cc.
var kafkaVectors = map[string]int32{
	"21":                         -973932308,
	"foobar":                     -790332482,
	"a-little-bit-long-string":   -985981536,
	"a-little-bit-longer-string": -1486304829,
	"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	"abc":   479470107,
	"1":     -1993445489,
	"12345": -1188365604,
}

func TestC01Murmur2Vectors(t *testing.T) {
	for key, want := range kafkaVectors {
		if got := Murmur2([]byte(key)); got != want {
			t.Errorf("Murmur2(%q) = %d, want %d", key, got, want)
		}
	}
	for key, want := range map[string]int32{"21": 12, "foobar": 14, "abc": 11} {
		if got := PartitionForKey([]byte(key), 16); got != want {
			t.Errorf("PartitionForKey(%q, 16) = %d, want %d", key, got, want)
		}
	}
	for n := int32(1); n < 40; n++ {
		if p := PartitionForKey([]byte("some-key"), n); p < 0 || p >= n {
			t.Fatalf("partition %d out of [0, %d)", p, n)
		}
	}
}

func TestErrorsCarryTheirGRPCCode(t *testing.T) {
	var err error = errorf(codes.NotFound, "topic %q not found", "x")
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
	var herr *Error
	if !errors.As(err, &herr) || herr.Code() != codes.NotFound {
		t.Fatalf("errors.As failed: %v", err)
	}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("errors.Is by code broken")
	}
}
