// Focus moved on purpose: after an action re-renders, focus goes to a named element
// once it exists (a few frames at most), never left on <body>.

export function focusById(id: string, { select = false } = {}): void {
  let frames = 0;
  const attempt = () => {
    const el = document.getElementById(id);
    if (el) {
      el.focus();
      if (select && el instanceof HTMLInputElement) el.select();
      return;
    }
    if (++frames < 30) requestAnimationFrame(attempt);
  };
  requestAnimationFrame(attempt);
}

/** The heading of the screen: every screen has one h1 with tabIndex -1 and this id. */
export const MAIN_HEADING_ID = "main-heading";

export function focusMainHeading(): void {
  focusById(MAIN_HEADING_ID);
}
