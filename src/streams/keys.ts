/** The one place that builds Redis key names. Every tenant key carries the `{tenant}` hash tag. */
export type RedisKeys = ReturnType<typeof redisKeys>;

export function redisKeys(prefix: string) {
  const tenantKey = (tenant: string, suffix: string) => `${prefix}:{${tenant}}:${suffix}`;
  return {
    prefix,
    tenantIds: `${prefix}:tenants`,
    tenantEntityPrefix: `${prefix}:tenant`,
    consumersSeen: `${prefix}:consumers`,
    events: (tenant: string) => tenantKey(tenant, 'events'),
    dlq: (tenant: string) => tenantKey(tenant, 'dlq'),
    deliverySeen: (tenant: string, deliveryId: string) => tenantKey(tenant, `seen:${deliveryId}`),
    eventEmitted: (tenant: string, eventId: string) => tenantKey(tenant, `emitted:${eventId}`),
    retryState: (tenant: string, group: string) => tenantKey(tenant, `retry:${group}`),
  };
}

export const tenantIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
