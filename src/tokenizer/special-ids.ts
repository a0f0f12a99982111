import { ConfigError } from '../errors.js';

/**
 * Special-token ids the caller wants to impose (usually the model's config.json ids). A number
 * replaces the tokenizer's own id; `null` or absent keeps it (config.json files often carry
 * `"pad_token_id": null`, which must not erase a pad token the tokenizer defines).
 */
export interface SpecialTokenOverrides {
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
}

/** Applies one override, checking that the id exists in a vocabulary of `vocabSize` ids. */
export function overrideId(field: string, value: number | null | undefined, own: number | null, vocabSize: number, source: string): number | null {
  if (value === undefined || value === null) return own;
  if (!Number.isInteger(value) || value < 0 || value >= vocabSize) {
    throw new ConfigError(`${field} ${value} is outside the vocabulary of ${source} (ids 0..${vocabSize - 1})`);
  }
  return value;
}
