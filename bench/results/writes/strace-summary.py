import re,sys,collections
for fn in sys.argv[1:]:
    d=collections.defaultdict(list); unf={}
    for line in open(fn):
        line=line.strip()
        m=re.match(r'^(\d+)\s+(\w+)\((\d+)?.*<unfinished \.\.\.>$',line)
        if m: unf[(m.group(1),m.group(2))]=m.group(3); continue
        m=re.match(r'^(\d+)\s+<\.\.\. (\w+) resumed>.*<([\d.]+)>$',line)
        if m:
            pid,name,t=m.group(1),m.group(2),float(m.group(3)); fd=unf.pop((pid,name),None)
        else:
            m=re.match(r'^(\d+)\s+(\w+)\((\d+)?.*<([\d.]+)>$',line)
            if not m: continue
            pid,name,fd,t=m.group(1),m.group(2),m.group(3),float(m.group(4))
        key=name+(':fd'+str(fd) if name in('pwrite64','write','fdatasync','fallocate','fsync') else '')
        d[key].append(t)
    print(fn)
    for k,v in sorted(d.items(),key=lambda kv:-len(kv[1]))[:30]:
        v.sort()
        print(f"  {k:16s} n={len(v):5d} mean={1e6*sum(v)/len(v):7.1f}us p50={1e6*v[len(v)//2]:7.1f}us p99={1e6*v[int(len(v)*.99)]:7.1f}us total={sum(v)*1e3:7.1f}ms")
