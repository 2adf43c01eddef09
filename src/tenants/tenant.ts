import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { tenantIdPattern } from '../streams/keys.js';
import type { TenantModelSettings } from './model-settings.js';

/**
 * ServiceDesk Plus Cloud (and MSP Cloud): a Zoho "self client" whose refresh token buys one-hour
 * access tokens from the accounts server of the portal's data centre.
 */
export const zohoOAuthSchema = z.object({
  type: z.literal('zoho-oauth'),
  accountsUrl: z.url({ protocol: /^https?$/ }),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  refreshToken: z.string().min(1),
});
export type ZohoOAuth = z.infer<typeof zohoOAuthSchema>;

export const writebackSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  // On-premises: the technician key in `authToken`; Cloud: Zoho OAuth in `auth`. Exactly one of the two.
  z
    .object({
      type: z.literal('servicedesk-plus'),
      baseUrl: z.url({ protocol: /^https?$/ }),
      authToken: z.string().min(1).optional(),
      auth: zohoOAuthSchema.optional(),
    })
    .refine((target) => (target.authToken === undefined) !== (target.auth === undefined), {
      message:
        'give either authToken (on-premises technician key) or auth (Zoho OAuth for ServiceDesk Plus Cloud), not both or neither',
      path: ['auth'],
    }),
  z.object({ type: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }), secret: z.string().min(16) }),
]);
export type WritebackTarget = z.infer<typeof writebackSchema>;

export const tenantIdSchema = z.string().regex(tenantIdPattern, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');

/** How a tenant's helpdesk proves itself: an HMAC signature (strongest), a token header, or HTTP Basic. */
export const inboundAuthModes = ['hmac', 'token', 'basic'] as const;
export type InboundAuth = (typeof inboundAuthModes)[number];
export const inboundAuthSchema = z.enum(inboundAuthModes);

export type Tenant = Readonly<{
  id: string;
  name: string;
  inboundAuth: InboundAuth;
  /** The signing secret (hmac) or token (token, basic). */
  secret: string;
  /** The secret before the last rotation, still accepted until retired or expired. */
  previousSecret: Readonly<{ value: string; expiresAt: Date | undefined }> | undefined;
  writeback: WritebackTarget;
  /** Its own model, base URL, API key and prompt language for the enhance stage; absent: the global ones. */
  model: TenantModelSettings | undefined;
  createdAt: Date;
  updatedAt: Date;
}>;

export type PublicTenant = {
  id: string;
  name: string;
  inboundAuth: InboundAuth;
  previousSecretExpiresAt: string | null | undefined;
  writeback: { type: WritebackTarget['type'] };
  createdAt: string;
  updatedAt: string;
};

/** What may be shown of a tenant: no signing secret or token, no helpdesk credentials. */
export function publicTenant(tenant: Tenant): PublicTenant {
  return {
    id: tenant.id,
    name: tenant.name,
    inboundAuth: tenant.inboundAuth,
    // undefined: no previous secret; null: one, accepted until retired.
    previousSecretExpiresAt: tenant.previousSecret
      ? (tenant.previousSecret.expiresAt?.toISOString() ?? null)
      : undefined,
    writeback: { type: tenant.writeback.type },
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

/** The secrets a request may be verified with right now: the current one, and the previous one during its overlap. */
export function acceptedSecrets(tenant: Tenant, now = Date.now()): string[] {
  const previous = tenant.previousSecret;
  return previous && (!previous.expiresAt || previous.expiresAt.getTime() > now)
    ? [tenant.secret, previous.value]
    : [tenant.secret];
}

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('hex')}`;
}
