import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Api, SessionEndedError, describeError } from "./api";
import { loadConfig, type Config } from "./config";
import { h, mount } from "./dom";
import type { Todo } from "./gen/todo/v1/todo_pb";

const app = document.getElementById("app")!;
const account = document.getElementById("account")!;
const who = document.getElementById("who")!;
const logoutButton = document.getElementById("logout") as HTMLButtonElement;
const banner = document.getElementById("banner")!;

let api: Api;
let config: Config;

// ---------------------------------------------------------------- helpers

function showBanner(message: string | null): void {
  banner.textContent = message ?? "";
  banner.hidden = !message;
}

function showError(el: HTMLElement, e: unknown): void {
  // A finished session is handled by the listener (back to the login screen).
  if (e instanceof SessionEndedError) return;
  el.textContent = describeError(e);
  el.hidden = false;
}

function clearError(el: HTMLElement): void {
  el.textContent = "";
  el.hidden = true;
}

function errorBox(id: string): HTMLParagraphElement {
  return h("p", { id, class: "error", role: "alert", hidden: true });
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Runs `work` with `button` disabled and showing `busyLabel`. */
async function busy<T>(button: HTMLButtonElement, busyLabel: string, work: () => Promise<T>): Promise<T> {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

// ---------------------------------------------------------------- sign-in screen

type AuthMode = "login" | "register";

function showAuth(mode: AuthMode, notice?: string, prefill?: { username?: string }): void {
  account.hidden = true;
  who.textContent = "";
  const register = mode === "register";
  const username = h("input", {
    id: "username",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: false,
    required: true,
    value: prefill?.username ?? "",
  });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: register ? "new-password" : "current-password",
    required: true,
  });
  const error = errorBox("auth-error");
  const submit = h("button", { type: "submit", text: register ? "Create account" : "Log in" });

  const form = h(
    "form",
    {
      id: "auth-form",
      class: "stack",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        clearError(error);
        showBanner(null);
        const name = username.value.trim();
        let registered = false;
        try {
          await busy(submit, register ? "Creating…" : "Logging in…", async () => {
            if (register) {
              await api.register(name, password.value);
              registered = true;
            }
            await api.login(name, password.value);
          });
        } catch (e) {
          if (registered) {
            // The account exists now; what is left is logging in.
            showAuth("login", "Your account is ready. Please log in.", { username: name });
            showError(document.getElementById("auth-error")!, e);
            return;
          }
          showError(error, e);
          password.select();
          return;
        }
        await enterApp();
      },
    },
    h("label", { for: "username", text: "Username" }),
    username,
    register && h("small", { class: "hint", text: "3 to 32 letters, digits, _ . or -" }),
    h("label", { for: "password", text: "Password" }),
    password,
    register && h("small", { class: "hint", text: "At least 8 characters" }),
    error,
    submit,
  );

  mount(
    app,
    h(
      "section",
      { class: "card auth", "aria-labelledby": "auth-title" },
      h("h2", { id: "auth-title", text: register ? "Create account" : "Log in" }),
      notice && h("p", { id: "auth-notice", class: "notice", role: "status", text: notice }),
      form,
      h(
        "p",
        { class: "switch" },
        register ? "Already have an account? " : "No account yet? ",
        h("button", {
          type: "button",
          class: "link",
          text: register ? "Log in" : "Create one",
          onclick: () => showAuth(register ? "login" : "register", undefined, { username: username.value }),
        }),
      ),
    ),
  );
  (username.value ? password : username).focus();
}

// ---------------------------------------------------------------- todo screen

interface ListState {
  filter: boolean | undefined; // undefined: all; false: open; true: done
  pageTokens: string[]; // page i starts at pageTokens[i]
  page: number;
  nextPageToken: string;
  todos: Todo[];
  editing: string | null;
  confirmingDelete: string | null;
  seq: number; // ignores answers to superseded list requests
}

let state: ListState;
let listEl: HTMLUListElement;
let listError: HTMLParagraphElement;
let pager: HTMLElement;
let filterBar: HTMLElement;

async function enterApp(): Promise<void> {
  showBanner(null);
  try {
    const me = await api.getMe();
    who.textContent = me.username;
  } catch (e) {
    if (e instanceof SessionEndedError) return;
    who.textContent = "";
    showBanner(describeError(e));
  }
  account.hidden = false;
  showTodos();
}

