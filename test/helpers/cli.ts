import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';

export interface CliResult { code: number | null; stdout: string; stderr: string }

/**
 * Runs the built CLI (dist/src/cli/main.js) with `args`, feeding `input` to stdin; `env` adds to
 * (or, with undefined, removes from) the inherited environment.
 */
export function runCli(args: string[], input = '', env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/src/cli/main.js'), ...args], { cwd: REPO_ROOT, env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
