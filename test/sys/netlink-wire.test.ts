// rtnetlink encoding and decoding, pure: the layout table against the kernel's own uapi headers
// (every struct field's offset, size and sign, every number), arbitrary struct values through the
// table and back out at the kernel's offsets, requests byte for byte as iproute2 sends them
// (captured with strace from `ip` on Linux 6.18), round trips of the framing, and a decoder that
// refuses every malformed buffer with its own error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { rtnl } from '../../src/sys/index.js';
import { C } from '../../src/sys/libc.js';
import { readHeaders } from './kernel-headers.js';

const {
  NL, STRUCTS, NLMSG_HDRLEN, NetlinkDecodeError, align4, attrTable, decodeAck, decodeAttrs, decodeMessages, decodeStruct, encodeAttrs, encodeRequests,
  encodeStruct, requestLength,
} = rtnl;

const headers = readHeaders([
  'linux/netlink.h', 'linux/rtnetlink.h', 'linux/fib_rules.h', 'linux/if_link.h', 'linux/if_addr.h', 'linux/neighbour.h', 'linux/if.h', 'linux/if_arp.h', 'linux/veth.h',
  'linux/if_ether.h', 'linux/pkt_sched.h', 'linux/pkt_cls.h', 'linux/tc_act/tc_mirred.h',
  '<arch>/bits/socket.h', '<arch>/bits/socket_type.h', 'linux/sched.h', '<arch>/sys/mount.h', 'linux/if_tun.h', 'linux/fcntl.h', 'asm-generic/fcntl.h',
  'asm-generic/errno-base.h', 'asm-generic/errno.h', 'spawn.h', '<arch>/bits/waitflags.h', '<arch>/bits/signum-generic.h', '<arch>/bits/signum-arch.h',
]);
type Name = keyof typeof STRUCTS;
const structNames = Object.keys(STRUCTS) as Name[];

test('every struct of the table is laid out as the kernel declares it: size, and each field\'s offset, size and sign; only pads (and reserved bytes) left out', () => {
  for (const name of structNames) {
    const k = headers.struct(name);
    assert.ok(k, `struct ${name} is in ${headers.files.join(', ')}`);
    const t = STRUCTS[name];
    assert.is(t.size, k!.size, `sizeof(struct ${name})`);
    const fields = t.fields as Record<string, readonly [number, string]>;
    for (const kf of k!.fields) {
      const f = fields[kf.name];
      // A trailing flexible array is its own struct of the table, written after this one.
      if (!f && kf.flexible) { assert.ok(kf.struct && kf.struct in STRUCTS, `struct ${name}: its flexible ${kf.name}[] is a struct of the table`); continue; }
      if (!f) { assert.match(kf.name, /pad|^res\d$/, `struct ${name}: ${kf.name} is left out of the table but is not a pad`); continue; }
      assert.is(f[0], kf.offset, `${name}.${kf.name} offset`);
      if (kf.struct) { assert.is(f[1], kf.struct, `${name}.${kf.name} is a struct ${kf.struct}`); continue; }
      assert.is(f[1], `${kf.bigEndian ? 'be' : kf.signed ? 's' : 'u'}${kf.size * 8}`, `${name}.${kf.name} type`);
    }
    for (const f of Object.keys(fields)) assert.ok(k!.fields.some((x) => x.name === f), `${name}.${f} is a field of the kernel's struct`);
  }
});

test('every number of the table, and the syscall constants netlink, namespaces and processes use, are the kernel\'s (and glibc\'s)', () => {
  const check = (name: string, v: number) => {
    const k = headers.constants.get(name);
    assert.ok(k, `${name} is defined in the headers`);
    assert.equal(k, [v], `${name}`);
  };
  for (const [name, v] of Object.entries(NL)) {
    // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER): an int in C, applied to the 16-bit nla_type.
    if (name === 'NLA_TYPE_MASK') assert.equal(headers.constants.get(name)!.map((k) => k & 0xffff), [v], name);
    else check(name, v);
  }
  for (const name of [
    'AF_NETLINK', 'SOCK_RAW', 'SOL_NETLINK', 'NETLINK_ROUTE', 'NETLINK_CAP_ACK', 'NETLINK_EXT_ACK', 'ENOBUFS', 'AT_FDCWD', 'O_RDONLY', 'O_RDWR', 'O_CREAT',
    'O_EXCL', 'O_CLOEXEC', 'CLONE_NEWNET', 'MS_BIND', 'MS_REC', 'MS_SHARED', 'MNT_DETACH', 'TUNSETIFF', 'TUNSETPERSIST', 'IFF_TAP', 'IFF_NO_PI', 'IFNAMSIZ',
    'POSIX_SPAWN_SETSIGDEF', 'POSIX_SPAWN_SETSIGMASK', 'WNOHANG', 'SIGKILL', 'SIGSTOP', 'O_NONBLOCK',
  ] as const) check(name, C[name]);
});

