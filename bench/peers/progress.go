package peers

import (
	"fmt"
	"io"
	"time"
)

// progress draws one line, rewritten in place, on a terminal; it does nothing without one.
type progress struct {
	w       io.Writer
	total   int
	started int
	begin   time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, begin: time.Now()}
}

func (p *progress) start(what string) {
	if p.w == nil {
		return
	}
	p.started++
	fmt.Fprintf(p.w, "\r\x1b[K[%d/%d %4.0fs] %s", p.started, p.total, time.Since(p.begin).Seconds(), what)
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
