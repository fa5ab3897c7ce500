// A TCP proxy between Kiln and Postgres that a test can break the way networks and servers break:
// `down()` drops every connection and refuses new ones (a database stopped), `freeze()` keeps
// connections open but forwards nothing, in either direction (a database or a network that hangs),
// and `up()` / `thaw()` bring it back.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  /** Client connections accepted while frozen, joined to the target at the thaw. */
  private held: Socket[] = [];
  private frozen = false;
  /** Connections accepted in all, for the test's counts. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {
    this.server = this.newServer();
  }

  /** A proxy on a free port of 127.0.0.1 to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)));
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new TcpProxy(port, target);
    await proxy.up();
    return proxy;
  }

  /** `url` (a postgres:// URL) with its host and port replaced by this proxy's. */
  route(url: string): string {
    const routed = new URL(url);
    routed.hostname = '127.0.0.1';
    routed.port = String(this.port);
    return routed.toString();
  }

  private newServer(): Server {
    return createServer((client) => {
      this.accepted++;
      this.track(client);
      if (this.frozen) {
        client.pause();
        this.held.push(client);
      } else this.join(client);
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private join(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.track(upstream);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => {
        if (!this.frozen) from.resume();
      });
      from.once('close', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
    if (this.frozen) {
      client.pause();
      upstream.pause();
    }
  }

  async up(): Promise<void> {
    if (this.server.listening) return;
    this.server = this.newServer();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Refuses new connections and drops every open one. */
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    this.held = [];
    await closed;
  }

  /** Stops forwarding bytes; connections stay open and new ones are accepted, then left waiting. */
  freeze(): void {
    this.frozen = true;
    for (const socket of this.sockets) socket.pause();
  }

  thaw(): void {
    this.frozen = false;
    const waiting = new Set(this.held);
    this.held = [];
    for (const socket of this.sockets) if (!waiting.has(socket)) socket.resume();
    for (const client of waiting) {
      if (client.destroyed) continue;
      // Forwarding first: a socket resumed with no one reading it would drop what it holds.
      this.join(client);
      client.resume();
    }
  }

  async close(): Promise<void> {
    this.frozen = false;
    if (this.server.listening) await this.down();
  }
}
