import sys
def load(run):
    rows={}
    for line in open(f'./{run}.txt'):
        f=line.split()
        if len(f)>=9 and f[0] in('append','append-concurrent'):
            # workload size unit batch prod system... msgs p50 p99 vsraw vspre note
            wl=f[0]; size=f[1]+f[2]; batch=f[3]; prod=f[4]
            rest=f[5:]
            # system may be two words
            i=0
            while not rest[i].replace('.','').isdigit(): i+=1
            sysn=' '.join(rest[:i]); nums=rest[i:]
            rows[(wl,size,batch,prod,sysn)]=nums
    return rows
runs=sys.argv[1:]
data={r:load(r) for r in runs}
keys=[k for k in data[runs[0]] if k[4] in ('mqlog','mqlog async 2')]
print('row'.ljust(44), '  '.join(r.replace('full-','').ljust(22) for r in runs))
for k in keys:
    cells=[]
    for r in runs:
        n=data[r].get(k)
        if not n: cells.append('-'.ljust(22)); continue
        extra=''
        if k[0]=='append-concurrent' and k[3]!='1':
            extra=' '+' '.join(n[5:])
        cells.append((f"{n[3]}/{n[4]}"+extra).ljust(22))
    print(' '.join(k).ljust(44), '  '.join(cells))
