// The websocket channel, on the path the CapabilityStatement advertises (/fhir/ws). Two protocols
// share it (hl7.org/fhir/R4/subscription.html#2.46.7.2 and the backport IG's websocket page):
// - R4: the client sends `bind {id}`, Kiln answers `bound {id}` and then `ping {id}` for each event;
// - backport: the client sends `bind-with-token {token}` (from Subscription/$get-ws-binding-token),
//   Kiln answers with a handshake Bundle for each bound subscription before anything else, then
//   sends each notification Bundle.
// A subscription's notifications are sent by the process that holds one of its sockets
// (leaseDue's localWebsockets), so a socket on any Kiln process gets them.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DeliveryError, type ChannelPlan, type ChannelSender, type OutgoingMessage } from '../model.js';

export interface WebsocketBinder {
  /** R4 `bind {id}`: may the caller of this upgrade request bind it? A reason when not. */
  mayBind(request: IncomingMessage, subscriptionId: string): Promise<string | undefined>;
  /** Backport `bind-with-token`: the subscriptions the token binds, or a reason it binds none. */
  bindToken(token: string): Promise<{ ids: string[] } | { refused: string }>;
  /** The handshake Bundle of a bound subscription, sent before anything else. */
  handshake(subscriptionId: string): Promise<string | undefined>;
}

/** Longest a socket may wait between binding messages it sends: 64 kB is plenty for `bind {id}`. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export class WebsocketHub {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  constructor(
    private readonly path: string,
    private readonly binder: WebsocketBinder,
  ) {}

  /** Takes the upgrade requests of `path` on `http`; others are left to whoever else listens. */
  attach(http: Server): void {
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== this.path) {
        if (http.listenerCount('upgrade') === 1) socket.destroy();
        return;
      }
      this.server.handleUpgrade(request, socket, head, (ws) => this.serve(ws, request));
    });
  }

  /** Ids of the subscriptions bound to a socket of this process. */
  localSubscriptions(): string[] {
    return [...this.sockets.keys()];
  }

  private bind(id: string, ws: WebSocket): void {
    const set = this.sockets.get(id) ?? new Set<WebSocket>();
    set.add(ws);
    this.sockets.set(id, set);
    ws.once('close', () => {
      set.delete(ws);
      if (!set.size) this.sockets.delete(id);
    });
  }

  private serve(ws: WebSocket, request: IncomingMessage): void {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString('utf8').trim();
      void this.command(ws, request, text).catch(() => ws.send('error Kiln could not bind this socket; try again'));
    });
  }

  private async command(ws: WebSocket, request: IncomingMessage, text: string): Promise<void> {
    const bind = /^bind ([A-Za-z0-9\-.]{1,64})$/.exec(text);
    if (bind) {
      const refused = await this.binder.mayBind(request, bind[1]);
      if (refused) return ws.send(`error ${refused}`);
      this.bind(bind[1], ws);
      return ws.send(`bound ${bind[1]}`);
    }
    const withToken = /^bind-with-token (\S{1,512})$/.exec(text);
    if (withToken) {
      const answer = await this.binder.bindToken(withToken[1]);
      if ('refused' in answer) return ws.send(`error ${answer.refused}`);
      for (const id of answer.ids) {
        const handshake = await this.binder.handshake(id);
        if (handshake) ws.send(handshake);
        this.bind(id, ws);
      }
      return;
    }
    ws.send('error expected "bind {subscription id}" or "bind-with-token {token}"');
  }

  /** The channel: a message to every socket bound to the subscription. */
  channel(): ChannelSender {
    return {
      type: 'websocket',
      send: async (subscriptionId: string, _channel: ChannelPlan, message: OutgoingMessage) => {
        const open = [...(this.sockets.get(subscriptionId) ?? [])].filter((ws) => ws.readyState === ws.OPEN);
        if (!open.length) throw new DeliveryError('No websocket is bound to this subscription on this process', true);
        await Promise.all(open.map((ws) => new Promise<void>((resolve, reject) => ws.send(message.body, (error) => (error ? reject(new DeliveryError(`The websocket failed: ${error.message}`, true)) : resolve())))));
      },
    };
  }

  close(): void {
    for (const set of this.sockets.values()) for (const ws of set) ws.terminate();
    this.sockets.clear();
    this.server.close();
  }
}
