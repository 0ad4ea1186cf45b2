package index

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Raft stable values survive a reopen, an empty value is not a missing one, and they share no key with
// topics.
func TestRaftStable(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("/index", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.RaftStable([]byte("CurrentTerm")); ok || err != nil {
		t.Fatalf("missing key: %v %v", ok, err)
	}
	if err := s.PutRaftStable([]byte("CurrentTerm"), []byte{0, 0, 0, 0, 0, 0, 0, 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRaftStable([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTopic("CurrentTerm", []byte("config")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("/index", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, ok, err := s.RaftStable([]byte("CurrentTerm")); !ok || err != nil || len(v) != 8 || v[7] != 7 {
		t.Fatalf("after reopen: %v %v %v", v, ok, err)
	}
	if v, ok, err := s.RaftStable([]byte("empty")); !ok || err != nil || len(v) != 0 {
		t.Fatalf("empty value: %v %v %v", v, ok, err)
	}
	if names, err := s.Topics(); err != nil || len(names) != 1 {
		t.Fatalf("topics %v %v", names, err)
	}
}
