// The API key for a server started with `--api-key` (its `/v1/*` routes then need
// `Authorization: Bearer <key>`; the pages themselves do not). Kept in sessionStorage so it
// follows the user between the chat and text-generation pages and is gone with the tab.
const STORAGE_KEY = 'xverse-api-key';

function stored() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? '';
  } catch {
    return ''; // storage disabled (privacy settings): the key just is not remembered
  }
}

/** Shows the remembered key in `input` and remembers what is typed there. @param {HTMLInputElement} input */
export function bindApiKeyInput(input) {
  input.value = stored();
  input.addEventListener('input', () => {
    try {
      sessionStorage.setItem(STORAGE_KEY, input.value.trim());
    } catch {
      // not remembered; see stored()
    }
  });
}

/** @returns {Record<string, string>} */
export function authHeaders() {
  const key = stored();
  return key === '' ? {} : { authorization: `Bearer ${key}` };
}