function showTodos(): void {
  state = {
    filter: undefined,
    pageTokens: [""],
    page: 0,
    nextPageToken: "",
    todos: [],
    editing: null,
    confirmingDelete: null,
    seq: 0,
  };

  const title = h("input", {
    id: "new-title",
    name: "title",
    placeholder: "What needs doing?",
    maxLength: 200,
    required: true,
    autocomplete: "off",
  });
  const description = h("textarea", {
    id: "new-description",
    name: "description",
    placeholder: "Details (optional)",
    rows: 2,
    maxLength: 2000,
  });
  const addError = errorBox("new-error");
  const add = h("button", { type: "submit", text: "Add" });
  const form = h(
    "form",
    {
      id: "new-todo",
      class: "card stack",
      oninput: () => clearError(addError),
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        clearError(addError);
        try {
          await busy(add, "Adding…", () => api.createTodo(title.value, description.value));
        } catch (e) {
          showError(addError, e);
          return;
        }
        title.value = "";
        description.value = "";
        title.focus();
        // Newest first: the new todo is at the top of the first page.
        state.pageTokens = [""];
        state.page = 0;
        await loadPage();
      },
    },
    h("label", { for: "new-title", class: "visually-hidden", text: "Title" }),
    title,
    h("label", { for: "new-description", class: "visually-hidden", text: "Description" }),
    description,
    addError,
    add,
  );

  filterBar = h("div", { class: "filters", role: "group", "aria-label": "Show" });
  listError = errorBox("list-error");
  listEl = h("ul", { id: "todo-list", class: "todos", "aria-live": "polite" });
  pager = h("nav", { class: "pager", "aria-label": "Pages" });

  mount(app, form, filterBar, listError, listEl, pager);
  renderFilters();
  void loadPage();
}

function renderFilters(): void {
  const options: [string, boolean | undefined][] = [
    ["All", undefined],
    ["Open", false],
    ["Done", true],
  ];
  mount(
    filterBar,
    ...options.map(([label, value]) =>
      h("button", {
        type: "button",
        class: "chip",
        text: label,
        "aria-pressed": String(state.filter === value),
        onclick: () => {
          if (state.filter === value) return;
          state.filter = value;
          state.pageTokens = [""];
          state.page = 0;
          renderFilters();
          void loadPage();
        },
      }),
    ),
  );
}

async function loadPage(): Promise<void> {
  const seq = ++state.seq;
  clearError(listError);
  listEl.setAttribute("aria-busy", "true");
  try {
    const res = await api.listTodos(config.pageSize, state.pageTokens[state.page], state.filter);
    if (seq !== state.seq) return;
    // A page emptied by deletes or toggles: step back to the one before.
    if (res.todos.length === 0 && state.page > 0) {
      state.page -= 1;
      return loadPage();
    }
    state.todos = res.todos;
    state.nextPageToken = res.nextPageToken;
    state.editing = null;
    state.confirmingDelete = null;
    renderList();
  } catch (e) {
    if (seq !== state.seq) return;
    showError(listError, e);
  } finally {
    if (seq === state.seq) listEl.removeAttribute("aria-busy");
  }
}

function renderList(): void {
  if (state.todos.length === 0) {
    const empty =
      state.filter === undefined
        ? "No todos yet. Add one above."
        : state.filter
          ? "Nothing done yet."
          : "Nothing open. Well done!";
    mount(listEl, h("li", { class: "empty", text: empty }));
  } else {
    mount(listEl, ...state.todos.map(renderTodo));
  }
  renderPager();
}

function renderPager(): void {
  const first = state.page === 0;
  const last = state.nextPageToken === "";
  if (first && last) {
    mount(pager);
    return;
  }
  mount(
    pager,
    h("button", {
      type: "button",
      class: "secondary",
      text: "‹ Newer",
      disabled: first,
      onclick: () => {
        state.page -= 1;
        void loadPage();
      },
    }),
    h("span", { id: "page-number", text: `Page ${state.page + 1}` }),
    h("button", {
      type: "button",
      class: "secondary",
      text: "Older ›",
      disabled: last,
      onclick: () => {
        state.pageTokens[state.page + 1] = state.nextPageToken;
        state.pageTokens.length = state.page + 2;
        state.page += 1;
        void loadPage();
      },
    }),
  );
}

function replaceTodo(todo: Todo): void {
  state.todos = state.todos.map((t) => (t.id === todo.id ? todo : t));
}

