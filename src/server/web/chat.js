// The chat page: XVERSE's chat_demo.py flow (system on the first turn, exec instead of the user
// message) on top of our OpenAI-compatible API, with replies streamed into the last bubble.
import { renderMarkdown } from './markdown.js';
import { samplingParams, servedModelId } from './sampling.js';
import { postSse } from './sse.js';
import { bindApiKeyInput } from './auth.js';

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const history = $('history');
const status = $('status');
const form = $('composer');
const messageBox = $('message');
const systemBox = $('system');
const execBox = $('exec');
const sendButton = $('send');
const stopButton = $('stop');
const resetButton = $('reset');
const paramInputs = () => document.querySelectorAll('input.param');

/** The conversation as sent to the API: `{ role: 'system'|'user'|'tool'|'assistant', content }`. */
let messages = [];
/** @type {AbortController | null} set while a reply streams */
let streaming = null;
bindApiKeyInput($('api-key'));

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});
messageBox.addEventListener('keydown', (/** @type {KeyboardEvent} */ event) => {
  // Enter sends, Shift+Enter is a newline; Enter that confirms an IME composition is neither.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void send();
  }
});
stopButton.addEventListener('click', () => streaming?.abort());
resetButton.addEventListener('click', () => {
  streaming?.abort();
  messages = [];
  history.replaceChildren();
  setStatus('');
  messageBox.focus();
});

async function send() {
  if (streaming) return;
  const text = messageBox.value;
  const exec = execBox.value;
  if (text.trim() === '' && exec.trim() === '') return;

  // As chat_demo.py: the system text opens a new conversation only; a non-empty exec text (a
  // tool's result) is sent *instead of* the typed message — the API's `tool` role, which the
  // server renders as XVERSE's `Exec:` turn.
  const turn = [];
  if (messages.length === 0 && systemBox.value.trim() !== '') turn.push({ role: 'system', content: systemBox.value });
  const asked = exec.trim() !== '' ? { role: 'tool', content: exec, tool_call_id: 'exec' } : { role: 'user', content: text };
  turn.push(asked);
  messageBox.value = '';
  execBox.value = '';

  const askedBubble = addBubble(asked.role === 'tool' ? 'exec' : 'user', asked.content);
  const replyBubble = addBubble('assistant', '');
  replyBubble.classList.add('streaming');
  const request = [...messages, ...turn];
  const controller = new AbortController();
  setStreaming(controller);
  setStatus('Generating…');

  let reply = '';
  try {
    const model = await servedModelId();
    const body = { messages: request, stream: true, ...samplingParams(paramInputs()) };
    if (model !== null) body.model = model;
    for await (const chunk of postSse('/v1/chat/completions', body, controller.signal)) {
      const delta = chunk?.choices?.[0]?.delta?.content;
      if (typeof delta === 'string' && delta !== '') {
        reply += delta;
        fillBubble(replyBubble, reply);
        history.scrollTop = history.scrollHeight;
      }
    }
    messages = [...request, { role: 'assistant', content: reply }];
    setStatus('');
  } catch (error) {
    if (controller.signal.aborted) {
      // Stopped (or Reset): a stopped reply stays in the conversation as far as it got, as the
      // model did write it; Reset has already cleared everything.
      if (history.contains(replyBubble)) {
        messages = reply === '' ? request : [...request, { role: 'assistant', content: reply }];
        setStatus('Stopped.');
      }
    } else {
      // Refused or broken: take the turn back so the user can fix it and send again.
      askedBubble.remove();
      replyBubble.remove();
      if (asked.role === 'tool') execBox.value = asked.content;
      else messageBox.value = asked.content;
      setStatus(`Error: ${error instanceof Error ? error.message : String(error)}`);
    }
  } finally {
    replyBubble.classList.remove('streaming');
    setStreaming(null);
  }
}

/** @param {'user'|'exec'|'assistant'} role @param {string} text */
function addBubble(role, text) {
  const bubble = document.createElement('article');
  bubble.className = `bubble ${role}`;
  bubble.setAttribute('aria-label', role === 'assistant' ? 'Assistant' : role === 'exec' ? 'Tool result' : 'You');
  fillBubble(bubble, text);
  history.append(bubble);
  history.scrollTop = history.scrollHeight;
  return bubble;
}

/** User text is rendered with the same safe Markdown renderer as replies (never as HTML). */
function fillBubble(/** @type {HTMLElement} */ bubble, /** @type {string} */ text) {
  bubble.replaceChildren(renderMarkdown(text, document));
}

function setStreaming(/** @type {AbortController | null} */ controller) {
  streaming = controller;
  sendButton.disabled = controller !== null;
  stopButton.disabled = controller === null;
}

function setStatus(/** @type {string} */ text) {
  status.textContent = text;
}
