/**
 * One kernel connection, seen from the sidebar: does its kernel run carbon_magic, and what
 * does it say.
 *
 * A kernel-opened comm reaches a front end only if the front end registered the target on
 * that kernel first, and a kernel may load the extension before or after the sidebar looks
 * at it. So the link does both, in either order:
 * - it registers the target `carbon_magic` on the kernel at once: when the kernel loads the
 *   extension later (the load button, a typed `%load_ext`), its `announce` comm arrives here
 *   and carries the kernel's hello and states at once (the link uses it as its comm);
 * - it opens its own comm to the kernel's target (at start, after an announce, after a
 *   restart): a kernel without the extension closes it at once ("not loaded"); one with
 *   it answers `hello` and then `state` messages.
 * Restarts drop the comm (JupyterLab clears a restarted kernel's comms); the link opens a
 * new one when the kernel is idle again. Non-Python kernels are never sent anything.
 */

import type { Kernel, KernelMessage as KM } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IKernelState,
  LOAD_CODE,
  PROTOCOL_VERSION,
  TARGET,
  parseKernelMessage,
  refreshRequest
} from './protocol';

export type LinkStatus =
  | 'connecting' // asking the kernel (it answers when idle)
  | 'unavailable' // not a Python kernel
  | 'not-loaded' // a Python kernel without carbon_magic loaded
  | 'loading' // the load button's %load_ext is running
  | 'connected' // figures flowing
  | 'restarting'
  | 'dead'
  | 'error'; // loading failed, or the kernel speaks another protocol version

/** The kernel connection members the link uses (a JupyterLab `Kernel.IKernelConnection`). */
export type IKernelLike = Pick<
  Kernel.IKernelConnection,
  | 'id'
  | 'status'
  | 'statusChanged'
  | 'disposed'
  | 'isDisposed'
  | 'info'
  | 'registerCommTarget'
  | 'removeCommTarget'
  | 'createComm'
  | 'requestExecute'
>;

const DEFAULT_KEEPALIVE_S = 10;

export class KernelLink {
  constructor(readonly kernel: IKernelLike) {
    kernel.registerCommTarget(TARGET, this._onKernelComm);
    kernel.statusChanged.connect(this._onStatus, this);
    void this.probe();
  }

  /** Emitted whenever status, state or error change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): LinkStatus {
    return this._status;
  }

  /** The kernel's latest state (kept through restarts until a new one arrives). */
  get state(): IKernelState | null {
    return this._state;
  }

  /** Why loading failed, or what is wrong, in words (status 'error'). */
  get error(): string {
    return this._error;
  }

  /** The kernel's language (known once its info arrived). */
  get language(): string {
    return this._language;
  }

  /** carbon_magic's version in the kernel (from its hello). */
  get packageVersion(): string {
    return this._packageVersion;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Open our comm to the kernel's target (after checking that it is a Python kernel). */
  async probe(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (!this._language) {
      try {
        const info = await this.kernel.info;
        this._language = (info.language_info?.name ?? '').toLowerCase();
      } catch {
        return; // the kernel went away; its status change says what happens next
      }
      if (this._disposed) {
        return;
      }
    }
    if (this._language !== 'python') {
      this._set('unavailable');
      return;
    }
    if (this._comm) {
      return; // one comm per kernel connection
    }
    const comm = this.kernel.createComm(TARGET);
    this._attach(comm);
    if (this._status !== 'loading') {
      this._set('connecting');
    }
    try {
      comm.open(refreshRequest());
    } catch {
      this._comm = null; // the kernel is restarting or gone: its status says what next
    }
  }

  /**
   * The load button: run `%load_ext carbon_magic` in the kernel, the only code the sidebar
   * ever sends. Resolves once the kernel answered; the kernel's announce then connects.
   */
  async load(): Promise<void> {
    if (this._language !== 'python' || this._status === 'loading') {
      return;
    }
    this._set('loading');
    this._loadPending = true;
    let reply: KM.IExecuteReplyMsg;
    try {
      const future = this.kernel.requestExecute({
        code: LOAD_CODE,
        silent: false,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      });
      reply = await future.done;
    } catch (error) {
      this._loadPending = false;
      this._fail(`The kernel did not run ${LOAD_CODE}: ${String(error)}`);
      return;
    } finally {
      this._loadPending = false;
    }
    const content = reply.content;
    if (content.status === 'ok') {
      void this.probe(); // in case the announce was missed
      return;
    }
    const what =
      content.status === 'error' ? `${content.ename}: ${content.evalue}` : content.status;
    this._fail(
      content.status === 'error' && content.ename === 'ModuleNotFoundError'
        ? `carbon_magic is not installed in this kernel's environment (${what}). Install it there with pip install carbon_magic, then try again.`
        : `${LOAD_CODE} failed in this kernel: ${what}`
    );
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stopKeepalive();
    const comm = this._comm;
    this._comm = null;
    if (comm && this._owned && !comm.isDisposed && !this.kernel.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone: nothing to close
      }
    }
    if (!this.kernel.isDisposed) {
      this.kernel.removeCommTarget(TARGET, this._onKernelComm);
      this.kernel.statusChanged.disconnect(this._onStatus, this);
    }
    Signal.clearData(this);
  }

