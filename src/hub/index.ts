// Hugging Face Hub downloads into a huggingface_hub-compatible cache (I/O layer: imports only errors.ts).
export { resolveModelReference } from './resolve.js';
export { snapshotDownload, type DownloadProgress, type SnapshotOptions } from './snapshot.js';
export { DEFAULT_INCLUDE, PYTORCH_BIN_PATTERN } from './include.js';
export { hubSettings, type HubEnv, type HubSettings } from './settings.js';
export { looksLikeRepoId, validateRepoId } from './repo-id.js';
export type { RetryPolicy } from './http.js';
