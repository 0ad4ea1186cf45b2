package main

import (
	"bufio"
	"strconv"

	"github.com/mqlog/mqlog"
)

// defaultRecordFormat is consume's table output: the value, one per line.
const defaultRecordFormat = `%v\n`

// formatToken is one piece of a parsed --format: literal bytes, or a record field.
type formatToken struct {
	literal []byte
	field   byte // 't', 'p', 'o', 'k', 'v', 'T', 'h'; 0 for a literal
}

// parseRecordFormat parses a --format string: %t topic, %p partition, %o offset, %k key, %v value,
// %T timestamp (ms), %h headers (k=v,k=v), %% a percent sign; \n newline, \t tab, \\ backslash.
func parseRecordFormat(s string) ([]formatToken, error) {
	var tokens []formatToken
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			tokens = append(tokens, formatToken{literal: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' && c != '\\' {
			lit = append(lit, c)
			continue
		}
		if i+1 == len(s) {
			return nil, usagef("invalid --format %q: %c at the end", s, c)
		}
		i++
		d := s[i]
		switch {
		case c == '%' && d == '%':
			lit = append(lit, '%')
		case c == '%' && (d == 't' || d == 'p' || d == 'o' || d == 'k' || d == 'v' || d == 'T' || d == 'h'):
			flush()
			tokens = append(tokens, formatToken{field: d})
		case c == '\\' && d == 'n':
			lit = append(lit, '\n')
		case c == '\\' && d == 't':
			lit = append(lit, '\t')
		case c == '\\' && d == '\\':
			lit = append(lit, '\\')
		default:
			return nil, usagef("invalid --format %q: unknown %c%c (want %%t %%p %%o %%k %%v %%T %%h %%%% \\n \\t)", s, c, d)
		}
	}
	flush()
	return tokens, nil
}

// recordPrinter writes consumed records to stdout, as JSON lines or in a --format.
type recordPrinter struct {
	w      *bufio.Writer
	json   bool
	format []formatToken
}

// recordJSON is the JSON form of a consumed record.
type recordJSON struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []headerJSON `json:"headers"`
}

type headerJSON struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

func (p *recordPrinter) print(rec *mqlog.Record) error {
	if p.json {
		j := recordJSON{
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
			Headers: make([]headerJSON, len(rec.Headers)),
		}
		j.Key, j.KeyEncoding = jsonBytes(rec.Key)
		j.Value, j.ValueEncoding = jsonBytes(rec.Value)
		for i, h := range rec.Headers {
			j.Headers[i].Key = h.Key
			j.Headers[i].Value, j.Headers[i].ValueEncoding = jsonBytes(h.Value)
		}
		return writeJSONLine(p.w, j)
	}
	w := p.w
	for _, t := range p.format {
		switch t.field {
		case 0:
			w.Write(t.literal)
		case 't':
			w.WriteString(rec.Topic)
		case 'p':
			w.WriteString(strconv.FormatInt(int64(rec.Partition), 10))
		case 'o':
			w.WriteString(strconv.FormatInt(rec.Offset, 10))
		case 'k':
			w.Write(rec.Key)
		case 'v':
			w.Write(rec.Value)
		case 'T':
			w.WriteString(strconv.FormatInt(rec.Timestamp.UnixMilli(), 10))
		case 'h':
			for i, h := range rec.Headers {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		}
	}
	return nil // a bufio.Writer's error is sticky: Flush reports it
}
