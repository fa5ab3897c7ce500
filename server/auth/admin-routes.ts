// The administration API: users and client applications (admins only), and EHR launches
// (admins and practitioners, the way an EHR starts an app for the patient on screen). JSON in,
// checked with zod; failures are OperationOutcomes like the rest of Kiln's answers.
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { FhirError, issue } from '../fhir/errors.js';
import { forbidden } from '../fhir/access-checks.js';
import type { Access } from '../fhir/context.js';
import { readCurrent } from '../store/resource-store.js';
import type { AuthService } from './auth-service.js';
import { ClientInputError, createClient, listClients } from './clients.js';
import { createUser, listUsers, setUserActive, UserInputError, ROLES } from './users.js';

const LAUNCH_SECONDS = 300;
const JWK = z.record(z.string(), z.unknown());

const newUser = z.object({ username: z.string(), password: z.string(), role: z.enum(ROLES as [string, ...string[]]), fhirUser: z.string().nullish() });
const newClient = z.object({
  name: z.string(),
  kind: z.enum(['public', 'confidential-symmetric', 'confidential-asymmetric']),
  redirectUris: z.array(z.string()).optional(),
  scope: z.string(),
  grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).optional(),
  jwks: z.object({ keys: z.array(JWK) }).optional(),
  jwksUri: z.string().optional(),
});
const newLaunch = z.object({ patient: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/), encounter: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/).optional() });

const invalid = (text: string) => new FhirError(400, [issue('invalid', text)]);

function parsed<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const first = result.error.issues[0];
    throw invalid(`${first.path.join('.') || 'body'}: ${first.message}`);
  }
  return result.data;
}

/** `gate` checks the bearer token (and the rate limits) of every request. */
export function adminRouter(auth: AuthService, gate: express.RequestHandler): express.Router {
  const router = express.Router();
  // The token first: no body is parsed for a caller without one.
  router.use(gate);
  router.use(express.json({ limit: '256kb' }));
  const allow = (...roles: Access['role'][]) => (_req: Request, res: Response, next: NextFunction) => {
    const access = res.locals.access as Access;
    next(roles.includes(access.role) ? undefined : forbidden(`Only ${roles.join(' and ')} accounts may do this`));
  };
  const inputErrors = (error: unknown) => {
    if (error instanceof UserInputError || error instanceof ClientInputError) throw invalid(error.message);
    throw error;
  };

  router.get('/users', allow('admin'), async (_req, res) => void res.json(await listUsers(auth.db)));
  router.post('/users', allow('admin'), async (req, res) => {
    const body = parsed(newUser, req.body);
    const user = await createUser(auth.db, { ...body, role: body.role as (typeof ROLES)[number] }).catch(inputErrors);
    res.status(201).json(user);
  });
  router.patch('/users/:id', allow('admin'), async (req, res) => {
    const body = parsed(z.object({ active: z.boolean() }), req.body);
    const user = await setUserActive(auth.db, String(req.params.id), body.active);
    if (!user) throw new FhirError(404, [issue('not-found', `No user ${String(req.params.id)}`)]);
    res.json(user);
  });
  router.get('/clients', allow('admin'), async (_req, res) => void res.json(await listClients(auth.db)));
  router.post('/clients', allow('admin'), async (req, res) => {
    const body = parsed(newClient, req.body);
    const { client, secret } = await createClient(auth.db, body as Parameters<typeof createClient>[1]).catch(inputErrors);
    res.status(201).json({ ...client, ...(secret ? { clientSecret: secret } : {}) });
  });
  // An EHR launch: a one-time handle for the patient (and encounter) the app opens on.
  router.post('/launch', allow('admin', 'practitioner'), async (req, res) => {
    const body = parsed(newLaunch, req.body);
    const patient = await readCurrent(auth.db, 'Patient', body.patient);
    if (!patient || patient.deleted) throw new FhirError(404, [issue('not-found', `Patient/${body.patient} is not known`)]);
    const launch = randomUUID();
    await auth.db.query(`INSERT INTO kiln_launch (id, patient, encounter, expires) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, [launch, body.patient, body.encounter ?? null, LAUNCH_SECONDS]);
    res.status(201).json({ launch, expiresIn: LAUNCH_SECONDS });
  });
  return router;
}
