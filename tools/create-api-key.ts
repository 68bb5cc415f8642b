/**
 * Creates an API key directly in the jobs table: how the first admin of a tenant gets in.
 * Runs with your AWS credentials (the table's write permission is the authority).
 *
 *   npm run create-key -- --table <JobsTableName> --tenant acme --role admin --name first-admin
 *
 * Prints the key once; it is stored only as a hash.
 */
import { parseArgs } from 'node:util';
import { ApiKeyStore } from '../functions/adapters/api-key-store.js';
import { createDocumentClient } from '../functions/commons/clients.js';
import { ROLES, type Role, TENANT_ID } from '../functions/domain/auth.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    table: { type: 'string' },
    tenant: { type: 'string' },
    role: { type: 'string', default: 'admin' },
    name: { type: 'string', default: 'first admin' },
  },
});

const problems: string[] = [];
if (!values.table) problems.push('--table <JobsTableName> is required (a stack output)');
if (!values.tenant || !TENANT_ID.test(values.tenant)) {
  problems.push('--tenant is required: lowercase letters, digits and dashes, e.g. acme');
}
if (!(ROLES as readonly string[]).includes(values.role))
  problems.push(`--role must be one of ${ROLES.join(', ')}`);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(2);
}

const store = new ApiKeyStore(createDocumentClient(), values.table as string);
const { key, secretKey } = await store.create(
  {
    tenantId: values.tenant as string,
    name: values.name,
    role: values.role as Role,
    createdBy: 'create-key',
  },
  new Date(),
);
console.error(`Created key ${key.id} (tenant ${key.tenantId}, role ${key.role}). It is shown only now:`);
console.log(secretKey);
