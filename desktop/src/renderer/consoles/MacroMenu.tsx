import { LightsoutError } from '@lightsout/shared';
import { useEffect, useRef, useState } from 'react';
import { Dialog } from '../components/Dialog.js';
import type { KeysNotice } from './KeysSent.js';
import { type Macro, type MacroStep, parseMacro, runMacro } from './macros.js';
import { saveMacros, useMacros } from './macro-store.js';

const EDIT = '__edit__';

/**
 * "Macro…" in a console's toolbar: runs one of the person's key macros on
 * this console (`send` hands one step to it and says whether it went out),
 * says how far it got, and opens the editor.
 */
export function MacroMenu({ send, disabled, notify }: { send(step: Exclude<MacroStep, { kind: 'wait' }>): boolean; disabled: boolean; notify(notice: KeysNotice | null, lasting?: boolean): void }) {
  const macros = useMacros();
  const [editing, setEditing] = useState(false);
  const [running, setRunning] = useState<string | null>(null);
  const cancel = useRef<(() => void) | null>(null);
  useEffect(() => () => cancel.current?.(), []);

  const run = async (macro: Macro) => {
    let steps: MacroStep[];
    try {
      steps = parseMacro(macro.source);
    } catch (error) {
      notify({ ok: false, text: `Macro “${macro.name}” not sent: ${error instanceof LightsoutError ? error.message : String(error)}` });
      return;
    }
    let cancelled = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const rejects = new Set<(error: Error) => void>();
    cancel.current = () => {
      cancelled = true;
      for (const timer of timers) clearTimeout(timer);
      for (const reject of rejects) reject(new Error('stopped'));
    };
    const wait = (ms: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          rejects.delete(reject);
          resolve();
        }, ms);
        timers.add(timer);
        rejects.add(reject);
      });
    setRunning(macro.name);
    try {
      const result = await runMacro(steps, (step) => !cancelled && send(step), wait, (progress) =>
        notify({ ok: true, text: `Macro “${macro.name}”: step ${progress.step} of ${progress.steps}${progress.waitingMs === undefined ? '' : ` — waiting ${progress.waitingMs} ms`}` }, true),
      );
      if (result.sent === result.steps) notify({ ok: true, text: `Macro “${macro.name}” sent (${result.steps} ${result.steps === 1 ? 'step' : 'steps'})` });
      else notify({ ok: false, text: `Macro “${macro.name}” stopped: the console is not connected — ${result.sent} of ${result.steps} steps sent, the rest not` });
    } catch {
      notify({ ok: false, text: `Macro “${macro.name}” stopped — the rest was not sent` });
    } finally {
      cancel.current = null;
      setRunning(null);
    }
  };

  return (
    <>
      {running ? (
        <button onClick={() => cancel.current?.()} data-testid="macro-stop">Stop macro</button>
      ) : (
        <select
          aria-label="Run a key macro"
          data-testid="macro-menu"
          value=""
          disabled={disabled}
          onChange={(event) => {
            const value = event.target.value;
            if (value === EDIT) return setEditing(true);
            const macro = macros[Number(value)];
            if (macro) void run(macro);
          }}
        >
          <option value="">Macro…</option>
          {macros.map((macro, index) => (
            <option key={index} value={index}>{macro.name}</option>
          ))}
          <option value={EDIT}>Edit macros…</option>
        </select>
      )}
      {editing ? <MacrosDialog macros={macros} onClose={() => setEditing(false)} /> : null}
    </>
  );
}

/** The person's macros: a name and the keys, each checked as it will be sent. */
function MacrosDialog({ macros, onClose }: { macros: readonly Macro[]; onClose(): void }) {
  const [draft, setDraft] = useState<Macro[]>(() => (macros.length > 0 ? macros.map((macro) => ({ ...macro })) : [{ name: '', source: '' }]));
  const problems = draft.map((macro) => {
    if (macro.name.trim() === '') return 'give it a name';
    try {
      parseMacro(macro.source);
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  });
  const change = (index: number, patch: Partial<Macro>) => setDraft(draft.map((macro, at) => (at === index ? { ...macro, ...patch } : macro)));
  return (
    <Dialog
      title="Key macros"
      testId="macros-dialog"
      onCancel={onClose}
      actions={
        <>
          <button onClick={onClose}>Cancel</button>
          <button
            className="primary"
            data-testid="macros-save"
            disabled={problems.some((problem) => problem !== null)}
            onClick={() => {
              saveMacros(draft.map((macro) => ({ name: macro.name.trim(), source: macro.source })));
              onClose();
            }}
          >
            Save
          </button>
        </>
      }
    >
      <p style={{ marginTop: 0, color: 'var(--text-muted)', maxWidth: 640, whiteSpace: 'normal' }}>
        Text is typed as is; <code>{'{Enter}'}</code>, <code>{'{Esc}'}</code>, <code>{'{Tab}'}</code>, <code>{'{Del}'}</code>, <code>{'{Up}'}</code> <code>{'{Down}'}</code> <code>{'{Left}'}</code> <code>{'{Right}'}</code>, <code>{'{F1}'}</code>…<code>{'{F12}'}</code> are keys; <code>{'{wait 2000}'}</code> waits 2 s. Example, into a BIOS menu: <code>{'{F2}{wait 3000}{Down}{Down}{Enter}'}</code>.
      </p>
      <table className="data macros">
        <thead><tr><th>Name</th><th>Keys</th><th /></tr></thead>
        <tbody>
          {draft.map((macro, index) => (
            <tr key={index} data-testid="macro-row">
              <td><input type="text" aria-label="Macro name" value={macro.name} onChange={(event) => change(index, { name: event.target.value })} /></td>
              <td>
                <input type="text" aria-label="Macro keys" value={macro.source} onChange={(event) => change(index, { source: event.target.value })} style={{ width: 320, fontFamily: 'var(--mono)' }} />
                {problems[index] && macro.source !== '' ? <div className="error-text" style={{ fontSize: 12 }}>{problems[index]}</div> : null}
              </td>
              <td><button aria-label={`Delete ${macro.name || 'this macro'}`} onClick={() => setDraft(draft.filter((_, at) => at !== index))}>Delete</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <button style={{ marginTop: 8 }} data-testid="macro-add" onClick={() => setDraft([...draft, { name: '', source: '' }])}>Add a macro</button>
    </Dialog>
  );
}
