// TEST DOUBLE: the kernel side of tap_create_v2 the way VPP does it (the emulator's `kernelTaps`). VPP opens
// /dev/net/tun and keeps the fd; the device (host_if_name, in host_namespace or VPP's own
// namespace) lives until tap_delete_v2 closes the fd, wherever it has been moved since.
// Without a host_namespace the tap stays in the emulator's namespace (VPP's), where the CNI
// agent moves it into the pod.
import { randomBytes } from 'node:crypto';
import { closeFd, closeFdAsync, openTap } from '../../sys/index.js';
import { moveLink } from '../../cni/linux/ip.js';
import type { EmulatorHooks } from './hooks.js';

export interface KernelTaps {
  hooks: Required<Pick<EmulatorHooks, 'onTapCreate' | 'onTapDelete'>>;
  /** Taps held open now, by tap id. */
  readonly open: ReadonlyMap<number, number>;
  /** Closes every fd (VPP exiting): their devices go away. */
  close(): void;
}

export function kernelTaps(): KernelTaps {
  const fds = new Map<number, number>();
  return {
    open: fds,
    hooks: {
      async onTapCreate(r) {
        if (!r.hostNamespace) { fds.set(r.id, openTap(r.hostIfName)); return; }
        // Created here under a name of its own, then moved: the final name may exist in this namespace.
        const staging = `tsve${randomBytes(5).toString('hex')}`;
        const fd = openTap(staging);
        try { await moveLink({ name: staging, netns: r.hostNamespace, newName: r.hostIfName }); } catch (e) { closeFd(fd); throw e; }
        fds.set(r.id, fd);
      },
      async onTapDelete(i) {
        const fd = fds.get(i.tap!.id);
        fds.delete(i.tap!.id);
        // Off the event loop: the device's unregistration waits for an RCU grace period (~17 ms
        // per tap here), and the agent under test often shares this process and its loop.
        if (fd !== undefined) await closeFdAsync(fd);
      },
    },
    close() {
      for (const fd of fds.values()) { try { closeFd(fd); } catch { /* closed */ } }
      fds.clear();
    },
  };
}
