package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/lock"
)

// ServingFileName is the file in a data directory in which the process holding its lock lists the
// addresses its Kafka listeners serve on, so that a CLI beside it reaches it through the protocol
// (docs/FORMAT.md, "The SERVING file").
const ServingFileName = base.ServingFileName

// servingVersion is the "version" of the SERVING document.
const servingVersion = 1

// ServingInfo is the SERVING file: who serves the data directory and where.
type ServingInfo struct {
	Version   int               `json:"version"`
	PID       int               `json:"pid"`     // the serving process, the same as the LOCK file's
	Started   time.Time         `json:"started"` // when its first listener was recorded
	Listeners []ServingListener `json:"listeners"`
}

// ServingListener is one listener of a serving process.
type ServingListener struct {
	// Address is the listener's own address, to dial from this machine (an unspecified host such as
	// 0.0.0.0 or [::] means every local address; Dial reaches it on loopback).
	Address string `json:"address"`
	// Advertised is the host:port that Metadata gives clients (Options.AdvertisedAddr or Address).
	Advertised string `json:"advertised"`
	// TLS reports that every connection is TLS.
	TLS bool `json:"tls"`
	// SASL lists the SASL mechanisms required, none when authentication is off.
	SASL []string `json:"sasl,omitempty"`
}

// ErrNotServing is FindServing's error when no live process serves the directory: no SERVING file, or a
// stale one (its process is gone, or no longer the lock's holder).
var ErrNotServing = errors.New("mqlog/kafka: no server recorded in the data directory")

// FindServing returns the SERVING file of dir when the process it names is alive and holds dir's lock
// (on the operating system's filesystem). A file left behind by a process that was killed is stale and
// gives ErrNotServing, as does a missing one; a file that does not parse gives an error naming it.
func FindServing(dir string) (*ServingInfo, error) {
	path := filepath.Join(dir, ServingFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotServing
	} else if err != nil {
		return nil, fmt.Errorf("mqlog/kafka: read %s: %w", path, err)
	}
	if len(b) > 64<<10 {
		return nil, fmt.Errorf("mqlog/kafka: %s: %d bytes, more than a SERVING file holds", path, len(b))
	}
	var info ServingInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("mqlog/kafka: %s: %w", path, err)
	}
	if info.Version != servingVersion {
		return nil, fmt.Errorf("mqlog/kafka: %s: unknown version %d", path, info.Version)
	}
	held, release, err := lock.Shared(vfs.Default, dir)
	if err != nil {
		return nil, err
	}
	release()
	holder, ok := lock.HolderPID(dir)
	if !held || !ok || holder != info.PID || !lock.ProcessAlive(info.PID) || len(info.Listeners) == 0 {
		return nil, ErrNotServing
	}
	return &info, nil
}

// DialAddress is the address a client on this machine dials to reach the listener: Address, with an
// unspecified host (0.0.0.0, [::], none) replaced by loopback.
func (l ServingListener) DialAddress() string {
	host, port, err := net.SplitHostPort(l.Address)
	if err != nil {
		return l.Address
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			return net.JoinHostPort("::1", port)
		}
		return net.JoinHostPort("127.0.0.1", port)
	}
	return l.Address
}

// servingFiles are the SERVING files this process keeps, by data directory: several servers, and one
// server on several listeners, share one file.
var servingFiles struct {
	sync.Mutex
	byDir map[string]*servingFile
}

type servingFile struct {
	started   time.Time
	listeners []*ServingListener
}

// recordListener adds a listener to the SERVING file of the server's data directory, when this process
// holds that directory's lock on the operating system's filesystem (a DB on another filesystem, or one
// opened read-only, has no file), and returns the function that removes it again: the file is removed
// with its last listener. Failing to write the file is logged, never fatal: the file is a convenience for
// the CLI, the listener serves either way.
func (s *Server) recordListener(addr net.Addr, advertised broker) (remove func()) {
	dir := s.db.Dir()
	if s.opts.NoServingFile || s.db.ReadOnly() || dir == "" {
		return func() {}
	}
	if pid, ok := lock.HolderPID(dir); !ok || pid != os.Getpid() {
		return func() {}
	}
	l := &ServingListener{
		Address:    addr.String(),
		Advertised: net.JoinHostPort(advertised.host, strconv.Itoa(int(advertised.port))),
		TLS:        s.opts.TLS != nil,
	}
	if s.opts.SASL != nil {
		l.SASL = slices.Clone(s.opts.SASL.Mechanisms)
	}
	key := filepath.Clean(dir)
	servingFiles.Lock()
	defer servingFiles.Unlock()
	if servingFiles.byDir == nil {
		servingFiles.byDir = make(map[string]*servingFile)
	}
	f := servingFiles.byDir[key]
	if f == nil {
		f = &servingFile{started: time.Now().UTC().Truncate(time.Second)}
		servingFiles.byDir[key] = f
	}
	f.listeners = append(f.listeners, l)
	if err := f.writeLocked(dir); err != nil {
		s.opts.Logger.Warn("kafka: record listener", "file", filepath.Join(dir, ServingFileName), "err", err)
	}
	return func() {
		servingFiles.Lock()
		defer servingFiles.Unlock()
		f.listeners = slices.DeleteFunc(f.listeners, func(x *ServingListener) bool { return x == l })
		var err error
		if len(f.listeners) == 0 {
			delete(servingFiles.byDir, key)
			err = os.Remove(filepath.Join(dir, ServingFileName))
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		} else {
			err = f.writeLocked(dir)
		}
		if err != nil {
			s.opts.Logger.Warn("kafka: unrecord listener", "file", filepath.Join(dir, ServingFileName), "err", err)
		}
	}
}

// writeLocked replaces dir's SERVING file with f's listeners, atomically: a temporary file renamed over
// it, so that a reader sees the old document or the new one. It is not fsynced: after a crash the file
// is stale whatever it holds (its process is gone), and FindServing says so.
func (f *servingFile) writeLocked(dir string) error {
	info := ServingInfo{Version: servingVersion, PID: os.Getpid(), Started: f.started, Listeners: make([]ServingListener, len(f.listeners))}
	for i, l := range f.listeners {
		info.Listeners[i] = *l
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ServingFileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
