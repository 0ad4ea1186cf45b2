package mqlog

import (
	"errors"
	"iter"
	"strings"

	"github.com/mqlog/mqlog/wal"
)

// layerPrefixes are the prefixes of the layers' errors that the facade speaks for.
var layerPrefixes = []string{"mqlog/wal: ", "mqlog/index: "}

// facadeError is an error of a layer under the facade (wal, index, or a room that passes theirs on) as
// the root API returns it: its text says "mqlog: " where the layer's says "mqlog/wal: ", and it wraps the
// layer's error unchanged, so errors.Is and errors.As find everything they found before (ErrOutOfRange
// and ErrFailStop are the wal's sentinels themselves). A log's own ErrClosed and ErrReadOnly are also the
// root's.
type facadeError struct{ err error }

func (e *facadeError) Error() string {
	msg := e.err.Error()
	for _, p := range layerPrefixes {
		msg = strings.ReplaceAll(msg, p, "mqlog: ")
	}
	return msg
}

func (e *facadeError) Unwrap() error { return e.err }

// Is makes a log's ErrClosed and ErrReadOnly the root's.
func (e *facadeError) Is(target error) bool {
	switch target {
	case ErrClosed:
		return errors.Is(e.err, wal.ErrClosed)
	case ErrReadOnly:
		return errors.Is(e.err, wal.ErrReadOnly)
	}
	return false
}

// facade returns err as the root API returns it: nil, err itself when it speaks as mqlog already, or a
// *facadeError.
func facade(err error) error {
	if err == nil {
		return nil
	}
	var fe *facadeError
	if errors.As(err, &fe) {
		return err
	}
	if ae, ok := err.(*AppendError); ok {
		// Each partition's error speaks for itself; the *AppendError stays what Append returns.
		for p, e := range ae.Errs {
			ae.Errs[p] = facade(e)
		}
		return ae
	}
	if errors.Is(err, wal.ErrClosed) || errors.Is(err, wal.ErrReadOnly) {
		return &facadeError{err: err}
	}
	msg := err.Error()
	for _, p := range layerPrefixes {
		if strings.Contains(msg, p) {
			return &facadeError{err: err}
		}
	}
	return err
}

// facadeSeq is seq with its error translated by facade.
func facadeSeq[T any](seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v, err := range seq {
			if !yield(v, facade(err)) {
				return
			}
		}
	}
}