/** Any value of a field of type t. */
const fieldArb = (t: string): fc.Arbitrary<unknown> => t === 'u8' ? fc.integer({ min: 0, max: 0xff }) : t === 'u16' || t === 'be16' ? fc.integer({ min: 0, max: 0xffff })
  : t === 's16' ? fc.integer({ min: -0x8000, max: 0x7fff }) : t === 'u32' || t === 'be32' ? fc.integer({ min: 0, max: 0xffffffff })
    : t === 's32' ? fc.integer({ min: -0x80000000, max: 0x7fffffff }) : structArb(t as Name);
function structArb(name: Name): fc.Arbitrary<Record<string, unknown>> {
  const fields = STRUCTS[name].fields as Record<string, readonly [number, string]>;
  return fc.record(Object.fromEntries(Object.entries(fields).map(([f, [, t]]) => [f, fieldArb(t)])));
}
/** Reads struct `name` at `off` with the kernel's layout (not the table's). */
function readKernel(dv: DataView, off: number, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of headers.struct(name)!.fields) {
    if (f.flexible) continue;
    if (/pad|^res\d$/.test(f.name)) { assert.is(f.size === 1 ? dv.getUint8(off + f.offset) : dv.getUint16(off + f.offset, true), 0, `${name}.${f.name} is zero`); continue; }
    const at = off + f.offset;
    const le = !f.bigEndian;
    out[f.name] = f.struct ? readKernel(dv, at, f.struct) : f.size === 1 ? dv.getUint8(at)
      : f.size === 2 ? (f.signed ? dv.getInt16(at, le) : dv.getUint16(at, le)) : f.signed ? dv.getInt32(at, le) : dv.getUint32(at, le);
  }
  return out;
}

test('any value of any struct encodes to what the kernel\'s layout reads back, and decodes to itself', () => {
  for (const name of structNames) {
    fc.assert(fc.property(structArb(name), (v) => {
      const b = encodeStruct(name, v as never);
      assert.is(b.length, headers.struct(name)!.size);
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown; // fast-check's records have no prototype
      assert.equal(plain(readKernel(new DataView(b.buffer), 0, name)), plain(v), `${name} read with the kernel's offsets`);
      assert.equal(plain(decodeStruct(b, name)), plain(v), `${name} decoded`);
    }), { numRuns: 200 });
    assert.throws(() => decodeStruct(new Uint8Array(STRUCTS[name].size - 1), name), new RegExp(`${name}: ${STRUCTS[name].size - 1} bytes, needs ${STRUCTS[name].size}`));
  }
});

