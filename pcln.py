import struct,sys,collections
pid=int(open('/tmp/p1/pids').read())
data=open('/tmp/p1/cronbox-sym','rb').read()
# find file offset of pclntab: vaddr 0xe4d840 ; text seg at 0x400000 offset 0
import subprocess,re
base=0xe4d840
# file offset: from readelf -l
off=None
for l in subprocess.run(['readelf','-SW','/tmp/p1/cronbox-sym'],capture_output=True,text=True).stdout.splitlines():
    if '.gopclntab' in l:
        p=l.split(); i=p.index('.gopclntab'); off=int(p[i+3],16); sz=int(p[i+4],16)
h=data[off:off+8+8*8]
magic,=struct.unpack('<I',h[:4])
nfunc,nfiles,textStart,fno,cuo,fto,pco,plo=struct.unpack('<8Q',h[8:8+64])
print(hex(magic),nfunc,nfiles,hex(textStart),'funcname',fno,'cu',cuo,'file',fto,'pctab',pco,'functab',plo,'size',sz)
regions=[('header',0),('funcnametab',fno),('cutab',cuo),('filetab',fto),('pctab',pco),('functab+_func',plo),('end',sz)]
pm=open(f'/proc/{pid}/pagemap','rb')
cnt=collections.Counter()
for pg in range((base//4096)*4096, base+sz, 4096):
    pm.seek(pg//4096*8); v=struct.unpack('Q',pm.read(8))[0]
    if v>>63:
        o=pg-base
        name=[r for r in regions if r[1]<=o+2048][-1][0]
        cnt[name]+=4
for r in regions[:-1]:
    nxt=regions[regions.index(r)+1][1]
    print(f"{r[0]:15s} size={(nxt-r[1])//1024:6d}KB resident={cnt[r[0]]}KB")
