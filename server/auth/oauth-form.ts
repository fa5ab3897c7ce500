// RFC 6749 §3.2 and Appendix B (and RFC 7009 §2.1, RFC 7662 §2.1, which reuse them): the bodies of
// the token, revocation and introspection endpoints are application/x-www-form-urlencoded in UTF-8,
// and no parameter may appear more than once. Any other body is answered here, before a handler
// sees it, as invalid_request: a handler only ever meets a well-formed form.
import express, { type NextFunction, type Request, type Response } from 'express';

const FORM_TYPE = 'application/x-www-form-urlencoded';
const FORM_LIMIT_BYTES = 64 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Why a body is not a usable form, as an error_description. */
class FormError extends Error {}

/**
 * The parameters of a form body. Decoded strictly: a broken percent-escape or byte sequence is an
 * error rather than kept as written, since a token or secret read wrongly would fail later for a
 * reason no one could see.
 */
function parseForm(body: Buffer): Record<string, string> {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new FormError('the body is not UTF-8');
  }
  // No prototype: a parameter named __proto__ or constructor is just a parameter.
  const form = Object.create(null) as Record<string, string>;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent((equals < 0 ? pair : pair.slice(0, equals)).replace(/\+/g, ' '));
      value = equals < 0 ? '' : decodeURIComponent(pair.slice(equals + 1).replace(/\+/g, ' '));
    } catch {
      throw new FormError('the body has a malformed percent-encoding');
    }
    if (name === '') throw new FormError('the body has a parameter without a name');
    if (name in form) throw new FormError(`the parameter ${name} is given more than once`);
    form[name] = value;
  }
  return form;
}

function contentTypeProblem(header: string | undefined): string | undefined {
  const [type, ...parameters] = (header ?? '').split(';');
  if (type.trim().toLowerCase() !== FORM_TYPE) return `the body must be ${FORM_TYPE}`;
  for (const parameter of parameters) {
    const [name, value = ''] = parameter.split('=');
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (name.trim().toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'utf8') return 'the body must be in UTF-8';
  }
  return undefined;
}

function bodyReadProblem(error: { type?: string }): string {
  if (error.type === 'entity.too.large') return `the body is larger than ${FORM_LIMIT_BYTES} bytes`;
  if (error.type === 'encoding.unsupported') return 'the Content-Encoding of the body is not supported';
  return 'the body could not be read as it is encoded';
}

/** Reads the form into `req.body`; answers `refuse(res, description)` for any body that is not one. */
export function oauthFormBody(refuse: (res: Response, description: string) => void): express.RequestHandler {
  const raw = express.raw({ type: () => true, limit: FORM_LIMIT_BYTES });
  return (req: Request, res: Response, next: NextFunction) => {
    const problem = contentTypeProblem(req.headers['content-type']);
    if (problem) return refuse(res, problem);
    raw(req, res, (error?: unknown) => {
      if (error) return refuse(res, bodyReadProblem(error as { type?: string }));
      try {
        req.body = parseForm(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      } catch (formError) {
        if (formError instanceof FormError) return refuse(res, formError.message);
        return next(formError);
      }
      next();
    });
  };
}
