import { HubError } from '../errors.js';
import type { HubClient } from './http.js';
import { isCommitHash } from './repo-id.js';

/** One file of a repository at a commit, as the model-info API lists it. */
export interface RepoFile {
  /** Path inside the repo, `/`-separated. */
  path: string;
  /** Bytes, when the API gave it (it does with `?blobs=true`). */
  size: number | null;
  /** Git blob id: the ETag of a regular (non-LFS) file. */
  blobId: string | null;
  /** SHA-256 of an LFS file's content: its ETag, and what the download is checked against. */
  lfsSha256: string | null;
}

export interface RepoInfo {
  /** The commit the revision resolved to. */
  commit: string;
  files: RepoFile[];
}

/** `{endpoint}/{repo}/resolve/{revision}/{path}`, each part escaped as huggingface_hub's hf_hub_url does. */
export function resolveUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A path the server lists must stay inside the snapshot folder: relative, `/`-separated, without
 * `.`/`..` segments or backslashes (a hostile or broken server must not write elsewhere).
 */
export function isSafeRepoPath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function parseSibling(raw: unknown, where: string): RepoFile {
  const s = raw as { rfilename?: unknown; size?: unknown; blobId?: unknown; lfs?: { sha256?: unknown; size?: unknown } | null };
  if (typeof s?.rfilename !== 'string' || !isSafeRepoPath(s.rfilename)) {
    throw new HubError(`${where}: the file list has an unusable name ${JSON.stringify(s?.rfilename)}`);
  }
  const size = typeof s.lfs?.size === 'number' ? s.lfs.size : typeof s.size === 'number' ? s.size : null;
  const sha = stringOrNull(s.lfs?.sha256);
  return { path: s.rfilename, size, blobId: stringOrNull(s.blobId), lfsSha256: sha !== null && /^[0-9a-f]{64}$/.test(sha) ? sha : null };
}

/** `GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true`: the commit and its files with sizes. */
export async function fetchRepoInfo(client: HubClient, repoId: string, revision: string): Promise<RepoInfo> {
  const url = `${client.options.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const what = `${repoId} (revision ${revision})`;
  const body = await client.withRetries(what, async () => {
    const { response, watchdog } = await client.send(url, { redirects: 'relative' });
    try {
      if (!response.ok) throw client.statusError(response, what);
      return await response.text();
    } catch (err) {
      throw watchdog.classify(err);
    } finally {
      watchdog.clear();
    }
  });
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = JSON.parse(body) as typeof info;
  } catch {
    throw new HubError(`${what}: the Hub's model info at ${url} is not JSON`);
  }
  if (typeof info?.sha !== 'string' || !isCommitHash(info.sha) || !Array.isArray(info.siblings)) {
    throw new HubError(`${what}: the Hub's model info at ${url} has no commit "sha" or no "siblings" list`);
  }
  return { commit: info.sha, files: info.siblings.map((s) => parseSibling(s, what)) };
}
