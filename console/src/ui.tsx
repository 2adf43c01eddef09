import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Tenant } from './api.js';

export function ErrorNote({ message }: { message: string | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

export function Heading({ children }: { children: ComponentChildren }) {
  return <h1 tabIndex={-1}>{children}</h1>;
}

export function TenantSelect({
  tenants,
  value,
  onChange,
  id = 'tenant',
}: {
  tenants: Tenant[];
  value: string;
  onChange: (tenant: string) => void;
  id?: string;
}) {
  if (tenants.length === 0)
    return (
      <p class="empty">
        No tenants yet. Create one with <code>streamdesk tenant create &lt;id&gt;</code> or{' '}
        <code>POST /v1/admin/tenants</code>.
      </p>
    );
  return (
    <span class="field">
      <label for={id}>Tenant</label>
      <select id={id} value={value} onChange={(event) => onChange(event.currentTarget.value)}>
        {tenants.map((tenant) => (
          <option key={tenant.id} value={tenant.id}>
            {tenant.id}
            {tenant.name && tenant.name !== tenant.id ? ` — ${tenant.name}` : ''}
          </option>
        ))}
      </select>
    </span>
  );
}

/** The tenant a page shows: the one in the URL, else the last one chosen, else the first. */
export function chosenTenant(tenants: Tenant[], fromUrl: string | undefined): string {
  const remembered = localStorage.getItem('streamdesk.tenant') ?? undefined;
  const wanted = [fromUrl, remembered].find((id) => id && tenants.some((tenant) => tenant.id === id));
  return wanted ?? tenants[0]?.id ?? '';
}

export function rememberTenant(tenant: string): void {
  localStorage.setItem('streamdesk.tenant', tenant);
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
export function Confirm({
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
}: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={onCancel} onClose={onCancel}>
      <h2 id="confirm-title">{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
