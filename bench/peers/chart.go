package peers

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart sizes.
const (
	chartWidth  = 8 * vg.Inch
	chartHeight = 5 * vg.Inch
)

// WriteCharts writes the report's charts as SVG files into dir and returns their names: append
// throughput against batch size, one chart per message size (throughput-<size>B.svg), and the latency
// distribution of one Append on every system, one chart per append case (latency-<size>B-batch<N>.svg,
// from the merged histograms of a run just made; a report read back from JSON has none).
func (r *Report) WriteCharts(dir string) ([]string, error) {
	var names []string
	for _, size := range r.Config.Sizes {
		p := r.throughputChart(size)
		if p == nil {
			continue
		}
		name := fmt.Sprintf("throughput-%dB.svg", size)
		if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, name)); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	for _, size := range r.Config.Sizes {
		for _, batch := range r.Config.Batches {
			p := r.latencyChart(size, batch)
			if p == nil {
				continue
			}
			name := fmt.Sprintf("latency-%dB-batch%d.svg", size, batch)
			if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, name)); err != nil {
				return names, err
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// palette holds one color per system, in Systems order (Tableau 10): mqlog red, the baselines grey and
// black (drawn dashed), the peers in colors of their own.
var palette = []color.Color{
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, // mqlog
	color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, // raw
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // raw-prealloc
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // raft-wal
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, // tidwall-wal
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, // jetstream
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, // pebble
	color.RGBA{0x8c, 0x56, 0x4b, 0xff}, // bbolt
	color.RGBA{0x17, 0xbe, 0xcf, 0xff}, // diskqueue
}

// style sets the color, dashes and glyph of the system called name: mqlog thick, the baselines dashed.
func style(name string, l *plotter.Line, s *plotter.Scatter) {
	i := max(0, slices.IndexFunc(Systems(), func(sys System) bool { return sys.Name == name }))
	c := palette[i%len(palette)]
	l.Color, l.Width = c, vg.Points(1.5)
	s.Color, s.Shape = c, plotutil.Shape(i)
	switch name {
	case NameMQLog:
		l.Width = vg.Points(3)
	case NameRaw, NameRawPrealloc:
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
}

func newChart(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = false, false // bottom right: latency rises to the right
	p.Add(plotter.NewGrid())
	return p
}

// throughputChart plots msgs/s of the one-producer append workload against batch size, one line per
// system, both axes logarithmic; nil when there is nothing to plot (an empty log-scale axis cannot be
// drawn).
func (r *Report) throughputChart(size int) *plot.Plot {
	p := newChart(fmt.Sprintf("Durable append, %d B messages, 1 producer (%s)", size, r.Machine.Filesystem),
		"batch size (messages per append)", "msgs/s (median of rounds)")
	p.X.Scale = plot.LogScale{}
	p.Legend.Top, p.Legend.Left = true, true // rising lines leave the top left empty
	var ticks []plot.Tick
	for _, b := range r.Config.Batches {
		ticks = append(ticks, plot.Tick{Value: float64(b), Label: strconv.Itoa(b)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	drawn := false
	for _, sys := range r.Systems {
		var xys plotter.XYs
		for _, res := range r.Results {
			if res.Workload == WorkloadAppend && res.Size == size && res.System == sys.Name && res.MsgsPerSec > 0 {
				xys = append(xys, plotter.XY{X: float64(res.Batch), Y: res.MsgsPerSec})
			}
		}
		drawn = addLine(p, sys.Name, xys) || drawn
	}
	if !drawn {
		return nil
	}
	padLogAxes(p)
	return p
}

// padLogAxes widens an axis whose data span a single value (one batch size, one sample), which a log scale
// cannot draw, to a factor of 2 either side.
func padLogAxes(p *plot.Plot) {
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		if a.Min >= a.Max && a.Min > 0 {
			a.Min, a.Max = a.Min/2, a.Max*2
		}
	}
}

// latencyQuantiles are the percentiles a latency chart plots, as far as the sample count supports them.
var latencyQuantiles = []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999}

// latencyChart plots the latency distribution of one Append per system: the x axis is the percentile on
// a "nines" scale (1/(1-q)), the y axis microseconds, logarithmic. Nil when no result has a histogram.
func (r *Report) latencyChart(size, batch int) *plot.Plot {
	p := newChart(fmt.Sprintf("Latency of one durable append, %d B × %d, 1 producer", size, batch),
		"percentile", "µs per append (all rounds)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{
		{Value: nines(0), Label: "0"}, {Value: nines(50), Label: "50"}, {Value: nines(90), Label: "90"},
		{Value: nines(99), Label: "99"}, {Value: nines(99.9), Label: "99.9"}, {Value: nines(99.99), Label: "99.99"},
		{Value: nines(99.999), Label: "99.999"},
	})
	drawn := false
	for _, sys := range r.Systems {
		idx := slices.IndexFunc(r.Results, func(res Result) bool {
			return res.Workload == WorkloadAppend && res.Size == size && res.Batch == batch && res.System == sys.Name
		})
		if idx < 0 || r.Results[idx].hist == nil {
			continue
		}
		h := r.Results[idx].hist
		var xys plotter.XYs
		for _, q := range latencyQuantiles {
			// A percentile needs at least 1/(1-q) samples to mean something.
			if q > 0 && float64(h.TotalCount()) < nines(q) {
				break
			}
			xys = append(xys, plotter.XY{X: nines(q), Y: float64(h.ValueAtQuantile(q)) / 1e3})
		}
		drawn = addLine(p, sys.Name, xys) || drawn
	}
	if !drawn {
		return nil
	}
	padLogAxes(p)
	return p
}

// nines maps a percentile to the x position of a "nines" scale: 1 for 0, 2 for 50, 10 for 90, 100 for 99.
func nines(q float64) float64 { return 1 / (1 - q/100) }

// addLine adds a system's line to p and reports whether it did.
func addLine(p *plot.Plot, name string, xys plotter.XYs) bool {
	if len(xys) == 0 {
		return false
	}
	for _, xy := range xys {
		if xy.X <= 0 || xy.Y <= 0 || math.IsNaN(xy.Y) {
			return false // a log scale cannot show it; leave the system out rather than fail the chart
		}
	}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return false
	}
	style(name, l, s)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return true
}
