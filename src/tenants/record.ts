import type { Entity } from 'redis-om';
import { tenantModelSettingsSchema } from './model-settings.js';
import type { SecretBox } from './secret-box.js';
import { inboundAuthSchema, writebackSchema, type Tenant } from './tenant.js';

/** A tenant as its redis-om HASH holds it: secrets, write-back target and model settings sealed. */
export type TenantEntity = Entity & {
  name?: string;
  inboundAuth?: string;
  secret?: string;
  previousSecret?: string;
  previousSecretExpiresAt?: number;
  writeback?: string;
  model?: string;
  createdAt?: Date;
  updatedAt?: Date;
};

export const tenantEntityFields = {
  name: { type: 'string' },
  inboundAuth: { type: 'string' },
  secret: { type: 'string' },
  previousSecret: { type: 'string' },
  previousSecretExpiresAt: { type: 'number' },
  writeback: { type: 'string' },
  model: { type: 'string' },
  createdAt: { type: 'date' },
  updatedAt: { type: 'date' },
} as const;

/** The stored form of `tenant`, each secret sealed with its id and field as associated data. */
export function toEntity(tenant: Tenant, box: SecretBox): TenantEntity {
  const { id, previousSecret } = tenant;
  return {
    name: tenant.name,
    inboundAuth: tenant.inboundAuth,
    secret: box.seal(tenant.secret, `${id}:secret`),
    ...(previousSecret ? { previousSecret: box.seal(previousSecret.value, `${id}:previousSecret`) } : {}),
    ...(previousSecret?.expiresAt ? { previousSecretExpiresAt: previousSecret.expiresAt.getTime() } : {}),
    writeback: box.seal(JSON.stringify(tenant.writeback), `${id}:writeback`),
    // Sealed whole, like the write-back target: the key with the server it is meant for.
    ...(tenant.model ? { model: box.seal(JSON.stringify(tenant.model), `${id}:model`) } : {}),
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
  };
}

/** The tenant stored as `entity`, or undefined when there is none; unreadable fields fall back to defaults. */
export function fromEntity(id: string, entity: TenantEntity, box: SecretBox): Tenant | undefined {
  if (!entity.secret) return undefined;
  const writeback = writebackSchema.safeParse(
    JSON.parse(box.open(entity.writeback ?? '{"type":"none"}', `${id}:writeback`)),
  );
  const model = entity.model
    ? tenantModelSettingsSchema.safeParse(JSON.parse(box.open(entity.model, `${id}:model`)))
    : undefined;
  const inboundAuth = inboundAuthSchema.safeParse(entity.inboundAuth ?? 'hmac');
  const createdAt = entity.createdAt instanceof Date ? entity.createdAt : new Date(0);
  return {
    id,
    name: entity.name ?? id,
    inboundAuth: inboundAuth.success ? inboundAuth.data : 'hmac',
    secret: box.open(entity.secret, `${id}:secret`),
    previousSecret: entity.previousSecret
      ? {
          value: box.open(entity.previousSecret, `${id}:previousSecret`),
          expiresAt:
            typeof entity.previousSecretExpiresAt === 'number' ? new Date(entity.previousSecretExpiresAt) : undefined,
        }
      : undefined,
    writeback: writeback.success ? writeback.data : { type: 'none' },
    model: model?.success ? model.data : undefined,
    createdAt,
    updatedAt: entity.updatedAt instanceof Date ? entity.updatedAt : createdAt,
  };
}
