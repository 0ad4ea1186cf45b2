package wal

import (
	"context"

	"golang.org/x/time/rate"
)

// throttle limits compaction's I/O to a number of bytes per second (read and written together), with a
// token bucket (golang.org/x/time/rate) whose burst is a tenth of a second's worth (at least 64 KiB). A nil
// throttle does not limit.
type throttle struct {
	limiter *rate.Limiter
}

func newThrottle(bytesPerSecond int64) *throttle {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := int(min(max(bytesPerSecond/10, 64<<10), 1<<30))
	return &throttle{limiter: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
}

// wait blocks until n more bytes of I/O are allowed, or ctx is done.
func (t *throttle) wait(ctx context.Context, n int) error {
	if t == nil {
		return nil
	}
	for n > 0 {
		step := min(n, t.limiter.Burst())
		if err := t.limiter.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}
