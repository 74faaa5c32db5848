import { credentials, type ChannelCredentials, type ChannelOptions, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { AdminClient } from './gen/herald/v1/admin.js';
import { BrokerClient } from './gen/herald/v1/broker.js';
import { toHeraldError } from './errors.js';

/** Options shared by Producer, Consumer and Admin for the connection. */
export interface ConnectionOptions {
  /** Channel credentials; default insecure (plaintext). */
  credentials?: ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
  /** Deadline of unary calls in ms (default 10000). */
  rpcTimeoutMs?: number;
}

export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

// Keepalive 30 s like the other Herald clients: dead connections behind NATs
// are noticed without waiting for TCP timeouts.
const baseChannelOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

export interface Clients {
  broker: BrokerClient;
  admin: AdminClient;
  close(): void;
}

export function connect(target: string, opts: ConnectionOptions = {}): Clients {
  const creds = opts.credentials ?? credentials.createInsecure();
  const channelOptions = { ...baseChannelOptions, ...opts.channelOptions };
  const broker = new BrokerClient(target, creds, channelOptions);
  // Share the broker client's channel so one TCP connection carries everything.
  const admin = new AdminClient(target, creds, { ...channelOptions, channelOverride: broker.getChannel() });
  return {
    broker,
    admin,
    close() {
      broker.close();
      admin.close();
    },
  };
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date; waitForReady?: boolean },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Calls a unary method with a deadline and turns failures into HeraldError. */
export function unary<Req, Res>(
  client: object,
  method: UnaryMethod<Req, Res>,
  req: Req,
  timeoutMs: number,
  metadata: Metadata,
  waitForReady = false,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, metadata, { deadline: new Date(Date.now() + timeoutMs), waitForReady }, (err, res) => {
      if (err) reject(toHeraldError(err));
      else resolve(res);
    });
  });
}
