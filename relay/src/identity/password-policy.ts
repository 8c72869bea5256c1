import { LightsoutError } from '@lightsout/shared';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/**
 * Which new passwords are refused (NIST SP 800-63B §5.1.1.2: compare against
 * lists of commonly used or compromised values, repetitive or sequential
 * characters, context-specific words). The schema already demands 12
 * characters; zxcvbn-ts then estimates how many guesses a cracker needs from
 * its lists of common passwords, names and words, keyboard patterns,
 * repeats, sequences and dates, and from the context given (username,
 * tenant, "lightsout"). Score 3 (at least 10^8 guesses) is the floor: with
 * scrypt hashes that is "safely unguessable" in zxcvbn's own terms.
 */
const MIN_SCORE = 3;

let estimator: ZxcvbnFactory | undefined;

/** zxcvbn's warning keys, said in plain words (the library ships no English without another package). */
const WARNINGS: Record<string, string> = {
  straightRow: 'it is a straight row of keys',
  keyPattern: 'it is a short keyboard pattern',
  simpleRepeat: 'it repeats characters, like "aaa"',
  extendedRepeat: 'it repeats a pattern, like "abcabcabc"',
  sequences: 'it is a sequence, like "abc" or "6543"',
  recentYears: 'it contains a recent year',
  dates: 'it contains a date',
  topTen: 'it is one of the ten most used passwords',
  topHundred: 'it is one of the hundred most used passwords',
  common: 'it is a commonly used password',
  similarToCommon: 'it is a small change to a commonly used password',
  wordByItself: 'a single word is easy to guess',
  namesByThemselves: 'single names are easy to guess',
  commonNames: 'common names are easy to guess',
  userInputs: 'it contains your username or other account details',
  pwned: 'it appeared in a data breach',
};

/** Why `password` is too easy to guess, or undefined when it is acceptable. */
export function passwordWeakness(password: string, context: { username?: string; tenant?: string } = {}): string | undefined {
  estimator ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs });
  const userInputs = ['lightsout', ...[context.username, context.tenant].filter((value): value is string => typeof value === 'string' && value !== '')];
  // zxcvbn's cost grows with length; past 100 characters nothing is guessable anyway.
  const result = estimator.check(password.slice(0, 100), userInputs);
  if (result.score >= MIN_SCORE) return undefined;
  const warning = result.feedback.warning === null ? undefined : WARNINGS[result.feedback.warning];
  return warning ?? 'it is too easy to guess';
}

/** Throws PASSWORD_WEAK with the reason and what to do instead. */
export function requireStrongPassword(password: string, context: { username?: string; tenant?: string } = {}): void {
  const weakness = passwordWeakness(password, context);
  if (weakness === undefined) return;
  throw new LightsoutError('PASSWORD_WEAK', `that password is too easy to guess: ${weakness}`, {
    hint: 'use four or more unrelated words, or a password manager\'s random password (at least 12 characters)',
  });
}
