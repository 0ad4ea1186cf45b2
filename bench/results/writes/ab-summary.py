import json,glob,statistics as st,collections,sys
d=sys.argv[1]
R=collections.defaultdict(lambda: collections.defaultdict(list))  # key -> bin -> list of (per-round ratios)
meta=collections.defaultdict(lambda: collections.defaultdict(list))
for fn in sorted(glob.glob(d+'/*.json')):
    b=fn.split('/')[-1].split('.')[0]
    rs=json.load(open(fn))['results']
    base={}
    for r in rs:
        if r['workload']=='append': base[(r['system'],r['size'],r['batch'])]=r['round_msgs_per_sec']
    for r in rs:
        if r['system']!='mqlog': continue
        m=r['round_msgs_per_sec']
        if r['workload']=='append':
            k=('append',r['size'],r['batch'])
            for sysn in ('raw','raw-prealloc'):
                bb=base[(sysn,r['size'],r['batch'])]
                R[k+(sysn,)][b]+= [x/y for x,y in zip(m,bb)]
        elif r['workload']=='append-concurrent' and r['producers']>1:
            P=r['producers']; k=('concurrent',r['size'],P)
            for sysn in ('raw','raw-prealloc','mqlog'):
                bb=base.get((sysn,r['size'],P))
                if bb: R[k+('ideal '+sysn+' batch %d'%P,)][b]+=[x/y for x,y in zip(m,bb)]
            meta[k][b].append((r['msgs_per_sync'],r['latency']['p50_us'],r['latency']['p99_us']))
for k,v in sorted(R.items()):
    out=[]
    for b in ('old','new'):
        a=v.get(b,[])
        if a: out.append(f"{b} {st.median(a):.2f} [{min(a):.2f}-{max(a):.2f}] n={len(a)}")
    print(k, ' | '.join(out))
for k,v in sorted(meta.items()):
    for b in ('old','new'):
        a=v[b]
        print(k,b,'msgs/fsync med %.1f [%.1f-%.1f]'%(st.median([x[0] for x in a]),min(x[0] for x in a),max(x[0] for x in a)),'p50 med %.0f'%st.median([x[1] for x in a]),'p99 med %.0f [%.0f-%.0f]'%(st.median([x[2] for x in a]),min(x[2] for x in a),max(x[2] for x in a)))
