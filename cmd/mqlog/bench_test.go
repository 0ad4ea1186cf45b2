package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchJSONInProcess runs a tiny bench in this process (a child process would be this test binary)
// and checks the JSON document's shape.
func TestBenchJSONInProcess(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "-o", "json", "bench", "--in-process", "--rounds", "1", "--sizes", "100",
		"--batches", "4", "--producers", "0", "--committers", "2", "--duration", "20ms", "--sync", "always,never",
		"--base-dir", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Version int `json:"version"`
		Config  struct {
			Preset       string   `json:"preset"`
			SyncPolicies []string `json:"sync_policies"`
		} `json:"config"`
		Results []struct {
			Workload string  `json:"workload"`
			Sync     string  `json:"sync"`
			Msgs     float64 `json:"msgs_per_sec"`
			Note     string  `json:"note"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if doc.Version != 1 || !strings.HasSuffix(doc.Config.Preset, "+custom") || strings.Join(doc.Config.SyncPolicies, ",") != "always,never" {
		t.Errorf("config: %+v", doc.Config)
	}
	seen := map[string]bool{}
	for _, r := range doc.Results {
		seen[r.Workload+"/"+r.Sync] = true
		if r.Workload != "compaction" && r.Msgs <= 0 {
			t.Errorf("%s %s: no rate", r.Workload, r.Sync)
		}
	}
	for _, want := range []string{"append/always", "append/never", "append/fdatasync", "consume-cold/", "end-to-end/always", "commit/pebble sync", "compaction/"} {
		if !seen[want] {
			t.Errorf("no %s row in %v", want, seen)
		}
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--sync", "sometimes"},
		{"bench", "--recovery", "12XB"},
		{"bench", "--quick", "--full"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code == exitOK || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4GiB": 4 << 30, "256MiB": 256 << 20, "64KiB": 64 << 10, "1000": 1000, "12B": 12} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1GiB", "1TiB", "GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}

// TestBenchWorkloadPartitions runs the partitions workload in this process on two small counts and checks
// the table, and the JSON and wide table written by --out.
func TestBenchWorkloadPartitions(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "", "bench", "--in-process", "--workload", "partitions", "--partitions", "1,3",
		"--duration", "10ms", "--base-dir", t.TempDir(), "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"partitions  created", "goroutines", "RSS KiB/p"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "partitions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int `json:"version"`
		Results []struct {
			Partitions int `json:"partitions"`
			Created    int `json:"created"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Version != 1 || len(doc.Results) != 2 || doc.Results[1].Created != 3 {
		t.Errorf("partitions.json: %v %+v", err, doc)
	}
	if _, err := os.Stat(filepath.Join(out, "partitions.txt")); err != nil {
		t.Error(err)
	}
}

func TestBenchWorkloadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--workload", "partitions,append"},
		{"bench", "--workload", "apend"},
		{"bench", "--workload", "partitions", "--disk-budget", "lots"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code == exitOK || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}