const SEQ = 1796293082;
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
/** struct nlmsghdr, as strace showed it: len, type, flags, seq, pid 0. */
function nlmsghdr(len: number, type: number, flags: number, seq = SEQ): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, len, true); dv.setUint16(4, type, true); dv.setUint16(6, flags, true); dv.setUint32(8, seq, true);
  return b;
}
const cat = (...xs: Uint8Array[]) => rtnl.concatBytes(...xs);
const eqBytes = (a: Uint8Array, b: Uint8Array, what: string) => assert.equal(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'), what);

test('requests are byte for byte what `ip` sends for the same command', () => {
  // ip link add tvhkav0 mtu 1400 type veth peer name veth1 mtu 1400 netns /var/run/netns/X (X open as fd 4)
  eqBytes(encodeRequests([rtnl.createVeth({ name: 'tvhkav0', mtu: 1400 }, { name: 'veth1', mtu: 1400, netnsFd: 4 })], SEQ), cat(
    nlmsghdr(116, 16, 0x605), new Uint8Array(16),
    hex('08000400 78050000'), hex('0c000300 7476686b61763000'),
    hex('40001200'), hex('08000100 76657468'), hex('34000200'),
    hex('30000100'), new Uint8Array(16), hex('08000400 78050000 08001c00 04000000 0a000300 7665746831000000'),
  ), 'veth pair');
  // ip addr add 10.1.1.7/32 dev veth1 (index 2)
  eqBytes(encodeRequests([rtnl.addAddress(2, '10.1.1.7/32')], SEQ),
    cat(nlmsghdr(40, 20, 0x605), hex('02200000 02000000 08000200 0a010107 08000100 0a010107')), 'address');
  // ip link set dev veth1 up
  eqBytes(encodeRequests([rtnl.setLink({ index: 2 }, { up: true })], SEQ),
    cat(nlmsghdr(32, 16, 0x5), hex('00000000 02000000 01000000 01000000')), 'link up');
  // ip route add 10.1.1.1 dev veth1 scope link
  eqBytes(encodeRequests([rtnl.addRoute({ dst: '10.1.1.1', oif: 2, scope: 'link' })], SEQ),
    cat(nlmsghdr(44, 24, 0x605), hex('02200000 fe03fd01 00000000 08000100 0a010101 08000400 02000000')), 'link route');
  // `ip route add` without a gateway defaults to scope link, as above
  eqBytes(encodeRequests([rtnl.addRoute({ dst: '10.1.1.1', oif: 2 })], SEQ), encodeRequests([rtnl.addRoute({ dst: '10.1.1.1', oif: 2, scope: 'link' })], SEQ), 'default scope');
  // ip route add default via 10.1.1.1 dev veth1
  eqBytes(encodeRequests([rtnl.addRoute({ dst: 'default', via: '10.1.1.1', oif: 2 })], SEQ),
    cat(nlmsghdr(44, 24, 0x605), hex('02000000 fe030001 00000000 08000500 0a010101 08000400 02000000')), 'default route');
  // ip route add 10.1.1.1 dev lo scope link table 100 (lo: index 1)
  eqBytes(encodeRequests([rtnl.addRoute({ dst: '10.1.1.1', oif: 1, scope: 'link', table: 100 })], SEQ),
    cat(nlmsghdr(44, 24, 0x605), hex('02200000 6403fd01 00000000 08000100 0a010101 08000400 01000000')), 'route in table 100');
  // ip route add 10.0.0.0/8 dev lo table 1000: a table above 255 goes in RTA_TABLE
  eqBytes(encodeRequests([rtnl.addRoute({ dst: '10.0.0.0/8', oif: 1, table: 1000 })], SEQ),
    cat(nlmsghdr(52, 24, 0x605), hex('02080000 0003fd01 00000000 08000100 0a000000 08000f00 e8030000 08000400 01000000')), 'route in table 1000');
  // ip route replace 10.1.2.0/24 via 192.168.50.2 src 192.168.50.1 dev v0 proto 116 (v0: index 3)
  eqBytes(encodeRequests([rtnl.replaceRoute({ dst: '10.1.2.0/24', via: '192.168.50.2', prefsrc: '192.168.50.1', oif: 3, protocol: 116 })], SEQ),
    cat(nlmsghdr(60, 24, 0x505), hex('02180000 fe740001 00000000 08000100 0a010200 08000500 c0a83202 08000700 c0a83201 08000400 03000000')), 'route replace');
  // ip route del 10.1.2.0/24 proto 116: any type and scope
  eqBytes(encodeRequests([rtnl.deleteRoute({ dst: '10.1.2.0/24', protocol: 116 })], SEQ),
    cat(nlmsghdr(36, 25, 0x5), hex('02180000 fe74ff00 00000000 08000100 0a010200')), 'route del by protocol');
  // ip addr del 192.168.50.1/24 dev v0
  eqBytes(encodeRequests([rtnl.deleteAddress(3, '192.168.50.1/24')], SEQ),
    cat(nlmsghdr(40, 21, 0x5), hex('02180000 03000000 08000200 c0a83201 08000100 c0a83201')), 'address del');
  // ip rule add from 10.1.1.7 lookup 100 priority 100
  eqBytes(encodeRequests([rtnl.addRule({ from: '10.1.1.7', table: 100, priority: 100 })], SEQ),
    cat(nlmsghdr(44, 32, 0x605), hex('02002000 64000001 00000000 08000200 0a010107 08000600 64000000')), 'rule');
  // ip neigh replace 10.1.1.1 lladdr 02:fe:00:00:00:01 dev veth1 nud permanent
  eqBytes(encodeRequests([rtnl.replaceNeighbor(2, '10.1.1.1', '02:fe:00:00:00:01')], SEQ + 1),
    cat(nlmsghdr(48, 28, 0x505, SEQ + 1), hex('02000000 02000000 80000000 08000100 0a010101 0a000200 02fe00000001 0000')), 'neighbour');
});

test('link groups and traffic control: byte for byte what `ip` and `tc` send', () => {
  // ip link add gh0 group 77 type veth peer name gp0 netns NS group 77 (NS open as fd 4)
  eqBytes(encodeRequests([rtnl.createVeth({ name: 'gh0', group: 77 }, { name: 'gp0', netnsFd: 4, group: 77 })], SEQ), cat(
    nlmsghdr(108, 16, 0x605), new Uint8Array(16), hex('08001b00 4d000000 08000300 67683000'),
    hex('3c001200 08000100 76657468 30000200 2c000100'), new Uint8Array(16), hex('08001c00 04000000 08001b00 4d000000 08000300 67703000'),
  ), 'veth pair in group 77');
  // ip link del group 77
  eqBytes(encodeRequests([rtnl.deleteLinkGroup(77)], SEQ), cat(nlmsghdr(40, 17, 0x5), new Uint8Array(16), hex('08001b00 4d000000')), 'delete group');
  for (const g of [0, -1, 1.5, 2 ** 32]) assert.throws(() => rtnl.deleteLinkGroup(g), new RegExp(`link group ${g}: must be an integer from 1`));
  assert.throws(() => rtnl.createVeth({ name: 'a', group: 0 }, { name: 'b' }), /link group 0/);
  // tc qdisc add dev xa clsact (xa: index 3)
  eqBytes(encodeRequests([rtnl.addClsact(3)], SEQ),
    cat(nlmsghdr(48, 36, 0x605), hex('00000000 03000000 0000ffff f1ffffff 00000000 0b000100 636c7361 63740000')), 'clsact qdisc');
  // tc filter add dev xa ingress u32 match u32 0 0 action mirred egress redirect dev pa (pa: index 5)
  eqBytes(encodeRequests([rtnl.addIngressRedirect(3, 5)], SEQ), cat(
    nlmsghdr(140, 44, 0x605), hex('00000000 03000000 00000000 f2ffffff 00030000 08000100 75333200 60000200'),
    // TCA_U32_ACT { 1 { TCA_ACT_KIND "mirred", TCA_ACT_OPTIONS (nested) { TCA_MIRRED_PARMS tc_mirred } } }
    hex('38000700 34000100 0b000100 6d697272 65640000 24000280 20000200'), hex('00000000 00000000 04000000 00000000 00000000 01000000 05000000'),
    // TCA_U32_SEL: terminal, one key; the key: mask 0, value 0 at offset 0
    hex('24000500 01000100 00000000 00000000 00000000'), new Uint8Array(16),
  ), 'ingress u32 redirect');
  // tc filter del dev xa ingress; tc filter show dev xa ingress
  eqBytes(encodeRequests([rtnl.deleteIngressFilters(3)], SEQ), cat(nlmsghdr(36, 45, 0x5), hex('00000000 03000000 00000000 f2ffffff 00000000')), 'delete ingress filters');
  eqBytes(encodeRequests([rtnl.dumpIngressFilters(3)], SEQ), cat(nlmsghdr(36, 46, 0x301), hex('00000000 03000000 00000000 f2ffffff 00000000')), 'dump ingress filters');
  for (const bad of [0, -1, 1.5]) {
    assert.throws(() => rtnl.addClsact(bad), new RegExp(`interface index ${bad}: must be a positive integer`));
    assert.throws(() => rtnl.addIngressRedirect(3, bad), new RegExp(`redirect target index ${bad}: must be a positive integer`));
  }
});

test('filter dumps parse: priority, protocol, kind and the mirred actions of a u32 key node', () => {
  // The key node 800::800 of the filter above, as the kernel dumps it (with attributes the parser skips).
  const key = cat(encodeStruct('tcmsg', { tcm_ifindex: 3, tcm_handle: 0x80000800, tcm_parent: 0xfffffff2, tcm_info: (49152 << 16) | 0x0300 }), encodeAttrs([
    { type: NL.TCA_KIND, value: rtnl.cstring('u32') },
    { type: 5 /* TCA_CHAIN */, value: rtnl.u32(0) },
    {
      type: NL.TCA_OPTIONS | NL.NLA_F_NESTED, value: [
        { type: NL.TCA_U32_SEL, value: cat(encodeStruct('tc_u32_sel', { flags: 1, nkeys: 1 }), encodeStruct('tc_u32_key', {})) },
        { type: NL.TCA_U32_ACT | NL.NLA_F_NESTED, value: [
          { type: 1, value: [{ type: NL.TCA_ACT_KIND, value: rtnl.cstring('gact') }] },
          { type: 2, value: [
            { type: NL.TCA_ACT_KIND, value: rtnl.cstring('mirred') },
            { type: NL.TCA_ACT_OPTIONS | NL.NLA_F_NESTED, value: [
              { type: 1 /* TCA_MIRRED_TM */, value: new Uint8Array(32) },
              { type: NL.TCA_MIRRED_PARMS, value: encodeStruct('tc_mirred', { index: 3, refcnt: 1, bindcnt: 1, action: 4, eaction: 1, ifindex: 9 }) },
            ] },
          ] },
        ] },
      ],
    },
  ]));
  assert.equal(rtnl.parseFilter(key), { ifindex: 3, parent: 0xfffffff2, handle: 0x80000800, prio: 49152, protocol: NL.ETH_P_ALL, kind: 'u32', mirred: [{ eaction: 1, ifindex: 9 }] });
  // The filter's own node (no options) and its hash table node carry no action.
  assert.equal(rtnl.parseFilter(cat(encodeStruct('tcmsg', { tcm_ifindex: 3, tcm_parent: 0xfffffff2, tcm_info: (49152 << 16) | 0x0300 }), encodeAttrs([
    { type: NL.TCA_KIND, value: rtnl.cstring('u32') },
  ]))).mirred, []);
  assert.throws(() => rtnl.parseFilter(new Uint8Array(19)), /RTM_NEWTFILTER: 19 bytes, needs 20/);
  const noParms = cat(encodeStruct('tcmsg', { tcm_ifindex: 3 }), encodeAttrs([{ type: NL.TCA_KIND, value: rtnl.cstring('u32') }, { type: NL.TCA_OPTIONS, value: [
    { type: NL.TCA_U32_ACT, value: [{ type: 1, value: [{ type: NL.TCA_ACT_KIND, value: rtnl.cstring('mirred') }] }] },
  ] }]));
  assert.throws(() => rtnl.parseFilter(noParms), /mirred action 1 has no TCA_MIRRED_PARMS/);
  // IFLA_GROUP of a link
  const link = cat(encodeStruct('ifinfomsg', { ifi_index: 7 }), encodeAttrs([{ type: NL.IFLA_IFNAME, value: rtnl.cstring('eth0') }, { type: NL.IFLA_GROUP, value: rtnl.u32(77) }]));
  assert.is(rtnl.parseLink(link).group, 77);
});

test('VXLAN device and its forwarding entries: the attributes the kernel reads, in their byte orders; a VXLAN link parsed back', () => {
  // ip link add vx0 address 02:01:0a:01:01:00 type vxlan id 1 dev <3> local 192.168.61.1 nolearning dstport 4789
  const req = rtnl.createVxlan({ name: 'vx0', vni: 1, port: 4789, local: '192.168.61.1', link: 3, address: '02:01:0a:01:01:00' });
  eqBytes(encodeRequests([req], SEQ), cat(
    nlmsghdr(112, 16, 0x605), new Uint8Array(16), hex('0a000100 02010a01 01000000 08000300 76783000'),
    // IFLA_LINKINFO { KIND "vxlan" (no NUL, as iproute2), DATA { ID 1, LINK 3, LOCAL 192.168.61.1, LEARNING 0, PORT 4789 big endian } }
    hex('3c001200 09000100 76786c61 6e000000 2c000200'), hex('08000100 01000000 08000300 03000000 08000400 c0a83d01 05000700 00000000 06000f00 12b50000'),
  ), 'vxlan device');
  for (const vni of [0, 1 << 24, 1.5]) assert.throws(() => rtnl.createVxlan({ name: 'v', vni, port: 4789, local: '1.2.3.4', address: '02:00:00:00:00:01' }), /VNI .* must be an integer from 1 to 16777215/);
  assert.throws(() => rtnl.createVxlan({ name: 'v', vni: 1, port: 0, local: '1.2.3.4', address: '02:00:00:00:00:01' }), /port 0 must be an integer from 1 to 65535/);
  // bridge fdb replace 02:01:0a:01:02:00 dev <9> dst 192.168.62.1 self permanent
  eqBytes(encodeRequests([rtnl.replaceFdb(9, '02:01:0a:01:02:00', '192.168.62.1')], SEQ), cat(
    nlmsghdr(48, 28, 0x505), hex('07000000 09000000 80000200'), hex('0a000200 02010a01 02000000 08000100 c0a83e01'),
  ), 'fdb entry');
  eqBytes(encodeRequests([rtnl.deleteFdb(9, '02:01:0a:01:02:00', '192.168.62.1')], SEQ), cat(
    nlmsghdr(48, 29, 0x5), hex('07000000 09000000 00000200'), hex('0a000200 02010a01 02000000 08000100 c0a83e01'),
  ), 'fdb delete');
  eqBytes(encodeRequests([rtnl.deleteNeighbor(9, '10.1.2.0')], SEQ), cat(nlmsghdr(36, 29, 0x5), hex('02000000 09000000 00000000'), hex('08000100 0a010200')), 'neighbour delete');
  // The kernel's answer for such a device, and one for an entry.
  const answer = cat(encodeStruct('ifinfomsg', { ifi_index: 12 }), encodeAttrs([{ type: NL.IFLA_IFNAME, value: rtnl.cstring('vx0') }, ...req.attrs.slice(2)]));
  assert.equal(rtnl.parseLink(answer).vxlan, { vni: 1, port: 4789, learning: false, local: '192.168.61.1', link: 3 });
  const fdb = cat(encodeStruct('ndmsg', { ndm_family: NL.AF_BRIDGE, ndm_ifindex: 9, ndm_state: NL.NUD_PERMANENT, ndm_flags: NL.NTF_SELF }), encodeAttrs(rtnl.replaceFdb(9, '02:01:0a:01:02:00', '192.168.62.1').attrs));
  assert.equal(rtnl.parseNeighbor(fdb), { family: NL.AF_BRIDGE, ifindex: 9, state: NL.NUD_PERMANENT, flags: NL.NTF_SELF, dst: '192.168.62.1', lladdr: '02:01:0a:01:02:00' });
});

test('a batch is the requests back to back, numbered from the first sequence number', () => {
  const reqs = [rtnl.setLink({ index: 2 }, { up: true }), rtnl.addAddress(2, '10.1.1.7/32'), rtnl.deleteLink({ name: 'x' })];
  const b = encodeRequests(reqs, 0xfffffffe);
  const ms = decodeMessages(b);
  assert.equal(ms.map((m) => m.seq), [0xfffffffe, 0xffffffff, 0], 'sequence numbers wrap at 2^32');
  assert.equal(ms.map((m) => m.type), [16, 20, 17]);
  assert.is(b.length, reqs.reduce((n, r) => n + requestLength(r), 0));
});

// Arbitrary attribute trees: leaves of any bytes (length 0..40), nests up to depth 3.
type Tree = { type: number; value: Uint8Array | Tree[] };
const leaf = fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }) });
const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.oneof({ maxDepth: 3, depthIdentifier: 'tree' }, leaf, fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), value: fc.array(tie('node'), { maxLength: 4 }) })),
})).node;

