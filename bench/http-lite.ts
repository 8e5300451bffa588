/**
 * A lean HTTP/1.1 client for load generators: node:http over keep-alive connections.
 *
 * Benchmarks run their clients on the machine they measure, so a client's own CPU is taken
 * from the system under test. Node's fetch (undici, web streams, abort signals) cost about
 * 2.5 ms of CPU per request here (docs/performance.md, ninth session); a plain request on a
 * pooled connection costs a fraction of that. Every system a benchmark compares (Stele's
 * REST API, etcd's HTTP gateway) is driven through this same client.
 */
import { Agent, request } from 'node:http';

export interface LiteAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** Answers larger than this are refused (a benchmark never expects one). */
const ANSWER_BYTES_MAX = 256 * 1024 * 1024;

export class HttpLite {
  private readonly agent: Agent;

  /** @param sockets connections kept per host (as many as requests a client has in flight) */
  constructor(sockets = 256) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' });
  }

  /**
   * One request; resolves with the status and the whole body, rejects on a network error,
   * an answer over 256 MiB, or after `timeoutMs` without an answer.
   */
  request(url: string, method: 'GET' | 'POST', headers: Readonly<Record<string, string>>, body: Uint8Array | null, timeoutMs = 60_000): Promise<LiteAnswer> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request(
        {
          agent: this.agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method,
          headers: body === null ? headers : { ...headers, 'content-length': String(body.byteLength) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > ANSWER_BYTES_MAX) {
              req.destroy(new Error(`${method} ${url}: answer over ${ANSWER_BYTES_MAX} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body === null ? undefined : body);
    });
  }

  post(url: string, contentType: string, body: Uint8Array, timeoutMs?: number): Promise<LiteAnswer> {
    return this.request(url, 'POST', { 'content-type': contentType }, body, timeoutMs);
  }

  get(url: string, accept: string, timeoutMs?: number): Promise<LiteAnswer> {
    return this.request(url, 'GET', { accept }, null, timeoutMs);
  }

  /**
   * A long GET whose body is read as it comes (a stream), on a connection of its own (not
   * one of the pool's). Resolves when the server ends the body; rejects on a status other
   * than 200 or a network error. `signal` aborts it (then it resolves).
   */
  stream(url: string, accept: string, onChunk: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request({ agent: false, host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'GET', headers: { accept } }, (res) => {
        if (res.statusCode !== 200) {
          req.destroy(new Error(`GET ${url}: HTTP ${res.statusCode}`));
          return;
        }
        res.on('data', onChunk);
        res.on('end', () => resolve());
        res.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
      });
      req.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
      signal.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }
}
