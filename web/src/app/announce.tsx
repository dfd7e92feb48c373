// The page's only live regions: one polite, one assertive, visually hidden, for
// announcements (an item added, a session ended, a save that failed). Lists and
// forms are never live, so a redraw is never read out.

import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from "react";

type Announce = (message: string, options?: { assertive?: boolean }) => void;

const AnnounceContext = createContext<Announce>(() => {});

export function useAnnounce(): Announce {
  return useContext(AnnounceContext);
}

export function Announcer({ children }: { children: ReactNode }) {
  const [polite, setPolite] = useState("");
  const [assertive, setAssertive] = useState("");
  const timer = useRef<number | undefined>(undefined);
  const announce = useCallback<Announce>((message, options) => {
    const set = options?.assertive ? setAssertive : setPolite;
    // Clear first, so the same words said twice are read twice.
    set("");
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => set(message), 50);
  }, []);
  const value = useMemo(() => announce, [announce]);
  return (
    <AnnounceContext.Provider value={value}>
      {children}
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
        {polite}
      </div>
      <div className="visually-hidden" role="alert" aria-live="assertive" data-testid="announcer-assertive">
        {assertive}
      </div>
    </AnnounceContext.Provider>
  );
}
