/**
 * The ServiceDesk Plus webhook templates exactly as docs/servicedesk-plus.md tells an operator to
 * paste them, and what the helpdesk sends once it has substituted the placeholders.
 */
export const formTemplate: readonly (readonly [string, string])[] = [
  ['event', 'created'],
  ['id', '${id}'],
  ['subject', '${subject}'],
  ['description', '${description}'],
  ['priority', '${priority}'],
  ['category', '${category}'],
  ['requester', '${requester}'],
  ['requester_email', '${requester.email_id}'],
  ['site', '${site}'],
  ['created_time', '${created_time}'],
  ['last_updated_time', '${last_updated_time}'],
];

export const jsonTemplate =
  '{"event": "created", "id": "${id}", "priority": "${priority}", "category": "${category}", "requester": "${requester}", ' +
  '"requester_email": "${requester.email_id}", "site": "${site}", "created_time": "${created_time}", ' +
  '"last_updated_time": "${last_updated_time}", "subject": "${subject}", "description": "${description}"}';

export type SdpValues = Partial<
  Record<
    | 'id'
    | 'subject'
    | 'description'
    | 'priority'
    | 'category'
    | 'requester'
    | 'requester.email_id'
    | 'site'
    | 'created_time'
    | 'last_updated_time',
    string
  >
>;

/** Replaces each placeholder with its value; a field with no value keeps its placeholder, as the helpdesk leaves it. */
function fill(template: string, values: SdpValues, escape: (value: string) => string): string {
  return template.replace(/\$\{([a-z_.]+)\}/g, (placeholder, name: keyof SdpValues) =>
    values[name] === undefined ? placeholder : escape(values[name]),
  );
}

/** The form body (application/x-www-form-urlencoded) of the form template. */
export function formBody(values: SdpValues, event = 'created'): string {
  return new URLSearchParams(
    formTemplate.map(([key, value]): [string, string] => [
      key,
      key === 'event' ? event : fill(value, values, (v) => v),
    ]),
  ).toString();
}

/** The JSON template with the values pasted in as they are (no escaping of quotes or newlines). */
export function rawJsonBody(values: SdpValues, event = 'created'): string {
  return fill(jsonTemplate.replace('"event": "created"', `"event": "${event}"`), values, (v) => v);
}

/** The JSON template with the values escaped for JSON strings. */
export function escapedJsonBody(values: SdpValues, event = 'created'): string {
  return fill(jsonTemplate.replace('"event": "created"', `"event": "${event}"`), values, (v) =>
    JSON.stringify(v).slice(1, -1),
  );
}
