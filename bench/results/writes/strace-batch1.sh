#!/bin/bash
# interleaved strace -T of one append: mqlog DB.Append vs raw-prealloc, batch 1
for r in 1 2 3; do for s in 100 1024; do
 TMPDIR=/tmp strace -f -T -o /tmp/prof/m$s.$r.txt -e trace=pwrite64,write,fdatasync,fsync,fallocate,futex ./mqlog.test -test.run '^$' -test.bench "BenchmarkAppend\$/size=$s/batch=1\$" -test.benchtime 1500x | grep Bench
 TMPDIR=/tmp strace -f -T -o /tmp/prof/r$s.$r.txt -e trace=pwrite64,write,fdatasync,fsync,fallocate,futex ./mqlog.test -test.run '^$' -test.bench "BenchmarkRawBaseline/append-prealloc/size=$s/batch=1\$" -test.benchtime 1500x | grep Bench
done; done
