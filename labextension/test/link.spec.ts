import { KernelLink, LinkRegistry } from '../src/link';
import { LOAD_CODE, refreshRequest } from '../src/protocol';
import { FakeKernel, hello, kernelState, settle } from './fakes';

async function connected(): Promise<{ kernel: FakeKernel; link: KernelLink }> {
  const kernel = new FakeKernel();
  const link = new KernelLink(kernel as any);
  await settle();
  kernel.lastComm.receive(hello());
  return { kernel, link };
}

/** A link whose kernel closed the first comm: the extension is not loaded there. */
async function notLoaded(): Promise<{ kernel: FakeKernel; link: KernelLink }> {
  const kernel = new FakeKernel();
  const link = new KernelLink(kernel as any);
  await settle();
  kernel.lastComm.closeFromKernel();
  return { kernel, link };
}

describe('KernelLink', () => {
  it('registers the target and opens its comm with a refresh request', async () => {
    const kernel = new FakeKernel();
    const link = new KernelLink(kernel as any);
    expect(kernel.targets.has('carbon_magic')).toBe(true);
    await settle();
    expect(kernel.comms).toHaveLength(1);
    expect(kernel.lastComm.targetName).toBe('carbon_magic');
    expect(kernel.lastComm.opened).toEqual([refreshRequest()]);
    expect(link.status).toBe('connecting');
  });

  it('reads a closed comm as "not loaded", and loads with %load_ext only', async () => {
    const { kernel, link } = await notLoaded();
    expect(link.status).toBe('not-loaded');
    const loading = link.load();
    expect(link.status).toBe('loading');
    await loading;
    expect(kernel.executed).toHaveLength(1);
    expect(kernel.executed[0].code).toBe(LOAD_CODE);
    expect(kernel.executed[0].code).toBe('%load_ext carbon_magic');
    // the reply was ok: a new comm is opened; the kernel answers hello
    expect(kernel.comms).toHaveLength(2);
    kernel.announce(); // the announce arrives too: no second comm
    expect(kernel.comms).toHaveLength(2);
    kernel.lastComm.receive(hello());
    expect(link.status).toBe('connected');
    expect(link.state?.totals.energy_wh).toBe(0.0583);
    expect(link.packageVersion).toBe('0.1.0');
  });

  it("goes live on the announce comm itself, and leaves it open for the kernel's other front ends", async () => {
    const { kernel, link } = await notLoaded();
    const announce = kernel.announce(); // a %load_ext typed in a cell
    await settle();
    expect(kernel.comms).toHaveLength(1); // no comm of our own: the kernel may be busy for long
    expect(link.status).toBe('connecting');
    announce.receive(hello());
    expect(link.status).toBe('connected');
    await link.load(); // the button, pressed meanwhile, opens nothing more
    expect(kernel.comms).toHaveLength(1);
    link.dispose();
    expect(announce.closed).toBe(false);
  });

  it('asks again on a comm of its own when the announce comm expires', async () => {
    const { kernel, link } = await notLoaded();
    const announce = kernel.announce();
    announce.receive(hello());
    announce.closeFromKernel({ type: 'goodbye', version: 2, reason: 'expired' });
    await settle();
    expect(kernel.comms).toHaveLength(2);
    kernel.lastComm.receive(hello());
    expect(link.status).toBe('connected');
  });

  it('explains a failed load', async () => {
    const { kernel, link } = await notLoaded();
    kernel.reply = {
      status: 'error',
      ename: 'ModuleNotFoundError',
      evalue: "No module named 'carbon_magic'",
      traceback: []
    };
    await link.load();
    expect(link.status).toBe('error');
    expect(link.error).toContain('pip install carbon_magic');
  });

  it('never talks to a non-Python kernel', async () => {
    const kernel = new FakeKernel('r');
    const link = new KernelLink(kernel as any);
    await settle();
    expect(link.status).toBe('unavailable');
    expect(link.language).toBe('r');
    await link.load();
    expect(kernel.comms).toHaveLength(0);
    expect(kernel.executed).toHaveLength(0);
  });

  it('takes state updates in order and ignores malformed ones', async () => {
    const { kernel, link } = await connected();
    const comm = kernel.lastComm;
    const changes = jest.fn();
    link.changed.connect(changes);
    comm.receive({
      type: 'state',
      version: 2,
      seq: 2,
      kernel: kernelState({ totals: { ...kernelState().totals, energy_wh: 1 } })
    });
    expect(link.state?.totals.energy_wh).toBe(1);
    comm.receive({ type: 'state', version: 2, seq: 2, kernel: kernelState() }); // stale
    comm.receive({ type: 'state', version: 2, seq: 9, kernel: { totals: 'lots' } });
    comm.receive('<script>');
    expect(link.state?.totals.energy_wh).toBe(1);
    expect(link.status).toBe('connected');
    expect(changes).toHaveBeenCalledTimes(1);
  });

  it('says so when the kernel speaks another protocol version', async () => {
    const { kernel, link } = await connected();
    kernel.lastComm.receive({ ...hello(), version: 1 });
    expect(link.status).toBe('error');
    expect(link.error).toContain('protocol version 1');
  });

  it('recovers after a restart and after the kernel expires its comm', async () => {
    const { kernel, link } = await connected();
    kernel.setStatus('restarting');
    expect(link.status).toBe('restarting');
    expect(link.state).toBeNull();
    kernel.setStatus('starting');
    kernel.setStatus('idle');
    await settle();
    expect(kernel.comms).toHaveLength(2);
    kernel.lastComm.receive(hello());
    expect(link.status).toBe('connected');
    kernel.lastComm.closeFromKernel({ type: 'goodbye', version: 2, reason: 'expired' });
    await settle();
    expect(kernel.comms).toHaveLength(3);
    kernel.lastComm.closeFromKernel({ type: 'goodbye', version: 2, reason: 'unloaded' });
    expect(link.status).toBe('not-loaded');
  });

  it('sends a keep-alive refresh only while the kernel is idle', async () => {
    jest.useFakeTimers();
    try {
      const { kernel } = await connected();
      const comm = kernel.lastComm;
      jest.advanceTimersByTime(10_000);
      expect(comm.sent).toEqual([refreshRequest()]);
      kernel.status = 'busy';
      jest.advanceTimersByTime(30_000);
      expect(comm.sent).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('closes its comm and removes its target when disposed', async () => {
    const { kernel, link } = await connected();
    const comm = kernel.lastComm;
    link.dispose();
    expect(comm.closed).toBe(true);
    expect(kernel.targets.has('carbon_magic')).toBe(false);
  });
});

describe('LinkRegistry', () => {
  it('keeps one link per kernel connection until it is disposed', async () => {
    const registry = new LinkRegistry();
    const a = new FakeKernel();
    const b = new FakeKernel();
    const link = registry.linkFor(a as any);
    expect(registry.linkFor(a as any)).toBe(link);
    expect(registry.linkFor(b as any)).not.toBe(link);
    expect(registry.size).toBe(2);
    a.dispose();
    expect(registry.size).toBe(1);
    expect(link.isDisposed).toBe(true);
  });
});
