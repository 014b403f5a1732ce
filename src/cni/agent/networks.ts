// The node's side of each pod network: the VPP objects a network needs on this node (a gateway
// loopback, a VRF or a bridge domain), created on first use and remembered in the node state, and
// the IPAM range pods of that network get their addresses from. L2 and L3 CustomNetworks also get
// a VNI and a bridge domain for their VXLAN segment between the nodes (src/cni/cluster).
import { DEFAULT_NETWORK } from '../annotations.js';
import { exhaustive } from '../exhaustive.js';
import type { IpamRange } from '../ipam.js';
import { formatPrefix4, hostRange4, parsePrefix4, slice4 } from '../ipv4.js';
import type { CustomNetwork } from '../pods/types.js';
import type { AgentConfig } from './config.js';
import type { NodeIdentity } from '../nodes/identity.js';
import type { NetworkState, NodeState, StateStore } from './state.js';
import { NET_TAG_PREFIX, type Vswitch, type VswitchInterface } from './vswitch.js';
import { gatewayMac, networkVni } from '../cluster/plan.js';

/** What the networks need of the node's identity: its pod slice and that slice's index. */
export type NodeSlice = Pick<NodeIdentity, 'podSubnet' | 'sliceIndex'>;

export class Networks {
  constructor(private readonly d: {
    config: AgentConfig; node: NodeSlice; vswitch: Vswitch; store: StateStore; log: (msg: string) => void;
    /** After a network was created: its paths to the other nodes (the cluster reconciler). */
    networkCreated?: (net: NetworkState) => Promise<void>;
  }) {}

  private rangeOf(network: string, subnet: string): IpamRange {
    return { network, subnet, ...hostRange4(parsePrefix4(subnet)) };
  }

  /** The default network's range (the node's slice of the pod subnet). */
  defaultRange(): IpamRange {
    return this.rangeOf(DEFAULT_NETWORK, this.d.node.podSubnet);
  }

  /** The range of an addressed network (default or L3): the node's slice. */
  rangeFor(net: NetworkState): IpamRange {
    return net.name === DEFAULT_NETWORK ? this.defaultRange() : this.rangeOf(net.name, net.nodeSubnet!);
  }

  /** The range a lease of `network` came from; undefined when the node no longer knows the network. */
  range(network: string, node: NodeState): IpamRange | undefined {
    if (network === DEFAULT_NETWORK) return this.defaultRange();
    const net = node.networks[network];
    return net ? this.rangeFor(net) : undefined;
  }

  /** The network's VPP objects on this node, created on first use. */
  async ensure(name: string, cn: CustomNetwork | undefined): Promise<NetworkState> {
    const node = await this.d.store.loadNode();
    const have = node.networks[name];
    if (have) return have;
    const vs = this.d.vswitch;
    const undo: Array<() => Promise<void>> = [];
    try {
      let net: NetworkState;
      const kind = name === DEFAULT_NETWORK ? 'default' : cn?.type;
      // CustomNetworks get a VXLAN segment between the nodes (src/cni/cluster): a VNI from the name.
      const vni = kind === 'default' ? undefined : networkVni(name);
      const clash = Object.values(node.networks).find((n) => vni !== undefined && n.vni === vni);
      if (clash) throw new Error(`CustomNetworks ${clash.name} and ${name} get the same VXLAN VNI ${vni} (a hash of the name): rename one`);
      switch (kind) {
        case 'default': case 'L3': {
          // An L3 network's slice has the index of the node's pod slice: unique per node as that is.
          const nodeSubnet = kind === 'default' ? this.d.node.podSubnet
            : formatPrefix4(slice4(parsePrefix4(cn!.subnetCIDR!), cn!.subnetOneNodePrefixLen!, this.d.node.sliceIndex));
          const vrfId = kind === 'default' ? 0 : node.nextVrfId++;
          if (vrfId !== 0) { await vs.addVrf(vrfId, `tsvpp-${name}`); undo.push(() => vs.deleteVrf(vrfId)); }
          // An L3 network's gateway loopback is also the BVI of its segment between nodes, with the
          // whole subnetCIDR: the other nodes' gateways are on its link, their slices routed via them.
          const bdId = kind === 'L3' ? node.nextBdId++ : undefined;
          if (bdId !== undefined) { await vs.addBridgeDomain(bdId); undo.push(() => vs.deleteBridgeDomain(bdId)); }
          const gwIp = hostRange4(parsePrefix4(nodeSubnet)).gateway;
          // A BVI's MAC must differ from the other nodes' (VPP's own loopback MACs repeat from node to node).
          const loop = await vs.createLoopback({ tag: `${NET_TAG_PREFIX}${name}`, mac: gatewayMac(gwIp) });
          undo.push(() => vs.deleteLoopback(loop.swIfIndex));
          if (vrfId !== 0) await vs.setInterfaceVrf(loop.swIfIndex, vrfId);
          const gw = `${gwIp}/${(kind === 'L3' ? cn!.subnetCIDR! : nodeSubnet).split('/')[1]}`;
          await vs.addInterfaceAddress(loop.swIfIndex, gw);
          if (bdId !== undefined) await vs.setInterfaceBridge(loop.swIfIndex, bdId, { bvi: true });
          await vs.setInterfaceUp(loop.swIfIndex, true);
          net = {
            name, kind, vrfId, loopbackSwIfIndex: loop.swIfIndex, gateway: gw, nodeSubnet,
            ...(cn?.subnetCIDR ? { subnetCIDR: cn.subnetCIDR } : {}), ...(bdId !== undefined ? { bdId, vni: vni! } : {}),
          };
          break;
        }
        case 'L2': {
          const bdId = node.nextBdId++;
          await vs.addBridgeDomain(bdId);
          undo.push(() => vs.deleteBridgeDomain(bdId));
          net = { name, kind, vrfId: 0, bdId, vni: vni! };
          break;
        }
        case undefined: throw new Error(`network ${name} is neither default nor a known CustomNetwork`);
        default: exhaustive(kind, 'network type');
      }
      node.networks[name] = net;
      await this.d.store.saveNode(node);
      this.d.log(`network ${name}: created ${JSON.stringify(net)}`);
      // Reaching the other nodes is not this pod's failure: the cluster reconciler logs and retries.
      await this.d.networkCreated?.(net).catch((e) => this.d.log(`network ${name}: connecting it to the other nodes failed: ${(e as Error).message}`));
      return net;
    } catch (e) {
      for (const u of undo.reverse()) await u().catch((x) => this.d.log(`undo while creating network ${name}: ${(x as Error).message}`));
      throw e;
    }
  }

  /**
   * Forgets the networks whose loopback VPP no longer has (it restarted): they are created again on
   * next use. Bridge domains went with the loopbacks then. Returns the names forgotten.
   */
  async forgetLost(dump: readonly VswitchInterface[]): Promise<string[]> {
    const node = await this.d.store.loadNode();
    const forgotten: string[] = [];
    for (const [name, net] of Object.entries(node.networks)) {
      if (net.loopbackSwIfIndex === undefined) continue;
      const i = dump.find((x) => x.swIfIndex === net.loopbackSwIfIndex);
      if (!i || i.tag !== `${NET_TAG_PREFIX}${name}`) { delete node.networks[name]; forgotten.push(name); }
    }
    if (forgotten.length) {
      for (const [name, net] of Object.entries(node.networks)) if (net.kind === 'L2') { delete node.networks[name]; forgotten.push(name); }
      await this.d.store.saveNode(node);
    }
    return forgotten;
  }
}
