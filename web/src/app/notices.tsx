// Problems with the services, shown once per cause at the top of the page, with a
// retry where retrying helps. A failed change says what was not saved; the same
// cause happening again adds to that notice instead of stacking a copy.

import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from "react";
import type { ServiceName, Session } from "../lib/api";
import { describe, type Problem, type Reach } from "../lib/errors";
import { useAnnounce } from "./announce";
import { focusMainHeading } from "./focus";

export interface Notice {
  cause: string;
  message: string;
  /** What was not saved ("Marking “Buy milk” done"). */
  unsaved: string[];
  retries: (() => unknown)[];
  retryable: boolean;
  /** Raised by background loading: it goes away by itself once loading works. */
  fromQuery: boolean;
  service: ServiceName;
}

interface ReportOptions {
  unsaved?: string;
  retry?: () => unknown;
  fromQuery?: boolean;
}

interface NoticesApi {
  notices: Notice[];
  /** Describes `e` (probing the other service when `service` gave no answer) and shows it. */
  report(e: unknown, service: ServiceName, options?: ReportOptions): Promise<Problem>;
  /** Background loading from `service` worked again. */
  resolved(service: ServiceName): void;
  dismiss(cause: string): void;
  retry(cause: string): void;
  clear(): void;
}

const NoticesContext = createContext<NoticesApi | null>(null);

export function useNotices(): NoticesApi {
  const api = useContext(NoticesContext);
  if (!api) throw new Error("useNotices outside NoticesProvider");
  return api;
}

/** Where a service that gave no answer stands: offline, only it, or both silent. */
export async function probeReach(session: Session, silent: ServiceName): Promise<Reach> {
  if (typeof navigator !== "undefined" && navigator.onLine === false) return "offline";
  const other: ServiceName = silent === "auth" ? "todo" : "auth";
  return (await session.answers(other)) ? "other-answers" : "neither-answers";
}

/** Causes that are about reaching a service, not about one request. */
const SERVICE_CAUSE = /^(no-answer|unavailable|slow|busy|offline|no-connection|internal)/;

export function NoticesProvider({ session, children }: { session: Session; children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const announce = useAnnounce();
  const noticesRef = useRef(notices);
  noticesRef.current = notices;

  const report = useCallback(
    async (e: unknown, service: ServiceName, options: ReportOptions = {}) => {
      let problem = describe(e, service);
      if (problem.cause.startsWith("no-answer:")) {
        const silent = problem.cause.slice("no-answer:".length) as ServiceName;
        problem = describe(e, service, await probeReach(session, silent));
      }
      if (problem.cancelled || problem.sessionEnded) return problem;
      // Request-level problems (a field, a missing todo) go to the notice only for a
      // change made in the background (a tick); forms show their own.
      if (!SERVICE_CAUSE.test(problem.cause) && !options.unsaved) return problem;
      const existing = noticesRef.current.find((n) => n.cause === problem.cause);
      if (!existing) announce(`${problem.message}${options.unsaved ? ` Not saved: ${options.unsaved}.` : ""}`);
      setNotices((list) => {
        const i = list.findIndex((n) => n.cause === problem.cause);
        const before = i >= 0 ? list[i] : null;
        const next: Notice = {
          cause: problem.cause,
          message: problem.message,
          service,
          retryable: problem.retryable,
          unsaved: options.unsaved ? [...(before?.unsaved ?? []), options.unsaved] : (before?.unsaved ?? []),
          retries:
            options.retry && !(options.fromQuery && before?.retries.length)
              ? [...(before?.retries ?? []), options.retry]
              : (before?.retries ?? []),
          fromQuery: (before ? before.fromQuery : true) && !!options.fromQuery,
        };
        if (i < 0) return [...list, next];
        const copy = list.slice();
        copy[i] = next;
        return copy;
      });
      return problem;
    },
    [announce, session],
  );

  const resolved = useCallback((service: ServiceName) => {
    setNotices((list) => {
      const kept = list.filter((n) => !(n.fromQuery && n.service === service && n.unsaved.length === 0));
      return kept.length === list.length ? list : kept;
    });
  }, []);

  const removeAndRefocus = useCallback((cause: string) => {
    const hadFocus = document.activeElement?.closest(`[data-notice="${CSS.escape(cause)}"]`);
    setNotices((list) => list.filter((n) => n.cause !== cause));
    if (hadFocus) focusMainHeading();
  }, []);

  const retry = useCallback(
    (cause: string) => {
      const notice = noticesRef.current.find((n) => n.cause === cause);
      removeAndRefocus(cause);
      announce("Trying again…");
      for (const again of notice?.retries ?? []) again();
    },
    [announce, removeAndRefocus],
  );

  const clear = useCallback(() => setNotices([]), []);

  const api = useMemo<NoticesApi>(
    () => ({ notices, report, resolved, dismiss: removeAndRefocus, retry, clear }),
    [notices, report, resolved, removeAndRefocus, retry, clear],
  );
  return <NoticesContext.Provider value={api}>{children}</NoticesContext.Provider>;
}

export function NoticeList() {
  const { notices, dismiss, retry } = useNotices();
  if (notices.length === 0) return null;
  return (
    <section className="notices" aria-label="Problems">
      {notices.map((n) => (
        <div key={n.cause} className="notice notice-problem" data-notice={n.cause}>
          <p>
            {n.message}
            {n.unsaved.length > 0 && <> Not saved: {n.unsaved.join("; ")}.</>}
          </p>
          <div className="actions">
            {n.retryable && (
              <button type="button" onClick={() => retry(n.cause)}>
                Try again
              </button>
            )}
            <button type="button" className="secondary" onClick={() => dismiss(n.cause)}>
              Dismiss
            </button>
          </div>
        </div>
      ))}
    </section>
  );
}
