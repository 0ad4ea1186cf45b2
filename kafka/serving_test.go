package kafka

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitServing waits until FindServing(dir) gives want listeners (Serve records its listener as it starts).
func waitServing(t *testing.T, dir string, want int) *ServingInfo {
	t.Helper()
	var info *ServingInfo
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		info, err = FindServing(dir)
		if err == nil && len(info.Listeners) == want {
			return info
		}
	}
	t.Fatalf("FindServing: %+v, %v; want %d listeners", info, err, want)
	return nil
}

func TestServingFileRecordsListeners(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, db, nil)
	info := waitServing(t, dir, 1)
	if info.PID != os.Getpid() || info.Listeners[0].Address != ts.addr || info.Listeners[0].DialAddress() != ts.addr ||
		info.Listeners[0].TLS || len(info.Listeners[0].SASL) != 0 {
		t.Fatalf("SERVING: %+v, want pid %d and listener %s", info, os.Getpid(), ts.addr)
	}

	// A second server of the same DB shares the file; stopping it leaves the first one's listener.
	ts2 := startServerOn(t, db, &Options{AdvertisedAddr: "broker.example:9092"})
	info = waitServing(t, dir, 2)
	if info.Listeners[1].Advertised != "broker.example:9092" {
		t.Fatalf("second listener: %+v", info.Listeners[1])
	}
	ts2.cancel()
	ts2.cancel = nil
	if err := <-ts2.done; err != nil {
		t.Fatal(err)
	}
	waitServing(t, dir, 1)

	ts.cancel()
	ts.cancel = nil
	if err := <-ts.done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ServingFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SERVING after the last listener stopped: %v", err)
	}
	if _, err := FindServing(dir); !errors.Is(err, ErrNotServing) {
		t.Fatalf("FindServing after stop: %v, want ErrNotServing", err)
	}
	db.Close()
}

func TestServingFileStale(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	startServerOn(t, db, nil)
	waitServing(t, dir, 1)
	b, err := os.ReadFile(filepath.Join(dir, ServingFileName))
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // the lock is free: what a kill leaves behind
	if err := os.WriteFile(filepath.Join(dir, ServingFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindServing(dir); !errors.Is(err, ErrNotServing) {
		t.Fatalf("FindServing with the lock free: %v, want ErrNotServing", err)
	}

	// Another writer holds the lock now (its pid is in LOCK): the file names someone else.
	db2, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	lockPath := filepath.Join(dir, mqlog.LockFileName)
	if err := os.WriteFile(lockPath, []byte("pid 999999999 started 2026-01-01T00:00:00Z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindServing(dir); !errors.Is(err, ErrNotServing) {
		t.Fatalf("FindServing with another holder: %v, want ErrNotServing", err)
	}

	if err := os.WriteFile(filepath.Join(dir, ServingFileName), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindServing(dir); err == nil || errors.Is(err, ErrNotServing) || !strings.Contains(err.Error(), ServingFileName) {
		t.Fatalf("FindServing of garbage: %v, want an error naming the file", err)
	}
}

func TestServingFileOff(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, db, &Options{NoServingFile: true})
	c := dial(t, ts.addr)
	c.do(kmsg.NewPtrApiVersionsRequest()) // answered: Serve is past the point where it would record
	if _, err := os.Stat(filepath.Join(dir, ServingFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SERVING with NoServingFile: %v", err)
	}
}

// TestServingFileStaleRemovedByOpen: a writable Open removes a SERVING file (and SERVING.tmp) that a
// killed server left, so that a later holder of the lock is never taken for that server, not even one
// with the killed server's pid (pids are reused; this test's process plays both). Before, the file
// stayed and FindServing trusted it, handing the CLI the dead address.
func TestServingFileStaleRemovedByOpen(t *testing.T) {
	dir := t.TempDir()
	stale := fmt.Sprintf(`{"version":1,"pid":%d,"started":"2026-01-01T00:00:00Z","listeners":[{"address":"127.0.0.1:1","advertised":"127.0.0.1:1","tls":false}]}`, os.Getpid())
	for _, name := range []string{ServingFileName, ServingFileName + ".tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(stale), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := FindServing(dir); !errors.Is(err, ErrNotServing) {
		t.Errorf("FindServing after Open over a stale file naming the holder's pid: %+v, %v; want ErrNotServing", info, err)
	}
	for _, name := range []string{ServingFileName, ServingFileName + ".tmp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after a writable Open: %v, want it removed", name, err)
		}
	}
	// Serving it records the new listener.
	ts := startServerOn(t, db, nil)
	if info := waitServing(t, dir, 1); info.Listeners[0].Address != ts.addr || info.PID != os.Getpid() {
		t.Fatalf("SERVING after serve: %+v, want %s", info, ts.addr)
	}
}
