import { HubError } from '../errors.js';

/** `org/name`: what tells a Hub repository apart from a local path (a single name is never taken as a repo). */
const REPO_ID_SHAPE = /^[\w.-]+\/[\w.-]+$/;

/** Whether `ref` has the shape of a Hub model id (`org/name`); callers check the local path first. */
export function looksLikeRepoId(ref: string): boolean {
  return REPO_ID_SHAPE.test(ref);
}

/**
 * Throws a HubError unless `repoId` is a valid model id by the Hub's rules (as huggingface_hub
 * validates them): `org/name`, word characters, `-` and `.`, no `--` or `..` (the cache uses `--` as
 * its separator), no part starting or ending with `-` or `.`, at most 96 characters.
 */
export function validateRepoId(repoId: string): void {
  const bad = (why: string) => new HubError(`"${repoId}" is not a valid Hugging Face repo id: ${why}`);
  if (!REPO_ID_SHAPE.test(repoId)) throw bad('expected org/name (letters, digits, "_", "-", ".")');
  if (repoId.length > 96) throw bad('longer than 96 characters');
  if (repoId.includes('--') || repoId.includes('..')) throw bad('"--" and ".." are not allowed');
  for (const part of repoId.split('/')) {
    if (/^[-.]|[-.]$/.test(part)) throw bad(`"${part}" starts or ends with "-" or "."`);
  }
}

/** The repo's folder in the cache, named as huggingface_hub names it: `models--org--name`. */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

/** A full 40-digit commit hash (a revision that needs no refs/ lookup). */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}
