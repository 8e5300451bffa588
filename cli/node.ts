import { startNode } from '../node/run.js';
import { EXIT_OK, parse, usage } from './io.js';

/** Exit code of a validator that halted because its state diverged or its disk failed. */
export const EXIT_HALTED = 3;

/**
 * `stele node --config FILE`: runs one validator until SIGTERM or SIGINT. A fatal error
 * (a committed block this replica cannot apply, a failed disk write) halts it loudly with
 * exit code 3 rather than letting it serve a diverged state.
 */
export async function nodeCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string' } });
  if (values.config === undefined) usage('node needs --config FILE');
  let fatal: (error: unknown) => void = () => {};
  const halted = new Promise<unknown>((resolve) => {
    fatal = resolve;
  });
  const node = await startNode(values.config, (error) => fatal(error));
  const { validator, config } = node;
  process.stderr.write(`stele node: validator ${validator.status().index} of chain ${config.genesis}, data ${config.data}, height ${validator.height}${node.url === null ? '' : `, API ${node.url}${config.api?.access.mode === 'members' ? ' (members mode)' : ''}`}\n`);
  const signal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const end = await Promise.race([signal.then((s) => ({ signal: s })), halted.then((error) => ({ error }))]);
  if ('error' in end) {
    process.stderr.write(`stele node: HALTED: ${end.error instanceof Error ? (end.error.stack ?? end.error.message) : String(end.error)}\n`);
    await node.stop().catch(() => {});
    return EXIT_HALTED;
  }
  process.stderr.write(`stele node: ${end.signal}, stopping\n`);
  await node.stop();
  return EXIT_OK;
}
