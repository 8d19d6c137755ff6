/**
 * The relay's client of the Kubernetes API server: one undici Agent (kept-alive connections, the cluster's CA) and the
 * relay's own credential, which is the only `Authorization` that ever reaches the cluster. For EKS it is a presigned
 * STS token of the task role (refreshed before its 15 minutes end); locally, the token or client certificate of the
 * kubeconfig.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { ForwardedHeaders } from '#shared/relay/upstream-headers.ts';

/** The relay's credential for the cluster: an `Authorization` header value, or undefined for client certificates. */
export interface UpstreamAuth {
  authorization(): Promise<string | undefined>;
}

export interface UpstreamOptions {
  /** The API server, e.g. https://ABC.gr7.us-east-1.eks.amazonaws.com. */
  url: string;
  /** PEM of the cluster's CA; the system roots when absent. */
  ca?: string;
  /** A client certificate (kubeconfigs of kind and similar clusters). */
  clientCertificate?: { cert: string; key: string };
  auth: UpstreamAuth;
  /** Connections kept per origin. @default 128 */
  connections?: number;
}

export interface UpstreamRequest {
  method: string;
  /** Path and query, exactly as the relay authorized them. */
  path: string;
  headers: ForwardedHeaders;
  body?: NodeJS.ReadableStream | Buffer;
  signal?: AbortSignal;
}

export class Upstream {
  readonly origin: URL;
  readonly tls: { ca?: string; cert?: string; key?: string };
  readonly #agent: Agent;
  readonly #auth: UpstreamAuth;

  constructor(options: UpstreamOptions) {
    this.origin = new URL(options.url);
    if (this.origin.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(this.origin.hostname)) {
      throw new Error('the upstream API server must be https (http only on loopback, for tests)');
    }
    this.tls = { ca: options.ca, cert: options.clientCertificate?.cert, key: options.clientCertificate?.key };
    this.#auth = options.auth;
    this.#agent = new Agent({
      connections: options.connections ?? 128,
      connect: { ...this.tls, rejectUnauthorized: true },
      // Watches and followed logs stay open as long as the client does: only the headers have a deadline.
      headersTimeout: 30_000,
      bodyTimeout: 0,
    });
  }

  /** The headers the relay adds for itself: its own credential. */
  async credentialHeaders(): Promise<Record<string, string>> {
    const authorization = await this.#auth.authorization();
    return authorization ? { authorization } : {};
  }

  async request(call: UpstreamRequest): Promise<Dispatcher.ResponseData> {
    // The relay's credential first, then the request's headers (which never carry an Authorization of their own).
    const headers = { ...(await this.credentialHeaders()), ...call.headers };
    return request(new URL(call.path, this.origin), {
      method: call.method as Dispatcher.HttpMethod,
      headers,
      body: call.body as Dispatcher.DispatchOptions['body'],
      signal: call.signal,
      dispatcher: this.#agent,
    });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** A fixed bearer token (a kubeconfig's, or a test server's). */
export function staticBearer(token: string): UpstreamAuth {
  return { authorization: async () => `Bearer ${token}` };
}
