package mqlog_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mqlog/mqlog"
)

// Check a data directory, damage a byte of durable data, find it, and repair it: only the damaged batch is
// dropped (a copy of the file is kept in lost+found), an empty batch keeps its offset, and the log's end
// does not move, so no offset is handed out twice.
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "mqlog-example")
	defer os.RemoveAll(dir)
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	db.Append(ctx, "orders", mqlog.Message{Value: []byte("first")})
	db.Append(ctx, "orders", mqlog.Message{Value: []byte("second")})
	db.Close()

	rep, err := mqlog.Verify(dir, nil) // no lock, writes nothing
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("batches:", rep.Batches, "problems:", len(rep.Problems))

	// Flip a byte in the second batch.
	seg := filepath.Join(dir, mqlog.TopicsDirName, "orders-0", "00000000000000000000.log")
	b, _ := os.ReadFile(seg)
	b[len(b)-1] ^= 1
	os.WriteFile(seg, b, 0o644)

	rep, _ = mqlog.Verify(dir, nil)
	var corrupt *mqlog.CorruptionError
	if errors.As(rep.Err(), &corrupt) {
		fmt.Println("damage at byte", corrupt.Offset, "of", filepath.Base(corrupt.Path))
	}
	fixed, err := mqlog.Repair(dir, &mqlog.RepairOptions{Execute: true}) // takes the lock
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the log still ends at offset", fixed.Partitions[0].NextOffset)
	db, err = mqlog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for rec, err := range db.Read("orders", 0, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("kept:", rec.Offset, string(rec.Value))
	}
	// Output:
	// batches: 2 problems: 0
	// damage at byte 73 of 00000000000000000000.log
	// the log still ends at offset 2
	// kept: 0 first
}
