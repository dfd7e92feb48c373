// The services' input rules, checked before sending so people hear about a problem
// as they type (and a 201-character title is never cut short silently). The server
// checks again; its words for the same rules are in errors.ts.

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 2000;
export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const EMAIL_MAX = 254;

/** Characters as the services count them (Unicode scalar values, like Rust's chars()). */
export function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: tabs and line breaks are allowed here
const CONTROL_BUT_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function titleProblem(title: string): string | null {
  const n = charCount(title.trim());
  if (n === 0) return "Enter a title.";
  if (n > TITLE_MAX) {
    return `Title is ${plural(n, "character")}, ${n - TITLE_MAX} over the limit of ${TITLE_MAX}.`;
  }
  if (CONTROL.test(title.trim())) return "Title can't contain tabs, line breaks or other control characters.";
  return null;
}

export function descriptionProblem(description: string): string | null {
  const n = charCount(description);
  if (n > DESCRIPTION_MAX) {
    return `Details are ${plural(n, "character")}, ${n - DESCRIPTION_MAX} over the limit of ${DESCRIPTION_MAX}.`;
  }
  if (CONTROL_BUT_BREAKS.test(description))
    return "Details can't contain control characters other than line breaks and tabs.";
  return null;
}

export function usernameProblem(username: string): string | null {
  const n = charCount(username);
  if (n === 0) return "Enter a username.";
  if (n < USERNAME_MIN || n > USERNAME_MAX) {
    return `Username must be ${USERNAME_MIN} to ${USERNAME_MAX} characters (it is ${n}).`;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(username)) {
    return "Username may contain only letters a to z, digits, and _ . or -";
  }
  return null;
}

/** Rules for a new password (registration, change, reset). */
export function newPasswordProblem(password: string): string | null {
  const n = charCount(password);
  if (n === 0) return "Enter a password.";
  if (n < PASSWORD_MIN) return `Password must be at least ${PASSWORD_MIN} characters (it is ${n}).`;
  if (n > PASSWORD_MAX) return `Password must be at most ${PASSWORD_MAX} characters (it is ${n}).`;
  if (password.trim() === "") return "Password can't be only spaces.";
  if ([...password].every((c) => c === password[0])) return "Password can't be one character repeated.";
  return null;
}

/** An optional address: empty is fine. */
export function emailProblem(email: string, required = false): string | null {
  if (email === "") return required ? "Enter an email address." : null;
  if (charCount(email) > EMAIL_MAX) return `Email address must be at most ${EMAIL_MAX} characters.`;
  const parts = email.split("@");
  const shape =
    parts.length === 2 &&
    parts[0] !== "" &&
    parts[1] !== "" &&
    parts[1].split(".").every((p) => p !== "") &&
    !/[\s<>,;]/.test(email);
  return shape ? null : "Enter an email address like name@example.com.";
}
