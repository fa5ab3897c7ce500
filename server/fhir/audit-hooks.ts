// Where interactions report what they read and wrote to the audit trail: only for requests a
// token authorised (with authorization off, or for Kiln's own work, nothing is recorded).
import type { AuditedInteraction, AuditedWhat } from '../audit/audit-trail.js';
import type { Queryable } from '../store/database.js';
import type { FhirContext } from './context.js';

export function auditRead(ctx: FhirContext, interaction: AuditedInteraction, what: AuditedWhat): void {
  if (ctx.access && ctx.audit) ctx.audit.read(ctx.access, interaction, what);
}

/** Inside the write's transaction, after the write. */
export async function auditWrite(ctx: FhirContext, tx: Queryable, interaction: AuditedInteraction, written: { resourceType: string; id: string; versionId: number }): Promise<void> {
  if (ctx.access && ctx.audit) await ctx.audit.written(tx, ctx.access, interaction, `${written.resourceType}/${written.id}/_history/${written.versionId}`);
}

/** Whether writes must open a transaction for their AuditEvent. */
export const audited = (ctx: FhirContext): boolean => Boolean(ctx.access && ctx.audit);
