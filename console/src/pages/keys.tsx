import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiKey, CreatedApiKey } from '../../../client/index.js';
import { must } from '../api.js';
import { useAction, useApp, useResource } from '../hooks.js';
import { Dialog, ErrorBox, Field, Loading, PageTitle, StatusBadge, Time } from '../ui.js';

export function KeysPage() {
  const { client, announce, isAdmin } = useApp();
  const [name, setName] = useState('');
  const [role, setRole] = useState<'viewer' | 'operator' | 'admin'>('viewer');
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const keys = useResource(async () => {
    const items: ApiKey[] = [];
    let cursor: string | null = null;
    do {
      const body: { items: ApiKey[]; nextCursor: string | null } = await must(
        client.GET('/v1/keys', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
      );
      items.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor && items.length < 1000);
    return items;
  }, [client]);

  const create = useAction(async () => {
    const key = await must(client.POST('/v1/keys', { body: { name: name.trim(), role } }));
    setCreated(key);
    setName('');
    announce(`Key ${key.name} created. Copy it now: it is shown only once.`);
    keys.reload();
  });
  const revoke = useAction(async (key: ApiKey) => {
    await must(client.DELETE('/v1/keys/{keyId}', { params: { path: { keyId: key.id } } }));
    announce(`Key ${key.name} revoked.`);
    setRevoking(null);
    keys.reload();
  });

  return (
    <>
      <div class="page-head">
        <PageTitle>API keys</PageTitle>
      </div>
      {!isAdmin && <p class="notice">Only admins manage keys; the API will refuse this credential.</p>}
      <section class="card" aria-labelledby="create-key-title">
        <h2 id="create-key-title">Create a key</h2>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            create.run();
          }}
        >
          <Field id="key-name" label="Name">
            <input
              id="key-name"
              type="text"
              required
              maxLength={128}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
          <Field id="key-role" label="Role">
            <select
              id="key-role"
              value={role}
              onChange={(e) => setRole(e.currentTarget.value as 'viewer' | 'operator' | 'admin')}
            >
              <option value="viewer">viewer: reads</option>
              <option value="operator">operator: runs, pauses, redrives</option>
              <option value="admin">admin: everything, keys included</option>
            </select>
          </Field>
          <button type="submit" class="button primary" disabled={create.busy}>
            Create key
          </button>
        </form>
        <ErrorBox error={create.error} context="Key not created" />
        {created && <NewSecret created={created} onDismiss={() => setCreated(null)} />}
      </section>
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Keys</h2>
        <ErrorBox error={keys.error} context="Could not list the keys" />
        <ErrorBox error={revoke.error} context="Revoke refused" />
        {!keys.data ? (
          keys.error ? null : (
            <Loading what="keys" />
          )
        ) : (
          <div class="table-wrap">
            <table class="data">
              <caption class="visually-hidden">API keys, without their secrets</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Id</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col">By</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">{k.name}</th>
                    <td>
                      <code class="wrap">{k.id}</code>
                    </td>
                    <td>{k.role}</td>
                    <td>
                      <Time at={k.createdAt} />
                    </td>
                    <td>
                      <code class="wrap">{k.createdBy}</code>
                    </td>
                    <td>
                      <StatusBadge status={k.revokedAt ? 'revoked' : 'active'} />
                      {k.revokedAt && (
                        <div class="muted small">
                          <Time at={k.revokedAt} />
                        </div>
                      )}
                    </td>
                    <td>
                      {!k.revokedAt && (
                        <button
                          type="button"
                          class="button subtle small"
                          aria-label={`Revoke key ${k.name}`}
                          onClick={() => setRevoking(k)}
                        >
                          Revoke…
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Dialog open={revoking !== null} title="Revoke the key" onClose={() => setRevoking(null)}>
        <p>
          Revoke <strong>{revoking?.name}</strong> (<code>{revoking?.id}</code>)? Anything using it is refused
          from now on.
        </p>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => setRevoking(null)}>
            Keep it
          </button>
          <button
            type="button"
            class="button danger"
            disabled={revoke.busy}
            onClick={() => revoking && revoke.run(revoking)}
          >
            Revoke key
          </button>
        </div>
      </Dialog>
    </>
  );
}

function NewSecret({ created, onDismiss }: { created: CreatedApiKey; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  const box = useRef<HTMLElement>(null);
  useEffect(() => box.current?.focus(), []);
  return (
    <section class="secret" ref={box} tabIndex={-1} aria-labelledby="secret-title">
      <h3 id="secret-title">
        Key “{created.name}” ({created.role}) created
      </h3>
      <p>Copy it now: this is the only time it is shown. Sundial keeps only a hash.</p>
      <p>
        <label for="new-secret" class="visually-hidden">
          The new key
        </label>
        <input
          id="new-secret"
          class="mono"
          readOnly
          value={created.key}
          onFocus={(e) => e.currentTarget.select()}
        />
      </p>
      <div class="toolbar">
        <button
          type="button"
          class="button"
          onClick={async () => {
            await navigator.clipboard?.writeText(created.key).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" class="button subtle" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </section>
  );
}
