package bench

import (
	"context"
	"fmt"
)

// Compaction is the hook of the compaction workload (rewriting a compacted topic's segments, keeping the
// last record per key). Compaction is not part of this build of mqlog, so it returns ErrNotAvailable and
// the report says so rather than show a figure.
func Compaction(ctx context.Context, s Spec) (Measurement, error) {
	return Measurement{}, fmt.Errorf("%w: compaction is not in this build of mqlog", ErrNotAvailable)
}
