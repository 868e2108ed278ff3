import { createHash } from 'node:crypto';
import { ApiError } from './errors';

/**
 * The listing's `nextCursor`: Temporal's page token, tied to the listing it continues and
 * sealed with a checksum. Temporal takes ~20 s to refuse a token it cannot read, and then says
 * only "something went wrong", so a cursor this API did not hand out for this listing is refused
 * here, at once, as 400 INVALID_CURSOR.
 *
 * Form: base64url of `<version>.<listing digest>.<token, base64url>.<checksum>`.
 */
const VERSION = 'c1';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

const checksumOf = (listing: string, token: string): string =>
  sha256(`${VERSION}.${listing}.${token}`).slice(0, 16);

/** `listing` names what is listed (the visibility query), so a cursor fits only its own. */
export function encodeCursor(token: Uint8Array, listing: string): string {
  const digest = sha256(listing).slice(0, 16);
  const body = Buffer.from(token).toString('base64url');
  return Buffer.from(`${VERSION}.${digest}.${body}.${checksumOf(digest, body)}`).toString(
    'base64url',
  );
}

export function decodeCursor(cursor: string, listing: string): Buffer {
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split('.');
  const [version, digest, body, checksum] = parts;
  const refuse = (why: string): ApiError =>
    new ApiError(
      400,
      'INVALID_CURSOR',
      `cursor: ${why}; pass a nextCursor from this listing as it was given, or leave it out to start from the first page`,
    );
  if (parts.length !== 4 || version !== VERSION || !digest || !body || !checksum) {
    throw refuse('not a cursor this API hands out');
  }
  if (checksumOf(digest, body) !== checksum) throw refuse('damaged (its checksum does not match)');
  if (digest !== sha256(listing).slice(0, 16)) {
    throw refuse('it belongs to a listing with other filters');
  }
  return Buffer.from(body, 'base64url');
}
