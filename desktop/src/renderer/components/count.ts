const rules = new Intl.PluralRules('en');

/** "1 tab", "2 tabs", "10,000 servers": a count with its noun in the form English wants. */
export function count(value: number, one: string, other = `${one}s`): string {
  return `${value.toLocaleString('en')} ${rules.select(value) === 'one' ? one : other}`;
}
