import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { FleetGo, FleetWorkerConfig, FleetWorkerMessage } from './fleet-worker';

const ROOT = join(__dirname, '..', '..');
const WORKER = join(ROOT, 'test', 'support', 'fleet-worker.ts');

export type FleetReport = Extract<FleetWorkerMessage, { type: 'done' }>;

/** A fleet-worker process, seen from the parent (a test or the benchmark). */
export interface FleetWorker {
  readonly child: ChildProcess;
  /** The next message of `type`; rejects when the worker reports a failure or exits first. */
  next(type: FleetWorkerMessage['type']): Promise<FleetWorkerMessage>;
  send(message: FleetGo): void;
  /** Closes its application and waits for the process to end. */
  stop(): Promise<void>;
}

export function startFleetWorker(config: FleetWorkerConfig): FleetWorker {
  const child = fork(WORKER, [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FleetWorkerMessage[] = [];
  let wake = (): void => undefined;
  let exited = child.exitCode !== null;
  const ended = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      wake();
      resolve();
    }),
  );
  child.on('message', (message: FleetWorkerMessage) => {
    inbox.push(message);
    wake();
  });
  return {
    child,
    send: (message) => child.send(message),
    async next(type) {
      for (;;) {
        const index = inbox.findIndex((message) => message.type === type || message.type === 'failed');
        if (index >= 0) {
          const [message] = inbox.splice(index, 1);
          if (message.type === 'failed') throw new Error(`fleet worker failed: ${message.error}`);
          return message;
        }
        if (exited) throw new Error(`fleet worker exited before sending "${type}"`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async stop() {
      if (!exited && child.connected) child.send({ type: 'exit' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await ended;
      clearTimeout(killer);
    },
  };
}

/** Sends one `go` to every worker at once and collects their reports. */
export async function stampede(workers: readonly FleetWorker[], go: FleetGo): Promise<FleetReport[]> {
  const done = workers.map((worker) => worker.next('done'));
  for (const worker of workers) worker.send(go);
  return (await Promise.all(done)) as FleetReport[];
}
