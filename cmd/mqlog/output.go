package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// jsonVersion is the "version" of every JSON document the CLI prints (not of JSON-lines streams).
const jsonVersion = 1

// checkOutput validates -o.
func (a *app) checkOutput() error {
	switch a.output {
	case outputTable, outputJSON:
		return nil
	}
	return usagef("invalid output format %q for -o: want %s or %s", a.output, outputTable, outputJSON)
}

// jsonOutput reports whether -o json was asked for.
func (a *app) jsonOutput() bool { return a.output == outputJSON }

// writeJSONLine writes v as one line of JSON (a JSON-lines stream element).
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONDocument writes v as one indented JSON document.
func writeJSONDocument(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns: a header row, then one row per call to row.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

// row writes one row, each cell formatted with %v.
func (t *table) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

// flush writes the aligned table out.
func (t *table) flush() error { return t.tw.Flush() }

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// formatMillis renders a timestamp in milliseconds since the epoch for a table: RFC 3339 in UTC, or "-"
// for none (negative).
func formatMillis(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// jsonBytes renders b for JSON: a string when b is valid UTF-8, else base64 with encoding "base64". A nil b
// is null.
func jsonBytes(b []byte) (value *string, encoding string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// plural returns "1 batch", "2 batches": n and the singular or the plural word.
func plural(n int64, singular, pluralWord string) string {
	if n == 1 {
		return "1 " + singular
	}
	return fmt.Sprintf("%d %s", n, pluralWord)
}
