// memif: a VPP-side master memif (ethernet mode) on one socket per pod; the pod's application (or
// its vpp-agent / tsvpp memif-agent, configured through etcd) owns the slave end. With the device
// plugin the socket is in the host dir kubelet mounts into the pod, with that allocation's secret;
// without it, in a dir of the agent's own with a random secret. The pod's memifs differ by id
// (1, 2, … in annotation order).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CUSTOM_IF_ANNOTATION } from '../../annotations.js';
import { randomMac } from '../../mac.js';
import { CniError, ErrorCode } from '../../spec.cjs';
import { randomMemifSecret, SOCKET_NAME } from '../../deviceplugin/allocations.js';
import { MemifAllocationError, type PodMemif } from '../../podresources/memif-source.js';
import { PodResourcesError } from '../../podresources/client.js';
import { vnfArpKey, vnfInterfaceKey, vnfMemifInterface, vnfRouteKey, type VnfArpEntry, type VnfRoute } from '../../etcd/vnf-config.js';
import { isGone, makeSocketDir, SocketDirError } from '../socket-dir.js';
import type { PodRecord } from '../state.js';
import { deleteUntagged, findResource, podInterface, unlessGone, type InterfaceKind, type KindContext, type VppIfRecord } from './kind.js';

export type MemifResource =
  | { kind: 'memif-socket'; socketId: number; filename: string; dir: string }
  | ({ kind: 'memif'; id: number } & VppIfRecord);

/** VPP names a memif `memif<socket-id>/<id>`. */
const vppName = (socketId: number) => `memif${socketId}/`;

export const memif: InterfaceKind<MemifResource> = {
  podEnd: 'none',

  async begin(c, pod, ifs) {
    // The device plugin's allocation, found before anything is created.
    let pm: PodMemif | undefined;
    if (pod && c.d.memifs) {
      try { pm = await c.d.memifs.forPod(pod.namespace, pod.name); } catch (e) {
        if (e instanceof MemifAllocationError) throw new CniError(ErrorCode.PodMetadata, 'no memif device allocated to the pod', `${CUSTOM_IF_ANNOTATION}: memif interface(s) ${ifs.map((i) => i.name).join(', ')}, but ${e.message}`);
        if (e instanceof PodResourcesError) throw new CniError(ErrorCode.PodMetadata, 'cannot read pod resources from kubelet', e.message);
        throw e;
      }
    }
    // The agent configures the pod side (etcd): it picks the pod end's MAC, for VPP's neighbour.
    const podSide = pod !== undefined && pm !== undefined && c.d.vnfConfig !== undefined && ifs.length > 0;
    return {
      async create(rec, st, tag) {
        const sock = findResource(rec, 'memif-socket') ?? await addSocket(c, rec, pm);
        const id = rec.interfaces.filter((i) => i.type === 'memif').indexOf(st) + 1; // 1, 2, … in the pod's order
        const secret = pm ? pm.allocation.secret : randomMemifSecret();
        const vppMac = randomMac();
        const m = await c.d.vswitch.createMemif({ socketId: sock.socketId, id, secret, tag, mac: vppMac });
        await c.record(rec, { kind: 'memif', ifName: st.name, swIfIndex: m.swIfIndex, tag, id });
        st.memif = { id, socket: sock.filename, secret, vppMac, ...(podSide && rec.microserviceLabel ? { mac: randomMac() } : {}) };
        return m;
      },
      async finish(rec) {
        if (rec.microserviceLabel && pm) await writeVnfConfig(c, rec, pm);
      },
    };
  },

  resources: {
    'memif-socket': {
      async undo(c, _rec, r) {
        await unlessGone(c.d.vswitch.deleteMemifSocket(r.socketId));
        await rm(r.dir, { recursive: true, force: true }).catch((e) => { if (!isGone(e)) throw e; });
      },
      // memifs are tagged after they are created; deleted before the socket (in use otherwise).
      untagged: (c, rec, r, dump) => deleteUntagged(c, rec, dump, (name) => name.startsWith(vppName(r.socketId)), (i) => c.d.vswitch.deleteMemif(i.swIfIndex)),
    },
    memif: { undo: (c, _rec, r) => c.d.vswitch.deleteMemif(r.swIfIndex) },
  },

  // A memif socket is gone with VPP when every memif on it is.
  async beforeRecreate(c, rec, lost) {
    const sock = findResource(rec, 'memif-socket');
    if (!sock || !rec.resources.every((r) => r.kind !== 'memif' || lost.some((l) => l.swIfIndex === r.swIfIndex))) return;
    await makeSocketDir(sock.dir);
    await c.d.vswitch.addMemifSocket({ socketId: sock.socketId, filename: sock.filename });
  },

  async recreate(c, rec, st, tag) {
    const sock = findResource(rec, 'memif-socket');
    if (!sock || !st.memif) throw new Error(`${st.name}: no memif socket recorded`);
    return c.d.vswitch.createMemif({ socketId: sock.socketId, id: st.memif.id, secret: st.memif.secret, tag, ...(st.memif.vppMac ? { mac: st.memif.vppMac } : {}) });
  },

  podMac: (st) => st.memif?.mac,

  ownsVppName: (name) => name.startsWith('memif'),
  deleteOrphan: (c, i) => c.d.vswitch.deleteMemif(i.swIfIndex),
  result: (rec, st) => [podInterface(rec, st, memif.podEnd)],
};

