import { ApiError } from './api-error.js';

/** The part of an ajv error this module reads. */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** '/messages/0/content' → 'messages[0].content' (OpenAI's way of naming a field). */
export function fieldName(instancePath: string): string {
  return instancePath.split('/').slice(1).reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

/**
 * Turns fastify's schema-validation errors into one 400 naming the field. For a field with several
 * allowed forms (`anyOf`, e.g. a number or null), ajv lists each failed form and then the anyOf
 * itself; the message names the field and the first form it should have had.
 */
export function validationError(errors: readonly SchemaError[]): ApiError {
  const first = errors[0];
  if (first === undefined) return new ApiError(400, 'the request body is invalid');
  const anyOf = errors.find((e) => e.keyword === 'anyOf');
  const at = anyOf ?? first;
  let param = fieldName(at.instancePath);
  if (at.keyword === 'required' && typeof at.params['missingProperty'] === 'string') {
    param = param ? `${param}.${at.params['missingProperty']}` : at.params['missingProperty'];
    return new ApiError(400, `${param}: is required`, param);
  }
  if (at.keyword === 'additionalProperties' && typeof at.params['additionalProperty'] === 'string') {
    param = param ? `${param}.${at.params['additionalProperty']}` : at.params['additionalProperty'];
    return new ApiError(400, `${param}: unknown field`, param);
  }
  // Each failed form at the field itself says what it should have been ("must be integer", "must be null").
  const forms = anyOf ? errors.filter((e) => e !== anyOf && e.instancePath === anyOf.instancePath && e.message).map((e) => e.message as string) : [];
  const detail = forms.length > 0 ? [...new Set(forms)].join(' or ')
    : anyOf ? `has no allowed form (${fieldName(first.instancePath) || 'body'} ${first.message ?? 'is invalid'})` : (first.message ?? 'is invalid');
  if (first.keyword === 'enum' && Array.isArray(first.params['allowedValues'])) {
    return new ApiError(400, `${param}: must be one of ${(first.params['allowedValues'] as unknown[]).join(', ')}`, param || null);
  }
  return new ApiError(400, `${param || 'body'}: ${detail}`, param || null);
}
