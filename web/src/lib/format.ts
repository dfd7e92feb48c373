// Dates, devices and security events in words.

import { SecurityEvent_Kind as Kind } from "../gen/auth/v1/auth_pb";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDateTime(d: Date): string {
  return dateTime.format(d);
}

/** "Chrome on Linux", from a user-agent string; the raw string when nothing matches. */
export function describeDevice(userAgent: string): string {
  const ua = userAgent.trim();
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /OPR\/|Opera/.test(ua)
      ? "Opera"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Chrome\/|Chromium\/|HeadlessChrome\//.test(ua)
          ? "Chrome"
          : /Safari\//.test(ua)
            ? "Safari"
            : /grpcurl/i.test(ua)
              ? "grpcurl"
              : /grpc-(\w+)/i.test(ua)
                ? `gRPC client (${ua.match(/grpc-(\w+)/i)?.[1]})`
                : null;
  const os = /Android/.test(ua)
    ? "Android"
    : /iPhone|iPad|iPod/.test(ua)
      ? "iOS"
      : /Windows/.test(ua)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(ua)
          ? "macOS"
          : /CrOS/.test(ua)
            ? "ChromeOS"
            : /Linux/.test(ua)
              ? "Linux"
              : null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
}

const KIND_WORDS: Record<Kind, string> = {
  [Kind.KIND_UNSPECIFIED]: "Something happened",
  [Kind.REGISTERED]: "Account created",
  [Kind.LOGIN_SUCCEEDED]: "Logged in",
  [Kind.LOGIN_FAILED]: "Wrong password entered",
  [Kind.LOGIN_THROTTLED]: "Logins paused after too many attempts",
  [Kind.LOGGED_OUT]: "Logged out",
  [Kind.LOGGED_OUT_ALL]: "Logged out everywhere",
  [Kind.SESSION_REVOKED]: "A session was ended",
  [Kind.REFRESH_REUSE_DETECTED]: "A stolen or copied session was stopped",
  [Kind.PASSWORD_CHANGED]: "Password changed",
  [Kind.PASSWORD_RESET_REQUESTED]: "Password reset asked for",
  [Kind.PASSWORD_RESET]: "Password reset",
  [Kind.EMAIL_CHANGED]: "Email address changed",
  [Kind.EMAIL_VERIFIED]: "Email address confirmed",
};

export function describeEvent(kind: Kind): string {
  return KIND_WORDS[kind] ?? "Something happened";
}

/** Events worth a second look are marked. */
export function isWarning(kind: Kind): boolean {
  return kind === Kind.LOGIN_FAILED || kind === Kind.LOGIN_THROTTLED || kind === Kind.REFRESH_REUSE_DETECTED;
}
