import type { Enhancement } from '../../events.js';

const escapeHtml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/**
 * The internal note as HTML (ServiceDesk Plus renders note descriptions as HTML). Everything from
 * the LLM is escaped: its text derives from end-user input and must not become markup in the helpdesk.
 */
export function noteHtml(enhancement: Enhancement, model: string): string {
  const steps = enhancement.nextSteps.map((step) => `<li>${escapeHtml(step)}</li>`).join('');
  return [
    `<p><b>streamdesk suggestion</b> (${escapeHtml(model)}, confidence ${Math.round(enhancement.confidence * 100)} %)</p>`,
    `<p><b>Summary:</b> ${escapeHtml(enhancement.summary)}</p>`,
    enhancement.likelyCause ? `<p><b>Likely cause:</b> ${escapeHtml(enhancement.likelyCause)}</p>` : '',
    `<p><b>Suggested category:</b> ${escapeHtml(enhancement.suggestedCategory)} &middot; <b>Suggested priority:</b> ${escapeHtml(enhancement.suggestedPriority)}</p>`,
    steps ? `<p><b>Next steps:</b></p><ol>${steps}</ol>` : '',
  ].join('');
}

/** The same note as plain text, for webhook receivers. */
export function noteText(enhancement: Enhancement, model: string): string {
  return [
    `streamdesk suggestion (${model}, confidence ${Math.round(enhancement.confidence * 100)} %)`,
    `Summary: ${enhancement.summary}`,
    enhancement.likelyCause ? `Likely cause: ${enhancement.likelyCause}` : '',
    `Suggested category: ${enhancement.suggestedCategory} · Suggested priority: ${enhancement.suggestedPriority}`,
    ...enhancement.nextSteps.map((step, index) => `${index + 1}. ${step}`),
  ]
    .filter(Boolean)
    .join('\n');
}
