// Starts a real herald-server per suite (HERALD_SERVER_BIN) and restarts it on the same port.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SERVER_BIN = process.env.HERALD_SERVER_BIN ?? '/work/bin/herald-server';

export class TestServer {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'herald-node-test-'));
  port = 0;
  private proc: ChildProcess | undefined;

  constructor(private readonly extraFlags: string[] = []) {}

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const ready = join(this.dataDir, 'ready.json');
    rmSync(ready, { force: true });
    const proc = spawn(SERVER_BIN, [
      `--listen=127.0.0.1:${this.port}`, '--metrics_listen=127.0.0.1:0', `--data_dir=${join(this.dataDir, 'data')}`,
      `--ready_file=${ready}`, '--log_level=warn', '--shutdown_grace_ms=1000', ...this.extraFlags,
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    this.proc = proc;
    let exited: number | null = null;
    proc.on('exit', (code) => { exited = code ?? -1; });
    const deadline = Date.now() + 20_000;
    while (!existsSync(ready) || readFileSync(ready, 'utf8').trim() === '') {
      if (exited !== null) throw new Error(`herald-server exited with ${exited} before ready`);
      if (Date.now() > deadline) throw new Error('herald-server not ready in 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const info = JSON.parse(readFileSync(ready, 'utf8')) as { grpc_port: number };
    this.port = info.grpc_port;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Waits until `cond` holds (polling), failing after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let topicSeq = 0;
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${++topicSeq}`;
}
