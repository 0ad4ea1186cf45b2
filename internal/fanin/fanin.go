// Package fanin waits on many channels at once: the partitions' high-watermark channels of a consumer
// or a work queue, a membership change, a timer and a context.
package fanin

import (
	"context"
	"reflect"
	"time"
)

// Wait blocks until ctx is done, timer fires, or one of chans is closed or receives; nil channels
// never fire. It returns ctx.Err(), so nil means "something may have changed: look again". A select with
// the channels written out serves the common cases; more than three channels go through reflect.Select.
func Wait(ctx context.Context, timer <-chan time.Time, chans ...<-chan struct{}) error {
	switch len(chans) {
	case 0:
		select {
		case <-ctx.Done():
		case <-timer:
		}
	case 1:
		select {
		case <-ctx.Done():
		case <-timer:
		case <-chans[0]:
		}
	case 2:
		select {
		case <-ctx.Done():
		case <-timer:
		case <-chans[0]:
		case <-chans[1]:
		}
	case 3:
		select {
		case <-ctx.Done():
		case <-timer:
		case <-chans[0]:
		case <-chans[1]:
		case <-chans[2]:
		}
	default:
		cases := make([]reflect.SelectCase, 0, len(chans)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)})
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		reflect.Select(cases)
	}
	return ctx.Err()
}

// Timer returns the channel of a timer that fires at deadline, and its stop function; a zero deadline
// gives a nil channel, which never fires.
func Timer(deadline time.Time) (<-chan time.Time, func()) {
	if deadline.IsZero() {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(deadline))
	return t.C, func() { t.Stop() }
}
