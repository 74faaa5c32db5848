package herald

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is every failure the client reports: a failed RPC, an in-band error
// on a stream, or a client-side limit. It carries the gRPC code, works with
// errors.As, and status.Code(err) returns Code() (it implements GRPCStatus).
type Error struct {
	code    codes.Code
	message string
}

// NewError returns an *Error with the given code and message.
func NewError(code codes.Code, message string) *Error { return &Error{code: code, message: message} }

// Code is the gRPC status code (NotFound for an unknown topic, InvalidArgument
// for a bad name, Unavailable when the broker cannot be reached, ...).
func (e *Error) Code() codes.Code { return e.code }

// Message is the server's (or client's) description.
func (e *Error) Message() string { return e.message }

func (e *Error) Error() string { return fmt.Sprintf("herald: %s (%s)", e.message, e.code) }

// GRPCStatus lets status.Code / status.FromError see the code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.code, e.message) }

// Is matches another *Error by code, so errors.Is(err, herald.ErrNotFound) works.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.message == "" && t.code == e.code
}

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	ErrNotFound          = &Error{code: codes.NotFound}
	ErrInvalidArgument   = &Error{code: codes.InvalidArgument}
	ErrUnavailable       = &Error{code: codes.Unavailable}
	ErrResourceExhausted = &Error{code: codes.ResourceExhausted}
	ErrUnimplemented     = &Error{code: codes.Unimplemented}
	// ErrAborted: a stale-generation or not-owned group commit, or a fenced
	// producer (message "producer fenced: ...").
	ErrAborted = &Error{code: codes.Aborted}
	// ErrOutOfRange: e.g. an idempotent producer's sequence gap ("out of
	// order sequence: ..."); the batch was not written.
	ErrOutOfRange = &Error{code: codes.OutOfRange}
	ErrClosed     = &Error{code: codes.Canceled}
)

// fromRPC converts an error returned by a gRPC call.
func fromRPC(err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return &Error{code: codes.Unknown, message: err.Error()}
	}
	return &Error{code: s.Code(), message: s.Message()}
}

func errorf(code codes.Code, format string, args ...any) *Error {
	return &Error{code: code, message: fmt.Sprintf(format, args...)}
}

// inBand converts an error reported inside a stream or response.
func inBand(e interface {
	GetCode() int32
	GetMessage() string
}) *Error {
	return &Error{code: codes.Code(e.GetCode()), message: e.GetMessage()}
}
