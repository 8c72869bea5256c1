const rules = new Intl.PluralRules('en');

/** "1 tab", "2 tabs", "10,000 servers": a count with its noun in the form English wants. */
export function count(value: number, one: string, other = `${one}s`): string {
  return `${value.toLocaleString('en')} ${rules.select(value) === 'one' ? one : other}`;
}

/** " — it is running now" for one server, " — 2 of them are running now" for several; empty when none runs. */
export function runningNote(running: number, total: number): string {
  if (running <= 0) return '';
  if (total === 1) return ' — it is running now';
  return ` — ${running.toLocaleString('en')} of them ${running === 1 ? 'is' : 'are'} running now`;
}
