/**
 * The HF ↔ GGUF tensor names and the q/k row permutation are format facts shared with the GGUF
 * loader, so they live in src/formats/gguf-names.ts; the exporter imports them from here.
 */
export { ggufTensorName, permuteHeadRows } from '../formats/gguf-names.js';
