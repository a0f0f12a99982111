// The text-generation page for base models (XVERSE's text_generation_demo.py): the prompt is
// continued through `POST /v1/completions` with `stream: true`. Output is plain text (textContent):
// a base model's continuation is not Markdown, and nothing here is ever parsed as HTML.
import { samplingParams, servedModelId } from './sampling.js';
import { postSse } from './sse.js';
import { bindApiKeyInput } from './auth.js';

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const form = $('generate-form');
const prompt = $('prompt');
const outputPrompt = $('output-prompt');
const outputText = $('output-text');
const status = $('status');
const generateButton = $('generate');
const stopButton = $('stop');
const clearButton = $('clear');
const sliders = /** @type {HTMLInputElement[]} */ ([...document.querySelectorAll('input.param')]);
bindApiKeyInput($('api-key'));
/** @type {AbortController | null} */
let running = null;

// Show each slider's value next to its label, as the Gradio sliders do.
for (const slider of sliders) {
  const output = /** @type {HTMLOutputElement} */ (document.querySelector(`output[for="${slider.id}"]`));
  const show = () => (output.value = slider.value);
  slider.addEventListener('input', show);
  show();
}

form.addEventListener('submit', (/** @type {Event} */ event) => {
  event.preventDefault();
  void generate();
});
stopButton.addEventListener('click', () => running?.abort());
clearButton.addEventListener('click', () => {
  running?.abort();
  prompt.value = '';
  outputPrompt.textContent = '';
  outputText.textContent = '';
  status.textContent = '';
});

async function generate() {
  if (running) return;
  const controller = new AbortController();
  setRunning(controller);
  // The demo shows the prompt followed by its continuation; the prompt part is styled apart.
  outputPrompt.textContent = prompt.value;
  outputText.textContent = '';
  status.textContent = 'Generating…';
  try {
    const model = await servedModelId();
    const body = { prompt: prompt.value, stream: true, ...samplingParams(sliders) };
    if (model !== null) body.model = model;
    for await (const chunk of postSse('/v1/completions', body, controller.signal)) {
      const text = chunk?.choices?.[0]?.text;
      if (typeof text === 'string') outputText.textContent += text;
    }
    status.textContent = '';
  } catch (error) {
    status.textContent = controller.signal.aborted ? 'Stopped.' : `Error: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    setRunning(null);
  }
}

function setRunning(/** @type {AbortController | null} */ controller) {
  running = controller;
  generateButton.disabled = controller !== null;
  stopButton.disabled = controller === null;
}
