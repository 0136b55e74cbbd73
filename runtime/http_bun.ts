// HTTP server on Bun (Bun.serve), for the broker's health and metrics
// endpoints. The only place the broker touches Bun.serve.

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
