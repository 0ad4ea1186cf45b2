#!/bin/bash
# A/B interleaved, same minutes: old = dbace89 (main), new = branch writes. --quick with 600 ms runs, 5 rounds, SyncAlways.
cd /tmp
for r in 1 2 3; do for b in old new; do
  /tmp/mqlog-$b bench --quick --workload append --sizes 100,1024 --batches 1,256 --rounds 5 --duration 600ms -o json > /tmp/ab3/$b.a.$r.json 2>>/tmp/ab3/err
done; done
for r in 1 2 3; do for b in old new; do
  /tmp/mqlog-$b bench --quick --workload append,append-concurrent --sizes 100 --batches 64 --producers 64 --rounds 5 --duration 600ms -o json > /tmp/ab3/$b.c.$r.json 2>>/tmp/ab3/err
  /tmp/mqlog-$b bench --quick --workload append,append-concurrent --sizes 100 --batches 8 --producers 8 --rounds 5 --duration 600ms -o json > /tmp/ab3/$b.g.$r.json 2>>/tmp/ab3/err
done; done
