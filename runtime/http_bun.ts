// HTTP server on Bun (Bun.serve), for the broker's health and metrics
// endpoints and its web console. The only place the broker touches Bun.serve.

/**
 * Request bodies larger than this are refused by the server itself (413)
 * before any handler reads them; the console's own bound is smaller.
 */
export const HTTP_REQUEST_BODY_BYTES_MAX = 2 * 1024 * 1024;

export interface HttpListener {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function serveHttp(options: {
  host: string;
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
}): HttpListener {
  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    fetch: options.fetch,
    maxRequestBodySize: HTTP_REQUEST_BODY_BYTES_MAX,
    error: (e) => new Response(`internal error: ${e.message}\n`, { status: 500 }),
  });
  return {
    host: options.host,
    port: server.port ?? options.port,
    stop: async () => {
      await server.stop(true);
    },
  };
}
