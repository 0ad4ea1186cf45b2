package kafka

import (
	"context"
	"reflect"
	"time"
)

// waitAny blocks until one of changed is closed, the deadline passes or ctx is done; it reports whether
// one of changed was closed. With one channel it is a plain select; with more, reflect.Select over all
// of them (a fetch may name many partitions), never polling.
func waitAny(ctx context.Context, changed []<-chan struct{}, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	if len(changed) == 1 {
		select {
		case <-changed[0]:
			return true
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	cases := make([]reflect.SelectCase, 0, len(changed)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)})
	for _, ch := range changed {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 2
}
