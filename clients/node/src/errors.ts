import { status, type ServiceError } from '@grpc/grpc-js';

/** gRPC status codes (google.rpc.Code), re-exported so callers need not import grpc-js. */
export const Code = status;
export type Code = status;

/**
 * Every failure surfaced by this client: an RPC status, an in-band error of a
 * stream (ProduceResponse.error, CommitResult, SeekResult) or a local
 * condition such as a full producer buffer. `code` is the gRPC status code.
 */
export class HeraldError extends Error {
  /** The gRPC status code, e.g. `Code.NOT_FOUND` (5). */
  readonly code: status;

  constructor(code: status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HeraldError';
    this.code = code;
  }

  /** The status name, e.g. "NOT_FOUND". */
  get codeName(): string {
    return status[this.code] ?? `CODE_${this.code}`;
  }

  override toString(): string {
    return `HeraldError[${this.codeName}]: ${this.message}`;
  }
}

function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as ServiceError).code === 'number' &&
    'details' in e;
}

/** Converts whatever a grpc-js call rejected with into a HeraldError. */
export function toHeraldError(e: unknown): HeraldError {
  if (e instanceof HeraldError) return e;
  if (isServiceError(e)) return new HeraldError(e.code, e.details || e.message, { cause: e });
  return new HeraldError(status.UNKNOWN, e instanceof Error ? e.message : String(e), { cause: e });
}

/** An in-band `herald.v1.Error` (code 0 means none). */
export function inBandError(err: { code: number; message: string } | undefined): HeraldError | undefined {
  if (!err || err.code === 0) return undefined;
  return new HeraldError(err.code as status, err.message);
}