function decodeTree(bytes: Uint8Array, like: Tree[]): Tree[] {
  const attrs = decodeAttrs(bytes);
  return attrs.map((a, i) => {
    const want = like[i];
    return { type: a.type, value: want && !(want.value instanceof Uint8Array) ? decodeTree(a.value, want.value) : a.value.slice() };
  });
}
const norm = (ts: Tree[]): unknown => ts.map((t) => ({ type: t.type, value: t.value instanceof Uint8Array ? [...t.value] : norm(t.value) }));

test('framing round trip: any header and attribute tree comes back as it went, 4-byte aligned with zero padding', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }),
    fc.uint8Array({ maxLength: 20 }), fc.array(tree, { maxLength: 5 }),
    (type, flags, seq, header, attrs) => {
      const b = encodeRequests([{ type, flags, header, attrs }], seq);
      assert.is(b.length % 4, 0);
      const [m, ...rest] = decodeMessages(b);
      assert.equal(rest, []);
      assert.equal([m!.type, m!.flags, m!.seq, m!.pid], [type, flags, seq, 0]);
      assert.equal([...m!.payload.subarray(0, header.length)], [...header]);
      assert.ok(m!.payload.subarray(header.length, align4(header.length)).every((x) => x === 0), 'header padding is zero');
      const body = m!.payload.subarray(align4(header.length));
      assert.equal(norm(decodeTree(body, attrs)), norm(attrs));
      eqBytes(body, encodeAttrs(attrs), 'encodeAttrs is the attribute part of a request');
      // Every leaf's pad bytes are zero: re-encoding what was decoded gives the same bytes.
      eqBytes(encodeAttrs(decodeTree(body, attrs)), body, 're-encode');
    },
  ));
});

