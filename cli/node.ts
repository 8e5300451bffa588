import { startNode } from '../node/run.js';
import { isNoSpaceError, isSteleError, type SteleError } from '../ledger/errors.js';
import { EXIT_OK, parse, usage } from './io.js';

/** Exit code of a validator that halted because its state diverged or its disk failed. */
export const EXIT_HALTED = 3;
/**
 * Exit code of a validator stopped by a full disk (75 is EX_TEMPFAIL: try again later).
 * Nothing is lost: every write the node acknowledged is durable, and a restart once there
 * is space again recovers from the data directory and catches up from its peers.
 */
export const EXIT_DISK_FULL = 75;


function diskFullExit(data: string, error: unknown): number {
  process.stderr.write(
    `stele node: STOPPED: the disk holding ${data} is full (STORE_FULL): ${error instanceof Error ? error.message : String(error)}\n` +
      'stele node: every acknowledged write is durable; free some space and start the node again: it resumes from its data directory\n',
  );
  return EXIT_DISK_FULL;
}

/**
 * `stele node --config FILE`: runs one validator until SIGTERM or SIGINT. A fatal error
 * (a committed block this replica cannot apply, a failed disk write) halts it loudly with
 * exit code 3 rather than letting it serve a diverged state; a full disk stops it with
 * exit code 75 and a message saying so (a supervisor restarts it once there is space),
 * also when the disk fills while it stops.
 */
export async function nodeCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string' } }, false, 'node');
  if (values.config === undefined) usage('node needs --config FILE');
  // Installed before the start: a SIGTERM during a long replay took Node's default and
  // ended the process there (exit 143), not with a clean stop (review, 2026-12-01). A
  // signal during the start stops the node as soon as it has started. Handlers stay for
  // every signal: with `once`, a second SIGTERM or Ctrl-C during the stop got Node's
  // default action and ended the process half-way through it (exit 130 or 143; found in
  // review, 2026-11-30). Later signals are noted and the start or stop goes on.
  const state = { signal: null as string | null, started: false };
  let signalled: (name: string) => void = () => {};
  const signal = new Promise<string>((resolve) => {
    signalled = resolve;
  });
  const onSignal = (name: NodeJS.Signals): void => {
    if (state.signal !== null) process.stderr.write(`stele node: ${name} again; still ${state.started ? 'stopping' : 'starting, to stop once started'}\n`);
    state.signal ??= name;
    signalled(name);
  };
  for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, onSignal);
  try {
    return await runNode(values.config, signal, state);
  } finally {
    for (const name of ['SIGINT', 'SIGTERM'] as const) process.off(name, onSignal);
  }
}

async function runNode(configPath: string, signal: Promise<string>, state: { readonly signal: string | null; started: boolean }): Promise<number> {
  let fatal: (error: unknown) => void = () => {};
  const halted = new Promise<unknown>((resolve) => {
    fatal = resolve;
  });
  let node;
  try {
    node = await startNode(configPath, (error) => fatal(error));
  } catch (error) {
    if (isNoSpaceError(error)) return diskFullExit(`the data directory named in ${configPath}`, error);
    // A block of its own log that this replica cannot apply (it diverged before its last
    // stop), or stored bytes that fail their checksums: halted as a live divergence is, so
    // that a supervisor's "do not restart on 3" covers it. These exited 1 or 2 before
    // (found in review, 2026-11-30).
    if (isSteleError(error) && (error.details.replay === true || error.code === 'STORE_CORRUPT')) {
      process.stderr.write(`stele node: HALTED at start: ${error.message}${whereOf(error)}\nstele node: this data directory cannot be used as it is; see "Checking a running chain" in docs/operations.md\n`);
      return EXIT_HALTED;
    }
    throw error;
  }
  state.started = true;
  const duringStart = state.signal !== null;
  const { validator, config } = node;
  const peers = node.transport.provider === null ? node.transport.backend : `${node.transport.backend} (${node.transport.provider})`;
  process.stderr.write(`stele node: validator ${validator.status().index} of chain ${config.genesis}, data ${config.data}, height ${validator.height}, peers over ${peers}${node.url === null ? '' : `, API ${node.url}${config.api?.access.mode === 'members' ? ' (members mode)' : ''}`}\n`);
  // A halt wins over a signal when both came (a fatal error during a start that a signal
  // interrupted: before 2026-12-02 the signal won and the node exited 0; review).
  let haltedWith: { error: unknown } | null = null;
  void halted.then((error) => {
    haltedWith = { error };
  });
  const end = await Promise.race([halted.then((error) => ({ error })), signal.then((s) => ({ signal: s }))]);
  const haltedExit = (error: unknown): number => {
    if (isNoSpaceError(error)) return diskFullExit(config.data, error);
    process.stderr.write(`stele node: HALTED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}${isSteleError(error) ? whereOf(error) : ''}\n`);
    return EXIT_HALTED;
  };
  if ('error' in end) {
    await node.stop().catch(() => {});
    return haltedExit(end.error);
  }
  process.stderr.write(`stele node: ${end.signal}${duringStart ? ' during the start' : ''}, stopping\n`);
  try {
    await node.stop();
  } catch (error) {
    // Closing the store writes (LevelDB compacts, the logs sync): a disk that filled is the
    // 75 of a full disk, not an internal error with a stack (review, 2026-12-01); a commit
    // or index write that failed during the stop halts as it would have while running
    // (review, 2026-12-02: both exited 0).
    if (isNoSpaceError(error) || isSteleError(error)) return haltedExit(error);
    throw error;
  }
  // A fatal error reported while the node stopped.
  if (haltedWith !== null) return haltedExit((haltedWith as { error: unknown }).error);
  return EXIT_OK;
}

/** Where a coded error happened, when it says: which log or index (the remedies differ). */
function whereOf(error: SteleError): string {
  const path = error.details.path;
  return typeof path === 'string' ? ` (${path})` : '';
}
