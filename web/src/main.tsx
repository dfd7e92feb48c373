// Start-up: read the configuration, make the session and the query client, render.

import { TransportProvider } from "@connectrpc/connect-query";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode, useEffect } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { Announcer } from "./app/announce";
import { AppContext } from "./app/context";
import { NoticesProvider, useNotices } from "./app/notices";
import { DeletesProvider } from "./app/todos";
import { type ServiceName, Session, serviceOf } from "./lib/api";
import { loadConfig } from "./lib/config";
import { backoff, shouldRetry } from "./lib/retry";
import "./style.css";

type QueryHook = (kind: "error" | "success", e: unknown, service: ServiceName) => void;
let onQuery: QueryHook = () => {};

/** The service a query talks to: connect-query keys name it, others say it in `meta`. */
function serviceOfQuery(query: { queryKey: readonly unknown[]; meta?: Record<string, unknown> }): ServiceName {
  if (query.meta?.service === "todo" || query.meta?.service === "auth") return query.meta.service;
  const key = query.queryKey[1] as { serviceName?: string } | undefined;
  return serviceOf(key?.serviceName ?? "");
}

/** Sends query failures to the notices (one per cause) and clears them on success. */
function QueryNotices() {
  const notices = useNotices();
  useEffect(() => {
    onQuery = (kind, e, service) => {
      if (kind === "success") notices.resolved(service);
      else
        void notices.report(e, service, {
          fromQuery: true,
          retry: () => queryClient?.refetchQueries({ type: "active" }),
        });
    };
    return () => {
      onQuery = () => {};
    };
  }, [notices]);
  return null;
}

let queryClient: QueryClient | undefined;

async function main() {
  const config = await loadConfig();
  const session = new Session(config);
  queryClient = new QueryClient({
    queryCache: new QueryCache({
      onError: (e, query) => onQuery("error", e, serviceOfQuery(query)),
      onSuccess: (_data, query) => onQuery("success", null, serviceOfQuery(query)),
    }),
    mutationCache: new MutationCache(),
    defaultOptions: {
      queries: {
        retry: shouldRetry(3),
        retryDelay: backoff(config.retryBaseMs),
        staleTime: 15_000,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
  const root = document.getElementById("root");
  if (!root) throw new Error("no #root");
  createRoot(root).render(
    <StrictMode>
      <AppContext.Provider value={{ config, session, queryClient }}>
        <TransportProvider transport={session.transport}>
          <QueryClientProvider client={queryClient}>
            <Announcer>
              <NoticesProvider session={session}>
                <QueryNotices />
                <DeletesProvider>
                  <App />
                </DeletesProvider>
              </NoticesProvider>
            </Announcer>
          </QueryClientProvider>
        </TransportProvider>
      </AppContext.Provider>
    </StrictMode>,
  );
}

void main();
