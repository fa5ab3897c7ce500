// What the REST API answers, in the CapabilityStatement's terms (hl7.org/fhir/R4/capabilitystatement.html).
// The router and the CapabilityStatement both read this, so what is advertised is what is served.
export const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;
export const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'history-system', 'search-system'] as const;

export const CONDITIONAL = {
  conditionalCreate: true,
  conditionalUpdate: true,
  conditionalRead: 'not-supported',
  conditionalDelete: 'multiple',
} as const;
