/**
 * A TCP proxy in front of a real server, for network faults a test must place exactly: the connection cut
 * after the server has sent N bytes, or the server's answers held back (a hung member). The server behind it is
 * the real one; only the network between is broken.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** host:port to give the client. */
  address: string;
  port: number;
  /** Bytes the server has sent through the proxy so far (all connections). */
  readonly serverBytes: number;
  /** Connections the proxy accepted. */
  readonly accepted: number;
  /** Cut every connection once the server has sent this many bytes on it (handshake included). */
  cutAfterServerBytes(n: number): void;
  /** From now on: hold back everything the server sends (the client waits forever). */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cutAfter: number | null = null;
  let stalled = false;
  let serverBytes = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(target);
    sockets.add(client);
    sockets.add(upstream);
    let sentOnThis = 0;
    const cutAt = () => (cutAfter === null ? Infinity : cutAfter);
    const destroy = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (stalled) return;
      const left = cutAt() - sentOnThis;
      if (left <= 0) return destroy();
      const chunk = d.length > left ? d.subarray(0, left) : d;
      sentOnThis += chunk.length;
      serverBytes += chunk.length;
      client.write(chunk);
      if (sentOnThis >= cutAt()) destroy();
    });
    client.on('error', destroy);
    upstream.on('error', destroy);
    client.on('close', destroy);
    upstream.on('close', destroy);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    get serverBytes() {
      return serverBytes;
    },
    get accepted() {
      return accepted;
    },
    cutAfterServerBytes(n: number) {
      cutAfter = n;
    },
    stall() {
      stalled = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
