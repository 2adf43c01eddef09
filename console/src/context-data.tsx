import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, tenantPath, type Asset, type ImportResult, type KbArticle, type Tenant } from './api.js';
import { formatTime } from './format.js';
import { navigate } from './router.js';
import { chosenTenant, Confirm, ErrorNote, Heading, rememberTenant, TenantSelect } from './ui.js';

type Kind = 'assets' | 'kb';
const segment: Record<Kind, string> = { assets: 'assets', kb: 'kb-articles' };
const kindLabel: Record<Kind, string> = { assets: 'Assets', kb: 'Knowledge-base articles' };
const fields: Record<Kind, { name: string; label: string; required: boolean; long?: boolean }[]> = {
  assets: [
    { name: 'hostname', label: 'Hostname', required: true },
    { name: 'network', label: 'Network (IP or CIDR)', required: true },
    { name: 'site', label: 'Site', required: false },
    { name: 'kind', label: 'Kind', required: false },
  ],
  kb: [
    { name: 'title', label: 'Title', required: true },
    { name: 'body', label: 'Body', required: true, long: true },
  ],
};
type Item = (Asset | KbArticle) & Record<string, unknown>;

function ImportForm({ tenant, kind, onImported }: { tenant: string; kind: Kind; onImported: () => void }) {
  const [file, setFile] = useState<File>();
  const [result, setResult] = useState<ImportResult>();
  const [error, setError] = useState<string>();
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!file) return;
    setError(undefined);
    setResult(undefined);
    const isJson = file.name.toLowerCase().endsWith('.json') || file.type === 'application/json';
    try {
      const answer = await api<ImportResult>(
        'POST',
        tenantPath(tenant, `${segment[kind]}/import?format=${isJson ? 'json' : 'csv'}`),
        await file.text(),
        isJson ? 'application/json' : 'text/csv',
      );
      setResult(answer);
      onImported();
    } catch (failure) {
      setError(failure instanceof ApiError ? `The file was not imported: ${failure.message}` : String(failure));
    }
  };
  return (
    <form class="import" onSubmit={(event) => void submit(event)} aria-labelledby={`import-${kind}`}>
      <h2 id={`import-${kind}`}>Import {kindLabel[kind].toLowerCase()}</h2>
      <p class="hint">
        A CSV file with a header line, or a JSON array; rows are inserted or replaced by id. The formats are in
        docs/stages.md.
      </p>
      <label for={`file-${kind}`}>CSV or JSON file</label>
      <input
        id={`file-${kind}`}
        type="file"
        accept=".csv,.json,text/csv,application/json"
        onChange={(event) => setFile(event.currentTarget.files?.[0])}
      />
      <button type="submit" disabled={!file}>
        Import
      </button>
      <ErrorNote message={error} />
      {result ? (
        <div role="status" class={result.errors.length ? 'notice warn' : 'notice'}>
          <p>
            {result.received} row(s) read: {result.inserted} added, {result.updated} replaced, {result.errors.length}{' '}
            not imported.
          </p>
          {result.errors.length ? (
            <ul class="row-errors">
              {result.errors.map((rowError) => (
                <li key={rowError.row}>
                  Row {rowError.row}
                  {rowError.line ? ` (line ${rowError.line})` : ''}
                  {rowError.id ? `, id ${rowError.id}` : ''}: {rowError.messages.join('; ')}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}

function EditForm({
  tenant,
  kind,
  item,
  onDone,
}: {
  tenant: string;
  kind: Kind;
  item: Item | 'new';
  onDone: (saved: boolean) => void;
}) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries([
      ['id', item === 'new' ? '' : item.id],
      ...fields[kind].map((field) => [field.name, item === 'new' ? '' : String(item[field.name] ?? '')]),
    ]),
  );
  const [error, setError] = useState<string>();
  const save = async (event: Event) => {
    event.preventDefault();
    try {
      const { id, ...rest } = values;
      await api('PUT', tenantPath(tenant, `${segment[kind]}/${encodeURIComponent(id ?? '')}`), rest);
      onDone(true);
    } catch (failure) {
      setError(`Not saved: ${(failure as Error).message}`);
    }
  };
  const field = (name: string, label: string, required: boolean, long = false, disabled = false) => (
    <span class="field" key={name}>
      <label for={`edit-${name}`}>
        {label}
        {required ? '' : ' (optional)'}
      </label>
      {long ? (
        <textarea
          id={`edit-${name}`}
          required={required}
          rows={6}
          value={values[name]}
          onInput={(event) => setValues({ ...values, [name]: event.currentTarget.value })}
        />
      ) : (
        <input
          id={`edit-${name}`}
          required={required}
          disabled={disabled}
          value={values[name]}
          onInput={(event) => setValues({ ...values, [name]: event.currentTarget.value })}
        />
      )}
    </span>
  );
  return (
    <form
      class="edit"
      onSubmit={(event) => void save(event)}
      aria-label={item === 'new' ? 'New item' : `Edit ${item.id}`}
    >
      <h2>{item === 'new' ? `New ${kind === 'assets' ? 'asset' : 'article'}` : `Edit ${item.id}`}</h2>
      {field('id', 'Id', true, false, item !== 'new')}
      {fields[kind].map((spec) => field(spec.name, spec.label, spec.required, spec.long))}
      <ErrorNote message={error} />
      <div class="actions">
        <button type="button" class="secondary" onClick={() => onDone(false)}>
          Cancel
        </button>
        <button type="submit">Save</button>
      </div>
    </form>
  );
}

export function ContextDataPage({
  tenants,
  params,
}: {
  tenants: Tenant[];
  params: Record<string, string | undefined>;
}) {
  const tenant = chosenTenant(tenants, params.tenant);
  const kind: Kind = params.kind === 'kb' ? 'kb' : 'assets';
  const [items, setItems] = useState<{ items: Item[]; total: number }>();
  const [q, setQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Item | 'new'>();
  const [deleting, setDeleting] = useState<Item>();
  const [error, setError] = useState<string>();
  const limit = 50;
  const load = () => {
    if (!tenant) return;
    const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (q) query.set('q', q);
    api<{ items: Item[]; total: number }>('GET', tenantPath(tenant, `${segment[kind]}?${query}`)).then(
      setItems,
      (failure: Error) => setError(failure.message),
    );
  };
  useEffect(() => {
    setItems(undefined);
    setError(undefined);
    load();
  }, [tenant, kind, offset]);
  const remove = async (item: Item) => {
    setDeleting(undefined);
    try {
      await api('DELETE', tenantPath(tenant, `${segment[kind]}/${encodeURIComponent(item.id)}`));
      load();
    } catch (failure) {
      setError(`Not deleted: ${(failure as Error).message}`);
    }
  };
  const columns = kind === 'assets' ? ['hostname', 'network', 'site', 'kind'] : ['title'];
  return (
    <section>
      <Heading>Context data</Heading>
      <p class="hint">
        What the context stage looks up for each new ticket: assets by the IP addresses in its text, and knowledge-base
        articles by its words.
      </p>
      <div class="filters">
        <TenantSelect
          tenants={tenants}
          value={tenant}
          onChange={(value) => {
            rememberTenant(value);
            navigate('context', { tenant: value, kind });
          }}
        />
        <span class="field">
          <label for="kind">Data</label>
          <select
            id="kind"
            value={kind}
            onChange={(event) => navigate('context', { tenant, kind: event.currentTarget.value })}
          >
            <option value="assets">Assets</option>
            <option value="kb">Knowledge-base articles</option>
          </select>
        </span>
      </div>
      {tenant ? <ImportForm tenant={tenant} kind={kind} onImported={load} /> : null}
      <h2>
        {kindLabel[kind]} of {tenant}
      </h2>
      <form
        class="filters"
        role="search"
        aria-label={`Find ${kindLabel[kind].toLowerCase()}`}
        onSubmit={(event) => {
          event.preventDefault();
          setOffset(0);
          load();
        }}
      >
        <span class="field">
          <label for="context-q">Contains</label>
          <input id="context-q" type="search" value={q} onInput={(event) => setQ(event.currentTarget.value)} />
        </span>
        <button type="submit">Find</button>
        <button type="button" class="secondary" onClick={() => setEditing('new')}>
          Add one
        </button>
      </form>
      <ErrorNote message={error} />
      {editing ? (
        <EditForm
          tenant={tenant}
          kind={kind}
          item={editing}
          onDone={(saved) => {
            setEditing(undefined);
            if (saved) load();
          }}
        />
      ) : null}
      {items && items.items.length === 0 ? (
        <p class="empty">
          {q
            ? 'Nothing matches.'
            : `No ${kindLabel[kind].toLowerCase()} for ${tenant} yet: import a file above or add one.`}
        </p>
      ) : null}
      {items && items.items.length > 0 ? (
        <>
          <table data-testid={`${kind}-table`}>
            <caption class="visually-hidden">
              {kindLabel[kind]} of {tenant}
            </caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                {columns.map((column) => (
                  <th scope="col" key={column}>
                    {column[0]!.toUpperCase() + column.slice(1)}
                  </th>
                ))}
                <th scope="col">Changed</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.items.map((item) => (
                <tr key={item.id}>
                  <th scope="row">{item.id}</th>
                  {columns.map((column) => (
                    <td key={column}>{String(item[column] ?? '—')}</td>
                  ))}
                  <td>{formatTime(item.updatedAt)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => setEditing(item)}
                      aria-label={`Edit ${item.id}`}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      class="danger"
                      onClick={() => setDeleting(item)}
                      aria-label={`Delete ${item.id}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="pager">
            <span>
              {offset + 1}–{offset + items.items.length} of {items.total}
            </span>
            <button
              type="button"
              class="secondary"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - limit))}
            >
              Previous
            </button>
            <button
              type="button"
              class="secondary"
              disabled={offset + limit >= items.total}
              onClick={() => setOffset(offset + limit)}
            >
              Next
            </button>
          </div>
        </>
      ) : null}
      {deleting ? (
        <Confirm
          title={`Delete ${deleting.id}?`}
          confirmLabel="Delete"
          onConfirm={() => void remove(deleting)}
          onCancel={() => setDeleting(undefined)}
        >
          <p>New tickets will no longer find it as context. Tickets already enhanced keep what they found.</p>
        </Confirm>
      ) : null}
    </section>
  );
}
