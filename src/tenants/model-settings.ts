import { z } from 'zod';
import { badRequest } from '../admin/input.js';

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/** A language the prompt can name: an ISO 639 code, optionally with a region ("de", "fr", "pt-BR"). */
export const promptLanguageSchema = z
  .string()
  .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'expected a language code such as "de", "fr" or "pt-BR"')
  .refine((code) => languageNames.of(code) !== undefined, 'is not a known language code');

/** The language's English name, as the prompt asks for it ("German", "Brazilian Portuguese"). */
export function languageName(code: string): string {
  return languageNames.of(code) ?? code;
}

const modelName = z.string().regex(/^[A-Za-z0-9._:/@+-]{1,200}$/, 'expected 1 to 200 letters, digits or . _ : / @ + -');
// Sent as a header: printable ASCII without spaces.
const apiKey = z.string().regex(/^[\x21-\x7e]{1,4096}$/, 'expected 1 to 4096 printable characters without spaces');
const baseUrl = z
  .string()
  .max(2_000)
  .refine((value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL')
  .refine(
    (value) => !URL.canParse(value) || (!new URL(value).username && !new URL(value).password),
    'must not carry credentials; set apiKey instead',
  );

/** A tenant's own model settings; each one absent falls back to the global OPENAI_* setting. */
export const tenantModelSettingsSchema = z
  .object({
    model: modelName.optional(),
    baseUrl: baseUrl.optional(),
    apiKey: apiKey.optional(),
    language: promptLanguageSchema.optional(),
  })
  .strict()
  // The global key must never be sent to a server only this tenant names.
  .refine((settings) => settings.baseUrl === undefined || settings.apiKey !== undefined, {
    message: "a baseUrl needs the tenant's own apiKey",
    path: ['apiKey'],
  });
export type TenantModelSettings = z.infer<typeof tenantModelSettingsSchema>;

/** A change (admin PUT, CLI set): a field given replaces the stored one, null removes it, an absent one is kept. */
export const modelSettingsChangeSchema = z
  .object({
    model: modelName.nullable().optional(),
    baseUrl: baseUrl.nullable().optional(),
    apiKey: apiKey.nullable().optional(),
    language: promptLanguageSchema.nullable().optional(),
  })
  .strict()
  .refine((change) => Object.keys(change).length > 0, 'give at least one of model, baseUrl, apiKey, language');
export type ModelSettingsChange = z.infer<typeof modelSettingsChangeSchema>;

const fields = ['model', 'baseUrl', 'apiKey', 'language'] as const;

/** The settings after a change; BAD_REQUEST when the result is not valid (a baseUrl left without a key). Undefined: none left. */
export function applyModelChange(
  current: TenantModelSettings | undefined,
  change: ModelSettingsChange,
): TenantModelSettings | undefined {
  const merged: Record<string, string> = {};
  for (const field of fields) {
    const value = change[field] === undefined ? current?.[field] : change[field];
    if (typeof value === 'string') merged[field] = value;
  }
  if (Object.keys(merged).length === 0) return undefined;
  const parsed = tenantModelSettingsSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  throw badRequest(parsed.error);
}

export type PublicModelSettings = {
  model: string | null;
  baseUrl: string | null;
  language: string | null;
  apiKeySet: boolean;
};

/** What may be shown of a tenant's model settings: everything but the key, of which only whether one is set. */
export function publicModelSettings(settings: TenantModelSettings | undefined): PublicModelSettings {
  return {
    model: settings?.model ?? null,
    baseUrl: settings?.baseUrl ?? null,
    language: settings?.language ?? null,
    apiKeySet: settings?.apiKey !== undefined,
  };
}
