import re,sys,statistics as st
lines=open(sys.argv[1]).read().splitlines()
pend={}
calls=[]  # (t, pid, name, path, dur)
rx=re.compile(r'^(\d+) (\d+\.\d+) (.*)$')
for l in lines:
    m=rx.match(l)
    if not m: continue
    pid,t,rest=m.group(1),float(m.group(2)),m.group(3)
    if '<unfinished ...>' in rest:
        name=rest.split('(')[0]; pend[(pid,name)]=(t,rest); continue
    rm=re.match(r'<\.\.\. (\w+) resumed>(.*)',rest)
    if rm:
        name=rm.group(1)
        if (pid,name) not in pend: continue
        t0,first=pend.pop((pid,name)); rest=first+rm.group(2); t=t0
    name=rest.split('(')[0]
    d=re.search(r'<(\d+\.\d+)>$',rest)
    dur=float(d.group(1)) if d else 0
    pm=re.search(r'\(\d+<([^>]*)>',rest)
    calls.append((t,pid,name,pm.group(1) if pm else '',dur))
calls.sort()
runs=[]; cur=None
for c in calls:
    m=re.search(r'/(mqlog-bench-\d+)/',c[3])
    if m and (cur is None or cur['dir']!=m.group(1)):
        if not any(r['dir']==m.group(1) for r in runs):
            cur={'dir':m.group(1),'calls':[]}; runs.append(cur)
        else:
            cur=[r for r in runs if r['dir']==m.group(1)][0]
    if cur: cur['calls'].append(c)
import os
SIZES=eval(os.environ.get('SIZES','(100,1024)'));BATCHES=eval(os.environ.get('BATCHES','(1,256)'))
names=[]
for size in SIZES:
    for batch in BATCHES:
        for v in ('mqlog','raw','raw-prealloc','mqlog async 2'):
            names.append(f'{size}B x{batch} {v}')
print('run | data pwrite64: n, mean µs, p50 | data fdatasync: n, mean µs, p50 | futex per data fdatasync | pebble write/fdatasync | cycle µs (run time / data fdatasyncs)')
for i,r in enumerate(runs):
    cs=r['calls']
    data=lambda c: ('/topics/' in c[3] and c[3].endswith('.log')) or c[3].endswith('raw.log')
    pw=[c[4]*1e6 for c in cs if c[2] in('pwrite64','write') and data(c)]
    fs=[c for c in cs if c[2] in('fdatasync','fsync') and data(c)]
    fsd=[c[4]*1e6 for c in fs]
    fut=[c for c in cs if c[2]=='futex' and fs and fs[0][0]<=c[0]<=fs[-1][0]]
    peb=[c for c in cs if '/index' in c[3]]
    pebw=sum(1 for c in peb if c[2] in('write','pwrite64')); pebs=sum(1 for c in peb if c[2] in('fdatasync','fsync'))
    span=(fs[-1][0]-fs[0][0])*1e6 if len(fs)>1 else 0
    nm=names[i] if i<len(names) else r['dir']
    f=lambda xs:(len(xs), round(st.mean(xs),1) if xs else 0, round(st.median(xs),1) if xs else 0)
    print(f"{nm} | {f(pw)} | {f(fsd)} | {len(fut)/max(1,len(fs)):.2f} | {pebw}/{pebs} | {span/max(1,len(fs)-1):.0f}")