  // -- from the kernel --------------------------------------------------------------------
  private _onKernelComm = (comm: Kernel.IComm, msg: KM.ICommOpenMsg): void => {
    // The kernel's announce: it loaded carbon_magic, and sends its hello and states on this
    // comm at once (from its sampler thread: a comm we opened would be answered only when
    // the kernel's main thread is free, which can be many seconds after a load).
    const message = parseKernelMessage(msg.content.data);
    if (message?.type === 'announce' && !this._disposed && !this._comm) {
      this._attach(comm);
      this._owned = false; // shared by every front end of the kernel: never ours to close
      if (this._status !== 'loading') {
        this._set('connecting');
      }
    }
  };

  private _attach(comm: Kernel.IComm): void {
    this._comm = comm;
    this._owned = true;
    comm.onMsg = msg => this._onMessage(comm, msg);
    comm.onClose = msg => this._onClose(comm, msg);
  }

  private _onMessage(comm: Kernel.IComm, msg: KM.ICommMsgMsg): void {
    if (comm !== this._comm || this._disposed) {
      return;
    }
    const data = msg.content.data;
    const message = parseKernelMessage(data);
    if (message === null) {
      const version = (data as { version?: unknown } | null)?.version;
      if (typeof version === 'number' && version !== PROTOCOL_VERSION) {
        this._fail(
          `This kernel's carbon_magic speaks sidebar protocol version ${version}; this sidebar speaks version ${PROTOCOL_VERSION}. Install the same carbon_magic version in the kernel and in JupyterLab.`
        );
      }
      return; // a malformed message changes nothing
    }
    if (message.type === 'hello') {
      this._packageVersion = message.package_version;
      this._startKeepalive(message.keepalive_s);
    }
    if (message.type === 'hello' || message.type === 'state') {
      if (message.seq <= this._seq && message.type === 'state') {
        return; // out of order
      }
      this._seq = message.seq;
      this._state = message.kernel;
      this._error = '';
      this._set('connected', true);
    }
  }

  private _onClose(comm: Kernel.IComm, msg: KM.ICommCloseMsg): void {
    if (comm !== this._comm) {
      return;
    }
    this._comm = null;
    this._seq = 0;
    this._stopKeepalive();
    if (this._disposed) {
      return;
    }
    const message = parseKernelMessage(msg.content.data);
    const reason = message?.type === 'goodbye' ? message.reason : '';
    if (reason === 'expired' || reason === 'replaced') {
      void this.probe(); // we are alive: ask again
      return;
    }
    if (this._status === 'error' || (this._status === 'loading' && this._loadPending)) {
      return; // a probe sent before the load ran: the kernel's announce follows
    }
    this._set('not-loaded'); // no target in the kernel, or the extension was unloaded
  }

  private _onStatus(_: unknown, status: KM.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      this._comm = null; // JupyterLab disposes a restarted kernel's comms
      this._seq = 0;
      this._stopKeepalive();
      this._restarted = true;
      this._state = null; // a new kernel: its figures start again
      this._set('restarting');
    } else if (status === 'dead') {
      this._comm = null;
      this._stopKeepalive();
      this._set('dead');
    } else if (status === 'idle' && (this._restarted || this._status === 'dead')) {
      this._restarted = false;
      void this.probe();
    }
  }

  // -- keep-alive -------------------------------------------------------------------------
  private _startKeepalive(seconds: number): void {
    this._stopKeepalive();
    const period = (seconds > 0 ? seconds : DEFAULT_KEEPALIVE_S) * 1000;
    this._keepalive = setInterval(() => {
      // The kernel reads requests only between cells; an idle kernel counts silence.
      if (this._comm && this.kernel.status === 'idle') {
        try {
          this._comm.send(refreshRequest());
        } catch {
          // restarting: the status change reconnects
        }
      }
    }, period);
  }

  private _stopKeepalive(): void {
    if (this._keepalive !== null) {
      clearInterval(this._keepalive);
      this._keepalive = null;
    }
  }

  private _fail(error: string): void {
    this._error = error;
    this._set('error', true);
  }

  private _set(status: LinkStatus, force = false): void {
    if (status === this._status && !force) {
      return;
    }
    this._status = status;
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _status: LinkStatus = 'connecting';
  private _state: IKernelState | null = null;
  private _error = '';
  private _language = '';
  private _packageVersion = '';
  private _comm: Kernel.IComm | null = null;
  private _owned = true; // we opened _comm (else it is the kernel's announce comm)
  private _seq = 0;
  private _restarted = false;
  private _loadPending = false;
  private _keepalive: ReturnType<typeof setInterval> | null = null;
  private _disposed = false;
}

/** One link per kernel connection, shared by every notebook using it. */
export class LinkRegistry {
  /** The link of `kernel` (made on first use; disposed with the kernel connection). */
  linkFor(kernel: IKernelLike): KernelLink {
    let link = this._links.get(kernel);
    if (!link) {
      link = new KernelLink(kernel);
      this._links.set(kernel, link);
      kernel.disposed.connect(() => this.drop(kernel));
    }
    return link;
  }

  /** Forget `kernel`'s link (its connection was disposed). */
  drop(kernel: IKernelLike): void {
    const link = this._links.get(kernel);
    this._links.delete(kernel);
    link?.dispose();
  }

  get size(): number {
    return this._links.size;
  }

  dispose(): void {
    for (const kernel of [...this._links.keys()]) {
      this.drop(kernel);
    }
  }

  private _links = new Map<IKernelLike, KernelLink>();
}
