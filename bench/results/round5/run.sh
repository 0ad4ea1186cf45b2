#!/bin/bash
# A/B of bench-peers' append workload: before (1642919) and after (8d7b16d), alternating.
for i in 1 2; do
  for v in before after; do
    echo "== $v $i $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    /tmp/peers-$v --workloads append --sizes 100,1024 --batches 1,16,256 --rounds 5 --base-dir /tmp --out /tmp/ab/$v-$i > /tmp/ab/$v-$i.txt 2>&1
  done
done
echo "== done $(date +%T)"
