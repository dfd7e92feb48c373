// Form pieces that tie hints and errors to their fields (aria-describedby,
// aria-invalid), the screen heading that takes focus on arrival, and a countdown.

import {
  type InputHTMLAttributes,
  type ReactNode,
  type TextareaHTMLAttributes,
  useEffect,
  useRef,
  useState,
} from "react";
import { MAIN_HEADING_ID } from "./focus";

const describedBy = (...ids: (string | false | null | undefined)[]) => ids.filter(Boolean).join(" ") || undefined;

interface FieldBase {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  /** Shown after the hint, e.g. "12 of 200 characters". */
  counter?: ReactNode;
}

type ControlAria = { id: string; "aria-invalid": true | undefined; "aria-describedby": string | undefined };
type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, "id">;
type TextAreaProps = Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "id">;

/** The label, hint, counter and error around one control, and the aria attributes that tie them to it. */
function FieldFrame<P>({
  id,
  label,
  hint,
  error,
  counter,
  control,
  ...rest
}: FieldBase & P & { control: (props: P & ControlAria) => ReactNode }) {
  const aria: ControlAria = {
    id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy(
      error && `${id}-error`,
      hint ? `${id}-hint` : undefined,
      counter !== undefined && `${id}-count`,
    ),
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {control({ ...aria, ...(rest as P) })}
      {counter !== undefined && (
        <p id={`${id}-count`} className="hint counter">
          {counter}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="error">
          {error}
        </p>
      )}
    </div>
  );
}

export function Field(props: FieldBase & InputProps) {
  return <FieldFrame<InputProps> {...props} control={(p) => <input {...p} />} />;
}

export function TextAreaField(props: FieldBase & TextAreaProps) {
  return <FieldFrame<TextAreaProps> {...props} control={(p) => <textarea {...p} />} />;
}

/** A message about the whole form (not one field), focusable so focus can go to it. */
export function FormError({ id, children }: { id: string; children: ReactNode }) {
  if (!children) return null;
  return (
    <p id={id} className="error form-error" tabIndex={-1}>
      {children}
    </p>
  );
}

/** The screen's h1: focused when the screen is reached by navigation. */
export function ScreenHeading({ children }: { children: ReactNode }) {
  return (
    <h1 id={MAIN_HEADING_ID} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** Seconds left until `until` (ms, wall clock), ticking once a second; 0 when past. */
export function useSecondsLeft(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(t);
  }, [until]);
  if (until === null) return 0;
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/** Like useState, but also calls `persist` with every new value. */
export function usePersistedState<T>(initial: () => T, persist: (value: T) => void): [T, (v: T) => void] {
  const [value, setValue] = useState(initial);
  const persistRef = useRef(persist);
  persistRef.current = persist;
  return [
    value,
    (v: T) => {
      setValue(v);
      persistRef.current(v);
    },
  ];
}

/** Character count line for a limited field. */
export function countText(n: number, max: number): string {
  return n > max ? `${n} of ${max} characters: ${n - max} too many` : `${n} of ${max} characters`;
}
