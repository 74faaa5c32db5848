// Package herald is the Go client for Herald, a gRPC-native event streaming
// broker: Producer (batching, pipelining, retries, Kafka-compatible key
// partitioning), Consumer (credit-based Subscribe with resume, seek and
// commits) and Admin (topics, offsets, cluster). Errors are *Error values
// carrying the gRPC code.
package herald

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// DefaultRPCTimeout bounds every unary call that has no earlier deadline.
const DefaultRPCTimeout = 10 * time.Second

// Dial opens a connection to a broker with Herald's defaults: HTTP/2
// keepalive pings every 30 s (the broker permits >= 10 s) and fast reconnects.
// Extra options (e.g. TLS credentials) are appended.
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
	}
	conn, err := grpc.NewClient(target, append(base, opts...)...)
	return conn, fromRPC(err)
}

// unaryContext applies the default deadline unless ctx already has one.
func unaryContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}
