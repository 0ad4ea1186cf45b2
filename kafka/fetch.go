package kafka

import (
	"context"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetch serves each partition's stored batches as they are on disk, from the batch holding the fetch
// offset, up to the partition's and the request's byte limits (the first batch of the response always
// whole, as KIP-74 says), and at most Options.MaxFetchBytes. When that is fewer than MinBytes it waits,
// up to MaxWaitMillis (and Options.MaxFetchWait), for a high watermark to move: woken by the partitions'
// change channels, never by polling. Fetch sessions (KIP-227) are not kept: every response has session
// id 0, so clients send full requests.
func (s *Server) fetch(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	maxBytes := s.opts.MaxFetchBytes
	if req.Version >= 3 && req.MaxBytes > 0 {
		maxBytes = min(maxBytes, int(req.MaxBytes))
	}
	if err := r.reserve(ctx, int64(maxBytes)); err != nil {
		return nil, err
	}
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, s.opts.MaxFetchWait)
	deadline := time.Now().Add(wait)

	f := fetcher{s: s, r: r, req: req, maxBytes: maxBytes}
	f.resolve()
	// The batches are read into one buffer of maxBytes (the first batch of a response may pass that, and
	// grow it), taken from the server's cache once there is something to read (a long poll waits without
	// one) and given back once the response is written.
	var buf []byte
	r.onWritten(func() {
		f.releaseViews()
		if buf != nil {
			s.large.put(buf)
		}
	})
	answer := func(total int) (kmsg.Response, error) {
		r.unreserve(int64(max(maxBytes-total, 0)))
		r.p.sizeHint = total
		return f.resp, nil
	}
	for {
		changed := f.changed()
		if buf == nil && f.readable() {
			buf = s.large.get(maxBytes)
		}
		var total int
		buf, total = f.read(buf[:0])
		if total >= int(req.MinBytes) || f.failed || wait <= 0 || time.Until(deadline) <= 0 || ctx.Err() != nil {
			return answer(total)
		}
		if !waitAny(ctx, changed, deadline) && (time.Until(deadline) <= 0 || ctx.Err() != nil) {
			buf, total = f.read(buf[:0]) // what arrived just before the deadline
			return answer(total)
		}
	}
}

// noBatches is the records of a partition with nothing to give: empty, not null (librdkafka, for one,
// takes a null record set for a broken response).
var noBatches = []byte{}

// fetcher is one fetch request being answered.
type fetcher struct {
	s        *Server
	r        *request
	req      *kmsg.FetchRequest
	resp     *kmsg.FetchResponse
	maxBytes int
	parts    []fetchPart
	failed   bool // a partition has an error: answer at once
	// views release the mapped segments that partitions' batches are served from (ViewBatches), once
	// the response is written or read again.
	views []func()
}

// releaseViews releases the segments pinned by the views of the last read.
func (f *fetcher) releaseViews() {
	for _, release := range f.views {
		release()
	}
	f.views = f.views[:0]
}

// fetchPart is one requested partition and where its answer goes.
type fetchPart struct {
	log    *mqlog.RawPartition // nil when the partition is unknown
	offset int64
	limit  int
	rp     *kmsg.FetchResponseTopicPartition
}

// resolve builds the response's skeleton and finds each partition's log.
func (f *fetcher) resolve() {
	f.resp = f.req.ResponseKind().(*kmsg.FetchResponse)
	f.resp.Topics = make([]kmsg.FetchResponseTopic, len(f.req.Topics))
	for i, t := range f.req.Topics {
		rt := &f.resp.Topics[i]
		*rt = kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, known := t.Topic, true
		if f.req.Version >= 13 {
			name, known = f.s.ids.name(t.TopicID)
		}
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rp := &rt.Partitions[j]
			*rp = kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.RecordBatches = p.Partition, noBatches
			part := fetchPart{offset: p.FetchOffset, limit: int(p.PartitionMaxBytes), rp: rp}
			if f.req.Version < 3 || part.limit <= 0 {
				part.limit = f.maxBytes
			}
			if !known {
				rp.ErrorCode = kerr.UnknownTopicID.Code
				f.failed = true
			} else if log, err := f.s.db.RawPartition(name, p.Partition); err != nil {
				rp.ErrorCode = f.s.errorCode(f.r, "Fetch", err)
				f.failed = true
			} else {
				part.log = log
			}
			f.parts = append(f.parts, part)
		}
	}
}

// changed returns the change channels of the partitions, taken before they are read.
func (f *fetcher) changed() []<-chan struct{} {
	out := make([]<-chan struct{}, 0, len(f.parts))
	for _, p := range f.parts {
		if p.log != nil {
			out = append(out, p.log.Changed())
		}
	}
	return out
}

// readable reports whether a partition has batches past its fetch offset.
func (f *fetcher) readable() bool {
	for _, p := range f.parts {
		if p.log != nil && p.log.HighWatermark() > p.offset {
			return true
		}
	}
	return false
}

// read fills every partition's answer from its log and returns buf and the bytes read: batches in a
// mapped segment are served from the mapping (ViewBatches: written from there with the response's writev,
// no copy), the others read into buf.
func (f *fetcher) read(buf []byte) ([]byte, int) {
	f.releaseViews()
	total := 0
	for i := range f.parts {
		p := &f.parts[i]
		if p.log == nil {
			continue
		}
		rp := p.rp
		rp.HighWatermark, rp.LogStartOffset = p.log.HighWatermark(), p.log.StartOffset()
		rp.LastStableOffset = rp.HighWatermark // no transactions: everything readable is stable
		rp.RecordBatches = noBatches
		limit := min(p.limit, f.maxBytes-total)
		if limit <= 0 {
			continue
		}
		if view, release, err := p.log.ViewBatches(p.offset, limit); err == nil && release != nil {
			f.views = append(f.views, release)
			rp.ErrorCode = 0
			if n := len(view); n > 0 && (n <= limit || total == 0) { // (only the first batch may pass the limits)
				rp.RecordBatches = view
				total += n
			}
			continue
		}
		start := len(buf)
		var err error
		buf, err = p.log.ReadBatches(buf, p.offset, limit)
		if err != nil {
			rp.ErrorCode = f.s.errorCode(f.r, "Fetch", err)
			f.failed = true
			buf = buf[:start]
			continue
		}
		rp.ErrorCode = 0
		n := len(buf) - start
		if n > limit && total > 0 { // only the response's first batch may pass the limits
			buf = buf[:start]
			continue
		}
		if n > 0 {
			rp.RecordBatches = buf[start:len(buf):len(buf)]
		}
		total += n
	}
	// (Partitions read before buf last grew keep their bytes in the array it grew from.)
	return buf, total
}

func failFetch(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.ErrorCode = code
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.RecordBatches = p.Partition, code, noBatches
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
