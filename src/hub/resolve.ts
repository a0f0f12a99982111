import fs from 'node:fs';
import { looksLikeRepoId } from './repo-id.js';
import { snapshotDownload, type SnapshotOptions } from './snapshot.js';

/**
 * A model reference as `fromPretrained` and `--model` take it: an existing local path is used as
 * it is; otherwise an `org/name` string is a Hugging Face repo id, resolved to its snapshot folder
 * in the cache (downloading what is missing); anything else is returned unchanged for the caller
 * to report as a missing path.
 */
export async function resolveModelReference(ref: string, options: SnapshotOptions = {}): Promise<string> {
  if (fs.existsSync(ref) || !looksLikeRepoId(ref)) return ref;
  return snapshotDownload(ref, options);
}