function renderTodo(todo: Todo): HTMLLIElement {
  if (state.editing === todo.id) return renderEditor(todo);
  const error = errorBox(`error-${todo.id}`);
  const check = h("input", {
    type: "checkbox",
    checked: todo.completed,
    "aria-label": `Done: ${todo.title}`,
    onchange: async () => {
      check.disabled = true;
      clearError(error);
      try {
        const updated = await api.updateTodo(todo.id, { completed: check.checked });
        if (state.filter !== undefined) {
          await loadPage(); // it may no longer match the filter
          return;
        }
        replaceTodo(updated);
        renderList();
      } catch (e) {
        check.checked = todo.completed;
        check.disabled = false;
        showError(error, e);
      }
    },
  });
  const created = todo.createTime ? timestampDate(todo.createTime) : null;
  const confirming = state.confirmingDelete === todo.id;
  const actions = confirming
    ? [
        h("button", {
          type: "button",
          class: "danger",
          text: "Delete",
          "aria-label": `Confirm delete ${todo.title}`,
          onclick: async (ev: Event) => {
            const button = ev.currentTarget as HTMLButtonElement;
            clearError(error);
            try {
              await busy(button, "Deleting…", () => api.deleteTodo(todo.id));
            } catch (e) {
              showError(error, e);
              return;
            }
            await loadPage();
          },
        }),
        h("button", {
          type: "button",
          class: "secondary",
          text: "Keep",
          onclick: () => {
            state.confirmingDelete = null;
            renderList();
          },
        }),
      ]
    : [
        h("button", {
          type: "button",
          class: "secondary",
          text: "Edit",
          "aria-label": `Edit ${todo.title}`,
          onclick: () => {
            state.editing = todo.id;
            state.confirmingDelete = null;
            renderList();
            document.getElementById(`edit-title-${todo.id}`)?.focus();
          },
        }),
        h("button", {
          type: "button",
          class: "secondary",
          text: "Delete",
          "aria-label": `Delete ${todo.title}`,
          onclick: () => {
            state.confirmingDelete = todo.id;
            state.editing = null;
            renderList();
          },
        }),
      ];
  return h(
    "li",
    { class: todo.completed ? "todo done" : "todo", "data-id": todo.id },
    h("label", { class: "check" }, check, h("span", { class: "title", text: todo.title })),
    todo.description && h("p", { class: "description", text: todo.description }),
    created && h("small", { class: "meta", text: `Added ${dateFormat.format(created)}` }),
    confirming && h("p", { class: "confirm", text: "Delete this todo? This cannot be undone." }),
    error,
    h("div", { class: "actions" }, ...actions),
  );
}

function renderEditor(todo: Todo): HTMLLIElement {
  const title = h("input", {
    id: `edit-title-${todo.id}`,
    value: todo.title,
    maxLength: 200,
    required: true,
    autocomplete: "off",
  });
  const description = h("textarea", {
    id: `edit-description-${todo.id}`,
    value: todo.description,
    rows: 3,
    maxLength: 2000,
  });
  const error = errorBox(`edit-error-${todo.id}`);
  const save = h("button", { type: "submit", text: "Save" });
  return h(
    "li",
    { class: "todo editing", "data-id": todo.id },
    h(
      "form",
      {
        class: "stack",
        "aria-label": `Edit ${todo.title}`,
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          clearError(error);
          try {
            const updated = await busy(save, "Saving…", () =>
              api.updateTodo(todo.id, { title: title.value, description: description.value }),
            );
            replaceTodo(updated);
            state.editing = null;
            renderList();
          } catch (e) {
            showError(error, e);
          }
        },
        onkeydown: (ev: KeyboardEvent) => {
          if (ev.key === "Escape") {
            state.editing = null;
            renderList();
          }
        },
      },
      h("label", { for: `edit-title-${todo.id}`, text: "Title" }),
      title,
      h("label", { for: `edit-description-${todo.id}`, text: "Description" }),
      description,
      error,
      h(
        "div",
        { class: "actions" },
        save,
        h("button", {
          type: "button",
          class: "secondary",
          text: "Cancel",
          onclick: () => {
            state.editing = null;
            renderList();
          },
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------- start

logoutButton.addEventListener("click", async () => {
  showBanner(null);
  try {
    await busy(logoutButton, "Logging out…", () => api.logout());
  } catch (e) {
    showBanner(`Could not log out: ${describeError(e)}`);
    return;
  }
  showAuth("login", "You have logged out.");
});

async function start(): Promise<void> {
  config = await loadConfig();
  api = new Api(config);
  api.setSessionEndedListener(() => showAuth("login", "Your session has ended. Please log in again."));
  // A reload keeps the session: the refresh cookie buys a new access token.
  let resumed = false;
  try {
    resumed = await api.refresh();
  } catch (e) {
    showAuth("login");
    showBanner(describeError(e));
    return;
  }
  if (resumed) {
    await enterApp();
  } else {
    showAuth("login");
  }
}

void start();
