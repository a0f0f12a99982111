import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Environment variables as huggingface_hub reads them (tests pass their own). */
export type HubEnv = Readonly<Record<string, string | undefined>>;

/** Where and how to reach the Hub, from the same environment variables huggingface_hub reads. */
export interface HubSettings {
  /** HF_ENDPOINT without a trailing slash (default https://huggingface.co). */
  endpoint: string;
  /** HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file `huggingface-cli login` writes; null = anonymous. */
  token: string | null;
  /** The hub cache root that holds `models--org--name` folders. */
  cacheDir: string;
  /** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE: use the cache only. */
  offline: boolean;
  /** Seconds without data before a request counts as stalled (HF_HUB_DOWNLOAD_TIMEOUT, default 10). */
  timeoutMs: number;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** huggingface_hub's truth test for flags: 1, ON, YES or TRUE in any case. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

/** Python's os.path.expanduser for `~` and `~/…` (HOME first, as Python does on POSIX). */
function expandUser(p: string, env: HubEnv): string {
  if (p !== '~' && !p.startsWith('~/')) return p;
  const home = env['HOME'] ?? os.homedir();
  return home + p.slice(1);
}

/** Python's os.path.expandvars: `$NAME` and `${NAME}` of set variables are replaced, others left as they are. */
function expandVars(p: string, env: HubEnv): string {
  return p.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const value = env[name.startsWith('{') ? name.slice(1, -1) : name];
    return value ?? whole;
  });
}

function expand(p: string, env: HubEnv): string {
  return expandVars(expandUser(p, env), env);
}

/**
 * The cache and token locations exactly as huggingface_hub's constants.py resolves them:
 * HF_HOME = $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface;
 * cache = $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else HF_HOME/hub.
 */
export function hfHome(env: HubEnv): string {
  const home = env['HF_HOME'] ?? path.join(env['XDG_CACHE_HOME'] ?? path.join(expandUser('~', env), '.cache'), 'huggingface');
  return expand(home, env);
}

export function hubCacheDir(env: HubEnv): string {
  return expand(env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'] ?? path.join(hfHome(env), 'hub'), env);
}

/** The access token as huggingface_hub's get_token finds it; empty values count as unset. */
export function hubToken(env: HubEnv): string | null {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  const file = expand(env['HF_TOKEN_PATH'] ?? path.join(hfHome(env), 'token'), env);
  try {
    return fs.readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null; // no stored login: anonymous access
  }
}

export function hubSettings(env: HubEnv = process.env): HubSettings {
  const timeout = Number(env['HF_HUB_DOWNLOAD_TIMEOUT']);
  return {
    endpoint: (env['HF_ENDPOINT'] ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    token: hubToken(env),
    cacheDir: hubCacheDir(env),
    offline: isTrue(env['HF_HUB_OFFLINE'] || env['TRANSFORMERS_OFFLINE']),
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 10_000,
  };
}