test('decoding arbitrary bytes either works within the buffer or throws NetlinkDecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    try {
      for (const m of decodeMessages(bytes)) {
        assert.ok(m.payload.byteOffset >= bytes.byteOffset && m.payload.byteOffset + m.payload.length <= bytes.byteOffset + bytes.length);
        try { decodeAttrs(m.payload); } catch (e) { assert.instance(e, NetlinkDecodeError); }
      }
    } catch (e) {
      assert.instance(e, NetlinkDecodeError);
    }
  }));
});

test('a buffer cut anywhere inside a message is refused, naming the message', () => {
  const b = encodeRequests([rtnl.createVeth({ name: 'a' }, { name: 'b' }), rtnl.addAddress(3, '10.0.0.1/24')], 7);
  const first = requestLength(rtnl.createVeth({ name: 'a' }, { name: 'b' }));
  for (let cut = 1; cut < b.length; cut++) {
    if (cut === first) { assert.is(decodeMessages(b.subarray(0, cut)).length, 1); continue; }
    assert.throws(() => decodeMessages(b.subarray(0, cut)), (e: unknown) => e instanceof NetlinkDecodeError && /netlink message at byte (0|\d+)/.test((e as Error).message));
  }
  const short = new Uint8Array(b);
  new DataView(short.buffer).setUint32(0, 8, true);
  assert.throws(() => decodeMessages(short), /nlmsg_len 8 is shorter than its header/);
  assert.throws(() => decodeAttrs(hex('02000300')), /nla_len 2 is shorter than its header/);
  assert.throws(() => decodeAttrs(hex('09000300 00000000')), /attribute 3 at byte 0: nla_len 9 runs past the 8-byte payload/);
});

