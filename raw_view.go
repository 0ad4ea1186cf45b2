package mqlog

import (
	"errors"
	"io"
)

// ViewBatches returns the stored batches from the one that holds offset from, as ReadBatches does, but
// as a read-only view of the segment file's memory mapping instead of a copy (the frames of one segment,
// so possibly fewer bytes than ReadBatches would give; verified, CRC and header, as every read). The
// view stays valid until release is called, which the caller must do once; the segment stays open and
// mapped until then, even when retention deletes it. It is meant for writing the batches out with one
// system call (a Kafka fetch's writev), which a file truncated under the view by another process makes
// fail with EFAULT instead of faulting the process.
//
// When that segment is not read through a mapping (ReadMmap MmapOff, a read-only open, a filesystem without descriptors),
// it returns a nil view, a nil release and no error: use ReadBatches. At the high watermark it returns
// an empty view. An offset outside [StartOffset, HighWatermark] is ErrOutOfRange.
func (p *RawPartition) ViewBatches(from int64, maxBytes int) (batches []byte, release func(), err error) {
	r, err := p.log.NewReader(from, false)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close() // (the view holds its own reference)
	batches, release, err = r.ViewFrames(maxBytes)
	if errors.Is(err, io.EOF) {
		return []byte{}, func() {}, nil
	}
	return batches, release, err
}
