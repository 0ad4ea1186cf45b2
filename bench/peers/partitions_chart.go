package peers

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mqlog/mqlog/bench"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// PartitionsRun is a saved report of `mqlog bench --workload partitions` (bench.PartitionsReport) and the
// name its lines get in a chart.
type PartitionsRun struct {
	Name   string
	Report *bench.PartitionsReport
}

// ReadPartitionsRun reads the partitions report in the JSON file at path; its name is the file's base name
// without ".json" ("partitions-before").
func ReadPartitionsRun(path string) (PartitionsRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return PartitionsRun{}, err
	}
	defer f.Close()
	rep, err := decodePartitions(f)
	if err != nil {
		return PartitionsRun{}, fmt.Errorf("%s: %w", path, err)
	}
	return PartitionsRun{Name: strings.TrimSuffix(filepath.Base(path), ".json"), Report: rep}, nil
}

func decodePartitions(r io.Reader) (*bench.PartitionsReport, error) {
	var rep bench.PartitionsReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, err
	}
	if rep.Version != bench.ReportVersion || len(rep.Results) == 0 {
		return nil, fmt.Errorf("not a partitions report of version %d with results", bench.ReportVersion)
	}
	return &rep, nil
}

// partitionsPanel is one panel of the partitions chart: a figure of a result against the partition count.
type partitionsPanel struct {
	title, y string
	value    func(bench.PartitionsResult) (float64, bool) // false: no figure for this count
}

func opened(res bench.PartitionsResult) bool {
	return res.CreateError == "" && res.OpenError == "" && res.OpenMS > 0
}

var partitionsPanels = []partitionsPanel{
	{"topic creation", "ms (CreateTopic)", func(r bench.PartitionsResult) (float64, bool) {
		return r.CreateMS, r.CreateError == ""
	}},
	{"open after a clean close", "ms (mqlog.Open)", func(r bench.PartitionsResult) (float64, bool) {
		return r.OpenMS, opened(r)
	}},
	{"resident memory of the open DB", "MiB (VmRSS after Open)", func(r bench.PartitionsResult) (float64, bool) {
		return float64(r.RSSAfterBytes) / (1 << 20), opened(r)
	}},
	{"open file descriptors", "count after Open", func(r bench.PartitionsResult) (float64, bool) {
		return float64(r.FDsAfter), opened(r)
	}},
	{"goroutines", "count after Open", func(r bench.PartitionsResult) (float64, bool) {
		return float64(r.GoroutinesAfter), opened(r)
	}},
	{"disk space reserved while open", "MiB allocated (du)", func(r bench.PartitionsResult) (float64, bool) {
		return float64(r.ReservedOpenBytes) / (1 << 20), opened(r)
	}},
}

// partitionsColors are the runs' line colors, in order: red for the first (mqlog's), then Tableau 10.
var partitionsColors = []color.Color{
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff},
}

// WritePartitionsChart draws the growth of every panel against the partition count, one line per run (a
// before and an after, say), both axes logarithmic, as one SVG file at path. Counts that a run could not
// create or open have no point; the caption says so.
func WritePartitionsChart(path string, runs []PartitionsRun) error {
	const cols = 3
	rows := (len(partitionsPanels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i, panel := range partitionsPanels {
		if plots[i/cols] == nil {
			plots[i/cols] = make([]*plot.Plot, cols)
		}
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text, p.Y.Label.Text = "partitions", panel.y
		p.X.Scale = plot.LogScale{}
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
		var ticks []plot.Tick
		seen := map[int]bool{}
		lo, hi := math.Inf(1), math.Inf(-1) // the figures plotted, for the y scale
		for ri, run := range runs {
			var xys plotter.XYs
			for _, res := range run.Report.Results {
				if !seen[res.Partitions] {
					seen[res.Partitions] = true
					ticks = append(ticks, plot.Tick{Value: float64(res.Partitions), Label: strconv.Itoa(res.Partitions)})
				}
				if v, ok := panel.value(res); ok && v > 0 {
					xys = append(xys, plotter.XY{X: float64(res.Partitions), Y: v})
					lo, hi = min(lo, v), max(hi, v)
				}
			}
			if len(xys) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			c := partitionsColors[ri%len(partitionsColors)]
			l.Color, l.Width, s.Color, s.Shape = c, vg.Points(2), c, plotutil.Shape(ri)
			p.Add(l, s)
			p.Legend.Add(run.Name, l, s)
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if hi > 10*lo { // more than a decade: a log scale shows the growth; within one, a linear one
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		} else {
			p.Y.Min = 0
		}
		if len(ticks) > 0 { // every count on the axis, those without a figure included
			p.X.Min, p.X.Max = ticks[0].Value/2, ticks[len(ticks)-1].Value*2
			for _, t := range ticks {
				p.X.Min, p.X.Max = min(p.X.Min, t.Value/2), max(p.X.Max, t.Value*2)
			}
		}
		padLogAxes(p)
		plots[i/cols][i%cols] = p
	}
	caption := partitionsCaption(runs)
	lineHeight := vg.Points(13)
	captionHeight := lineHeight*vg.Length(len(caption)) + vg.Points(8)
	width, height := 12*vg.Inch, 4*vg.Inch*vg.Length(rows)+captionHeight
	img := vgsvg.New(width, height)
	dc := draw.New(img)
	top := draw.Crop(dc, 0, 0, captionHeight, 0)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, top)
	for j := range plots {
		for i := range plots[j] {
			if plots[j][i] != nil {
				plots[j][i].Draw(canvases[j][i])
			}
		}
	}
	font := plot.DefaultFont
	font.Size = vg.Points(10)
	sty := draw.TextStyle{Color: color.Black, Font: font, Handler: plot.DefaultTextHandler}
	for k, line := range caption {
		dc.FillText(sty, vg.Point{X: vg.Millimeter * 4, Y: captionHeight - lineHeight*vg.Length(k+1)}, line)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := img.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// partitionsCaption says, per run, where and how it was measured and which counts it could not reach, in
// lines of at most about 150 characters.
func partitionsCaption(runs []PartitionsRun) []string {
	var lines []string
	for _, run := range runs {
		r := run.Report
		var missing []string
		for _, res := range r.Results {
			switch {
			case res.CreateError != "":
				missing = append(missing, fmt.Sprintf("%d not created (stopped after %d partitions)", res.Partitions, res.Created))
			case res.OpenError != "":
				missing = append(missing, fmt.Sprintf("%d not opened", res.Partitions))
			}
		}
		line := fmt.Sprintf("%s: %s, %s (%s), %d MiB segments, load %s", run.Name, r.Started.Format("2006-01-02 15:04"),
			bench.OrDash(r.BaseDir), bench.OrDash(r.Machine.Filesystem), r.Segment>>20, bench.OrDash(r.LoadAvg))
		if len(missing) > 0 {
			line += "; " + strings.Join(missing, ", ")
		}
		lines = append(lines, strings.Split(strings.TrimSpace(bench.Wrap(line, 150)), "\n")...)
	}
	return lines
}
