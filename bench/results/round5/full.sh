#!/bin/bash
# A/B of mqlog bench --full: before (1642919) and after (6117e78), alternating; the ideal of the
# concurrent rows is the append row of batch P (before) or the row of the concurrent case (after).
for i in 1 2; do
  for v in before after2; do
    echo "== $v $i $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    /tmp/mqlog-$v bench --full --workload append,append-concurrent --sizes 100,1024 --batches 1,16,64,256 --producers 64 --base-dir /tmp --out /tmp/ab/full-$v-$i > /tmp/ab/full-$v-$i.txt 2>&1
  done
done
echo "== done $(date +%T)"
