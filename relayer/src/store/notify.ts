/**
 * A PostgreSQL LISTEN connection that stays up: on an error, a closed connection or a heartbeat (`select 1`
 * every few seconds) without an answer it reports itself down and connects again after a delay, reporting
 * itself up once it listens again. A connection lost without a trace is thus noticed within seconds.
 */
import { Client } from "pg";

const HEARTBEAT_TIMEOUT_MS = 3000;

export interface Listener {
  stop(): Promise<void>;
}

export function listen(
  databaseUrl: string,
  channel: string,
  handlers: { onNotify(payload: string): void; onState(up: boolean): void },
  retryMs = 1000,
  heartbeatMs = 5000,
): Listener {
  let stopped = false;
  let client: Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  const connect = async () => {
    if (stopped) return;
    const c = new Client({
      connectionString: databaseUrl,
      application_name: "orderchain-relayer-listen",
      keepAlive: true,
      // A heartbeat that gets no answer in time means the connection is gone, even without a closed socket.
      query_timeout: HEARTBEAT_TIMEOUT_MS,
    });
    client = c;
    let failed = false;
    const fail = () => {
      if (failed || stopped) return;
      failed = true;
      handlers.onState(false);
      c.end().catch(() => undefined);
      timer = setTimeout(() => void connect(), retryMs);
    };
    c.on("error", fail);
    c.on("end", fail);
    let heartbeat: NodeJS.Timeout | null = null;
    const stopHeartbeat = () => heartbeat && clearInterval(heartbeat);
    c.on("end", stopHeartbeat);
    c.on("notification", (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? "");
    });
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
      if (!failed && !stopped) handlers.onState(true);
      heartbeat = setInterval(() => {
        c.query("select 1").catch(() => {
          stopHeartbeat();
          fail();
        });
      }, heartbeatMs);
      heartbeat.unref();
    } catch {
      fail();
    }
  };
  void connect();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => undefined);
    },
  };
}
