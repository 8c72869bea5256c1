import { describe, expect, it } from 'vitest';
import { toErrorBody } from '../plugins/errors.js';
import { isStoreUnavailable } from './unavailable.js';

/** node-postgres's errors as a PostgreSQL restart produces them, and errors that are not about reaching the database. */
const sqlState = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('a database that cannot be reached is STORE_UNAVAILABLE (503), anything else stays a fault', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111 })],
    ['both loopback addresses refused', new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })], '')],
    ['admin shutdown (57P01)', sqlState('57P01', 'terminating connection due to administrator command')],
    ['the server starting up (57P03)', sqlState('57P03', 'the database system is starting up')],
    ['a connection failure (08006)', sqlState('08006', 'connection failure')],
    ['a connection cut mid-query', new Error('Connection terminated unexpectedly')],
    ['wrapped as a cause', new Error('store migration failed', { cause: new Error('Connection terminated unexpectedly') })],
  ])('%s', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(true);
    expect(toErrorBody(error)).toMatchObject({ status: 503, body: { code: 'STORE_UNAVAILABLE' } });
  });

  it.each([
    ['a unique violation (23505)', sqlState('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error (42601)', sqlState('42601', 'syntax error at or near "selec"')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
  ])('%s', (_name, error) => {
    expect(isStoreUnavailable(error)).toBe(false);
    expect(toErrorBody(error)).toEqual({ status: 500, body: { code: 'INTERNAL', message: 'internal error' } });
  });
});