/** The longest socket path VPP binds: clib_socket_init refuses one whose length with its NUL is
 *  over sizeof(sun_path) - 1 = 107. */
const UNIX_PATH_MAX = 106;
/** The longest memifSocketDir for which `<dir>/<64-character sandbox id>/memif.sock` fits. */
export const MEMIF_SOCKET_DIR_MAX_BYTES = UNIX_PATH_MAX - 1 - 64 - 1 - SOCKET_NAME.length;

/** The pod's memif socket: the device plugin's dir (mounted at /run/vpp in the pod) or one of the agent's. */
async function addSocket(c: KindContext, rec: PodRecord, pm: PodMemif | undefined) {
  const node = await c.d.store.loadNode();
  const socketId = node.nextMemifSocketId++;
  await c.d.store.saveNode(node);
  const dir = pm ? pm.allocation.hostDir : join(c.d.config.memifSocketDir, rec.containerId);
  const filename = pm ? pm.allocation.hostSocket : join(dir, SOCKET_NAME);
  const bytes = Buffer.byteLength(filename);
  if (bytes > UNIX_PATH_MAX) {
    // VPP would fail memif_create with only "System call error #4".
    throw new CniError(ErrorCode.Wiring, 'the pod\'s memif socket path is too long for a unix socket; everything was rolled back',
      `${filename} is ${bytes} bytes, a unix socket path at most ${UNIX_PATH_MAX}: set the agent's memifSocketDir (${c.d.config.memifSocketDir}) ` +
      `to a directory of at most ${MEMIF_SOCKET_DIR_MAX_BYTES} bytes (runtimes' sandbox ids are 64 characters)`);
  }
  const sock = { kind: 'memif-socket', socketId, filename, dir } as const;
  await c.record(rec, sock);
  try { await makeSocketDir(dir); } catch (e) { // again after a DEL of an earlier sandbox
    if (e instanceof SocketDirError) throw new CniError(ErrorCode.Wiring, 'cannot create the pod\'s memif socket directory; everything was rolled back', `${e.message} (agent memifSocketDir ${c.d.config.memifSocketDir})`);
    throw e;
  }
  await c.d.vswitch.addMemifSocket({ socketId, filename });
  return sock;
}

/**
 * The pod-side config for the pod's vpp-agent (or tsvpp memif-agent), per memif: the interface
 * (slave, the pod end's MAC, its address), and on a routed network what IP traffic needs: the
 * gateway's static ARP entry (the VPP-side memif's MAC) and the route through the gateway to the
 * network (default network: the cluster's pod subnet; L3 network: its subnetCIDR).
 */
async function writeVnfConfig(c: KindContext, rec: PodRecord, pm: PodMemif): Promise<void> {
  if (!c.d.vnfConfig) { c.log(`${rec.containerId}: microservice label ${rec.microserviceLabel} but no etcd configured; pod-side config not written`); return; }
  const label = rec.microserviceLabel!;
  const networks = (await c.d.store.loadNode()).networks;
  for (const st of rec.interfaces) {
    if (st.type !== 'memif' || !st.memif) continue;
    const value = vnfMemifInterface({
      name: st.name, id: st.memif.id, socketFilename: pm.podSocket, secret: st.memif.secret,
      ...(st.memif.mac ? { mac: st.memif.mac } : {}), ...(st.address ? { ipAddresses: [st.address] } : {}),
    });
    await c.writeEtcdKey(rec, vnfInterfaceKey(label, st.name), JSON.stringify(value));
    if (!st.address || !st.gateway || !st.memif.vppMac) continue; // L2 or stub: the pod addresses it
    const gw = st.gateway.split('/')[0]!;
    const arp: VnfArpEntry = { interface: st.name, ip_address: gw, phys_address: st.memif.vppMac, static: true };
    await c.writeEtcdKey(rec, vnfArpKey(label, arp), JSON.stringify(arp));
    const net = networks[st.network];
    const dst = net?.kind === 'L3' ? net.subnetCIDR : net?.kind === 'default' ? c.d.config.podSubnet : undefined;
    if (!dst) continue;
    const route: VnfRoute = { dst_network: dst, next_hop_addr: gw, outgoing_interface: st.name };
    await c.writeEtcdKey(rec, vnfRouteKey(label, route), JSON.stringify(route));
  }
}
