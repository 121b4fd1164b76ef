/**
 * Time vocabulary shared by every stage: hours as epoch milliseconds (UTC, on the hour), the
 * two ISO forms windcast writes, and the parser for the hours users type (--start, --at).
 */
import { WindcastError } from './errors.js';

export const HOUR_MS = 3_600_000;

/** Mean tropical year in hours: the period of the day-of-year features. */
export const TROPICAL_YEAR_HOURS = 365.2422 * 24;

/** A 365-day year in hours: the shortest training period that gets day-of-year features. */
export const COMMON_YEAR_HOURS = 365 * 24;

/** "2024-01-31T01Z", the form used in file names and metadata. */
export function isoHour(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13) + 'Z';
}

/** "2024-01-03T05:00Z", the form of reports and messages. */
export function isoMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16) + 'Z';
}

/** UTC hour of day (0..23) of epoch milliseconds. */
export function hourOfDay(ms: number): number {
  return ((Math.floor(ms / HOUR_MS) % 24) + 24) % 24;
}

/**
 * Epoch ms of an ISO hour typed by a user: 2024-01-31T00Z, 2024-01-31T00:00Z,
 * 2024-01-31T00:00:00Z, 2024-01-31T00 or with a space for the T; UTC only, on the hour.
 * `flag` names the option in the error (a usage error).
 */
export function parseIsoHour(text: string, flag: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?(Z|\+00(?::?00)?)?$/.exec(text.trim());
  if (!m) throw new WindcastError('usage', `${flag} must be an ISO hour in UTC like 2024-01-31T00Z, got "${text}"`);
  const [, y, mo, d, h, mi = '00', s = '00'] = m;
  if (mi !== '00' || s !== '00') throw new WindcastError('usage', `${flag} must be on the hour, got "${text}"`);
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h));
  const back = new Date(ms);
  if (Number.isNaN(ms) || Number(h) > 23 || back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d)) {
    throw new WindcastError('usage', `${flag} is not a real UTC hour: "${text}"`);
  }
  return ms;
}
