import { describe, expect, it } from "vitest";
import {
  charCount,
  descriptionProblem,
  emailProblem,
  newPasswordProblem,
  titleProblem,
  usernameProblem,
} from "./validate";

describe("input rules, as the services count", () => {
  it("counts characters, not UTF-16 units", () => {
    expect(charCount("😀é")).toBe(2);
  });

  it("says a 201-character title is one over, instead of cutting it", () => {
    expect(titleProblem("x".repeat(200))).toBeNull();
    expect(titleProblem("x".repeat(201))).toBe("Title is 201 characters, 1 over the limit of 200.");
    expect(titleProblem(`  ${"x".repeat(200)}  `)).toBeNull();
    expect(titleProblem("   ")).toBe("Enter a title.");
    expect(titleProblem("a\tb")).toMatch(/can't contain tabs/);
  });

  it("allows line breaks and tabs in details, up to 2000", () => {
    expect(descriptionProblem("a\nb\tc")).toBeNull();
    expect(descriptionProblem("x".repeat(2001))).toMatch(/1 over the limit of 2000/);
  });

  it("checks usernames, passwords and addresses like the auth-service", () => {
    expect(usernameProblem("ab")).toMatch(/3 to 32/);
    expect(usernameProblem("al ice")).toMatch(/only letters/);
    expect(usernameProblem("alice.b-c_d")).toBeNull();
    expect(newPasswordProblem("short")).toMatch(/at least 8/);
    expect(newPasswordProblem("aaaaaaaaaa")).toMatch(/one character repeated/);
    expect(newPasswordProblem("          ")).toMatch(/only spaces/);
    expect(newPasswordProblem("correct horse battery")).toBeNull();
    expect(emailProblem("")).toBeNull();
    expect(emailProblem("", true)).toMatch(/Enter/);
    expect(emailProblem("a@b")).toBeNull();
    expect(emailProblem("a@@b")).toMatch(/like name@example.com/);
    expect(emailProblem("a b@c.d")).toMatch(/like name@example.com/);
  });
});
