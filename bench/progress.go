package bench

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal, where a live progress line belongs.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Progress draws one line, rewritten in place, on a terminal (the writer given to NewProgress); with a
// nil writer it does nothing. The bench tool and the peers comparison both use it.
type Progress struct {
	w       io.Writer
	total   int
	started int
	begin   time.Time
}

// NewProgress returns a Progress over total runs, drawn on w (nil: draw nothing).
func NewProgress(w io.Writer, total int) *Progress {
	return &Progress{w: w, total: total, begin: time.Now()}
}

// Start shows that the next run, described by what, has started.
func (p *Progress) Start(what string) {
	if p.w == nil {
		return
	}
	p.started++
	fmt.Fprintf(p.w, "\r\x1b[K[%d/%d %4.0fs] %s", p.started, p.total, time.Since(p.begin).Seconds(), what)
}

// Done clears the line.
func (p *Progress) Done() {
	if p.w == nil {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
}