test('an NLMSG_ERROR: errno, the request it answers, and the extended ack (capped or echoing the request)', () => {
  const req = encodeRequests([rtnl.addAddress(2, '10.1.1.7/32')], 99);
  const tlvs = encodeAttrs([{ type: NL.NLMSGERR_ATTR_MSG, value: rtnl.cstring('ipv4: Address already assigned') }, { type: NL.NLMSGERR_ATTR_OFFS, value: rtnl.u32(24) }]);
  const errno = new Uint8Array(4);
  new DataView(errno.buffer).setInt32(0, -17, true);
  // NETLINK_CAP_ACK: only the request's header is echoed.
  const capped = decodeAck(cat(errno, req.subarray(0, NLMSG_HDRLEN), tlvs), NL.NLM_F_CAPPED | NL.NLM_F_ACK_TLVS);
  assert.equal(capped, { error: -17, request: { len: 40, type: 20, flags: 0x605, seq: 99, pid: 0 }, message: 'ipv4: Address already assigned', offset: 24 });
  // Without it the whole request comes back before the TLVs.
  assert.equal(decodeAck(cat(errno, req, tlvs), NL.NLM_F_ACK_TLVS), capped);
  // A plain ack.
  assert.equal(decodeAck(cat(new Uint8Array(4), req.subarray(0, 16)), NL.NLM_F_CAPPED), { error: 0, request: { len: 40, type: 20, flags: 0x605, seq: 99, pid: 0 } });
  assert.throws(() => decodeAck(new Uint8Array(19), 0), /NLMSG_ERROR payload: 19 bytes, needs 20/);
  assert.throws(() => decodeAck(cat(errno, req.subarray(0, 16)), NL.NLM_F_ACK_TLVS), /echoed request of 40 bytes runs past/);
});

