import re,sys
rows={}
for run in sys.argv[1:]:
    for line in open(f'./{run}.txt'):
        f=line.split()
        if len(f)>=11 and f[0]=='append':
            size=f[1]+' '+f[2]; batch=f[3]; sysn=f[5]
            key=(size,batch)
            if sysn=='mqlog': rows.setdefault(key,{}).setdefault(run,{})['vs raw']=f[9]
            elif sysn in ('raw-prealloc','raft-wal','tidwall-wal'):
                rows.setdefault(key,{}).setdefault(run,{})[sysn]=f[10]
for key in rows:
    print(key, '  '.join(f"{run}: raw {d.get('vs raw')} pre {d.get('raw-prealloc')} raft {d.get('raft-wal')} tid {d.get('tidwall-wal')}" for run,d in rows[key].items()))
