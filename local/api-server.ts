import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

/** A middy-wrapped Lambda handler: event, context, and middy's options with the abort signal. */
export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
  options: { signal: AbortSignal },
) => Promise<APIGatewayProxyResult>;

export interface Route {
  method: string;
  /** API Gateway resource syntax: `/v1/access-requests/{id}`. */
  resource: string;
  handler: ProxyHandler;
}

/** API Gateway refuses larger payloads before Lambda sees them (10 MB); the local server draws the line earlier. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * API Gateway's REST proxy integration on loopback: turns each HTTP request into the proxy event the Lambda handlers
 * receive in the cloud, and their result back into a response.
 */
export async function startApiServer(
  routes: Route[],
  options: { port: number; host?: string; ready?: Promise<unknown> },
): Promise<Server> {
  const compiled = routes.map((route) => ({
    ...route,
    pattern: new RegExp(`^${route.resource.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`),
  }));
  const server = createServer((request, response) => {
    void serve(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'application/problem+json' });
      response.end(JSON.stringify({ type: 'about:blank', title: 'Internal error', status: 500 }));
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse) {
    // The runtime is installed once the server's own URL is known; a request that arrives first waits for it.
    await options.ready;
    const url = new URL(request.url ?? '/', 'http://localhost');
    const candidates = compiled.filter((route) => route.pattern.test(url.pathname));
    const route = candidates.find((candidate) => candidate.method === request.method);
    if (!route) {
      const status = candidates.length > 0 ? 405 : 404;
      response.writeHead(status, { 'Content-Type': 'application/problem+json' });
      response.end(
        JSON.stringify({ type: 'about:blank', title: status === 404 ? 'Not Found' : 'Method Not Allowed', status }),
      );
      return;
    }
    const body = await readBody(request);
    if (body === undefined) {
      response.writeHead(413, { 'Content-Type': 'application/problem+json' });
      response.end(JSON.stringify({ type: 'about:blank', title: 'Payload Too Large', status: 413 }));
      return;
    }
    const event = toProxyEvent(request, url, route, body);
    const result = await route.handler(event, lambdaContext(route.resource), { signal: new AbortController().signal });
    response.writeHead(result.statusCode, flattenHeaders(result.headers));
    response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return server;
}

export function serverUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toProxyEvent(
  request: IncomingMessage,
  url: URL,
  route: Route & { pattern: RegExp },
  body: Buffer,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index]!;
    const value = request.rawHeaders[index + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const pathParameters = { ...route.pattern.exec(url.pathname)?.groups };
  const utf8 = body.toString('utf8');
  const isText = Buffer.from(utf8, 'utf8').equals(body);
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? (pathParameters as Record<string, string>) : null,
    stageVariables: null,
    body: body.length === 0 ? null : isText ? utf8 : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: route.method,
      // As the browser sees it: API Gateway puts the stage here (`/live/v1/...`); the local server has none.
      path: url.pathname,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.resource,
      identity: {
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: request.headers['user-agent'] ?? null,
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
    },
  };
}

/** The Lambda context the handlers read: names, a request id, and the time left (API Gateway's 29 s). */
export function lambdaContext(name: string): Context {
  const deadline = Date.now() + 29_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `gatehouse-local${name.replace(/[^\w]+/g, '-')}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:gatehouse-local',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/gatehouse/local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function flattenHeaders(headers: APIGatewayProxyResult['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
}
