/**
 * A PostgreSQL LISTEN connection that stays up: on an error or a closed connection it reports itself down and
 * connects again after a delay, reporting itself up once it listens again.
 */
import { Client } from "pg";

export interface Listener {
  stop(): Promise<void>;
}

export function listen(
  databaseUrl: string,
  channel: string,
  handlers: { onNotify(payload: string): void; onState(up: boolean): void },
  retryMs = 1000,
): Listener {
  let stopped = false;
  let client: Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  const connect = async () => {
    if (stopped) return;
    const c = new Client({ connectionString: databaseUrl, application_name: "orderchain-relayer-listen" });
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
    c.on("notification", (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? "");
    });
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
      if (!failed && !stopped) handlers.onState(true);
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