test('answers parse into links, addresses and routes', () => {
  const link = cat(encodeStruct('ifinfomsg', { ifi_type: 1, ifi_index: 7, ifi_flags: 0x11043 }), encodeAttrs([
    { type: NL.IFLA_IFNAME, value: rtnl.cstring('eth0') }, { type: NL.IFLA_MTU, value: rtnl.u32(1450) },
    { type: NL.IFLA_OPERSTATE, value: rtnl.u8(6) }, { type: NL.IFLA_ADDRESS, value: hex('02fe0a0b0c0d') },
    { type: NL.IFLA_LINKINFO | NL.NLA_F_NESTED, value: [{ type: NL.IFLA_INFO_KIND, value: rtnl.cstring('veth') }] },
  ]));
  const l = rtnl.parseLink(link);
  assert.equal(l, { index: 7, name: 'eth0', flags: 0x11043, type: 1, mtu: 1450, operstate: 6, address: '02:fe:0a:0b:0c:0d', kind: 'veth' });
  assert.equal(rtnl.linkFlagNames(l.flags), ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
  assert.equal(rtnl.linkFlagNames(0x1003), ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
  assert.is(rtnl.operstateName(l.operstate!), 'UP');
  assert.throws(() => rtnl.parseLink(encodeStruct('ifinfomsg', { ifi_type: 1, ifi_index: 3 })), /RTM_NEWLINK for index 3 has no IFLA_IFNAME/);

  const addr = cat(encodeStruct('ifaddrmsg', { ifa_family: 10, ifa_prefixlen: 64, ifa_flags: 0x80, ifa_scope: 253, ifa_index: 7 }), encodeAttrs([
    { type: NL.IFA_ADDRESS, value: hex('fe800000000000000cf788fffe58cb23') }, { type: NL.IFA_FLAGS, value: rtnl.u32(0x280) },
  ]));
  assert.equal(rtnl.parseAddress(addr), { family: 10, prefixLen: 64, scope: 253, index: 7, flags: 0x280, address: 'fe80::cf7:88ff:fe58:cb23', local: 'fe80::cf7:88ff:fe58:cb23' });

  const route = cat(encodeStruct('rtmsg', { rtm_family: 2, rtm_dst_len: 16, rtm_table: 252, rtm_protocol: 3, rtm_type: 1, rtm_flags: 4 }), encodeAttrs([
    { type: NL.RTA_TABLE, value: rtnl.u32(1000) }, { type: NL.RTA_DST, value: hex('0a020000') }, { type: NL.RTA_GATEWAY, value: hex('0a000001') }, { type: NL.RTA_OIF, value: rtnl.u32(7) },
  ]));
  assert.equal(rtnl.parseRoute(route), { family: 2, dstLen: 16, table: 1000, protocol: 3, scope: 0, type: 1, flags: 4, dst: '10.2.0.0', gateway: '10.0.0.1', oif: 7 });
  assert.throws(() => rtnl.parseRoute(cat(encodeStruct('rtmsg', { rtm_family: 2, rtm_table: 254, rtm_protocol: 3, rtm_type: 1 }), encodeAttrs([{ type: NL.RTA_OIF, value: hex('0700') }]))), /RTA_OIF: 2 bytes, needs 4/);
  // The last of a repeated attribute wins, as in the kernel's nla_parse.
  assert.equal([...attrTable(encodeAttrs([{ type: 3, value: rtnl.u8(1) }, { type: 3, value: rtnl.u8(2) }])).get(3)!], [2]);
});

test('addresses: IPv4 text both ways, prefixes, MACs; bad text is refused with the text', () => {
  fc.assert(fc.property(fc.ipV4(), (a) => { assert.is(rtnl.formatIp(rtnl.ipv4Bytes(a)), a); }));
  for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', '', 'a.b.c.d']) {
    assert.throws(() => rtnl.ipv4Bytes(bad), new RegExp(`${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not an IPv4 address`));
  }
  assert.equal(rtnl.ipv4Prefix('default'), { addr: new Uint8Array(4), len: 0 });
  assert.equal(rtnl.ipv4Prefix('10.1.2.3'), { addr: Uint8Array.of(10, 1, 2, 3), len: 32 });
  assert.equal(rtnl.ipv4Prefix('10.1.0.0/16').len, 16);
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/1/2']) assert.throws(() => rtnl.ipv4Prefix(bad), /is not an IPv4 prefix/);
  assert.equal([...rtnl.macBytes('02:FE:00:0a:0B:01')], [2, 0xfe, 0, 10, 11, 1]);
  assert.throws(() => rtnl.macBytes('02:fe:00:00:00'), /is not a MAC address/);
  assert.is(rtnl.formatMac(hex('02fe0000000a')), '02:fe:00:00:00:0a');
});

test('IPv6 text is what inet_ntop (and so `ip`) prints', () => {
  // The WHATWG URL serializer follows the same RFC 5952 rules outside the dotted IPv4 forms.
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (b, zeros) => {
    const a = b.map((x, i) => (zeros[i]! < 128 ? 0 : x)); // plenty of zero runs
    if (a.subarray(0, 10).every((x) => x === 0)) return; // the dotted forms: below
    assert.is(rtnl.formatIp(a), new URL(`http://[${rtnl.formatIp(a)}]/`).hostname.slice(1, -1));
    const groups = Array.from({ length: 8 }, (_, i) => ((a[2 * i]! << 8) | a[2 * i + 1]!).toString(16)).join(':');
    assert.is(rtnl.formatIp(a), new URL(`http://[${groups}]/`).hostname.slice(1, -1));
  }));
  const v6 = (s: string) => rtnl.formatIp(hex(s));
  assert.is(v6('00000000000000000000000000000000'), '::');
  assert.is(v6('00000000000000000000000000000001'), '::1');
  assert.is(v6('00000000000000000000ffff0a010107'), '::ffff:10.1.1.7');
  assert.is(v6('0000000000000000000000000a010107'), '::10.1.1.7');
  assert.is(v6('20010db8000000010000000000000001'), '2001:db8:0:1::1');
  assert.is(v6('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
  assert.throws(() => rtnl.formatIp(new Uint8Array(5)), /4 or 16 bytes, got 5/);
});

test('interface names and strings are refused when the kernel would refuse them', () => {
  assert.throws(() => rtnl.createVeth({ name: '' }, { name: 'b' }), /interface name "": must be 1 to 15 bytes/);
  assert.throws(() => rtnl.createVeth({ name: 'a'.repeat(16) }, { name: 'b' }), /must be 1 to 15 bytes/);
  assert.throws(() => rtnl.deleteLink({ name: 'a/b' }), /without '\/', ':' or white space/);
  assert.throws(() => rtnl.deleteLink({ name: 'a b' }), /white space/);
  assert.throws(() => rtnl.cstring('a\0b'), /contains a NUL byte/);
  assert.throws(() => rtnl.setLink({ name: 'a' }, { name: 'b' }), /renaming a to b: give the link by index/);
  assert.throws(() => encodeRequests([{ type: 1, flags: 0, header: new Uint8Array(0), attrs: [{ type: 1, value: new Uint8Array(0x10000) }] }], 0), /nla_len is 16 bits/);
  assert.ok(rtnl.deleteLink({ name: 'a'.repeat(15) }));
});

test.run();
