// A POSIX-shell lexer for tests: how bash (or zsh) would split a pasted command into words, which characters stay
// special (unquoted, or expansions inside double quotes), and where heredoc bodies and comments are. Written apart from
// src/engine/template.ts on purpose, so a test does not trust the code it checks.

export interface ShellWord {
  /** The word after quote removal: what the program receives as one argument. */
  text: string;
  /** Whether any character of it was quoted or escaped. */
  quoted: boolean;
}

export interface HeredocBody {
  delimiter: string;
  /** A quoted delimiter (<<'EOF') means no expansion in the body. */
  quoted: boolean;
  lines: string[];
  /** Whether a line equal to the delimiter ended it. */
  terminated: boolean;
}

export interface ShellLexed {
  words: ShellWord[];
  /** Characters the shell acts on, in order: operators, expansions ($ and backtick, also inside "…"), globs, braces, tilde, history, newline. */
  specials: string[];
  heredocs: HeredocBody[];
  comments: string[];
  /** A quote left open at the end. */
  unterminated: "'" | '"' | null;
}

/** ASCII hyphen-minus and the dashes that look like it (a person reads "–server" as "--server"). */
export const DASHES = /^[-\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/;
const OPERATORS = new Set([";", "&", "|", "(", ")", "<", ">"]);
const GLOB_AND_EXPANSION = new Set(["*", "?", "[", "]", "{", "}", "$", "`", "!"]);

export function lexShell(input: string): ShellLexed {
  const words: ShellWord[] = [];
  const specials: string[] = [];
  const heredocs: HeredocBody[] = [];
  const comments: string[] = [];
  const pending: Array<{ delimiter: string; quoted: boolean; stripTabs: boolean }> = [];
  let current: ShellWord | null = null;
  let unterminated: ShellLexed["unterminated"] = null;
  let i = 0;
  const endWord = () => {
    if (current) words.push(current);
    current = null;
  };
  const add = (ch: string, quoted: boolean) => {
    current ??= { text: "", quoted: false };
    current.text += ch;
    current.quoted ||= quoted;
  };
  const readHeredocBodies = () => {
    for (const h of pending.splice(0)) {
      const body: HeredocBody = { delimiter: h.delimiter, quoted: h.quoted, lines: [], terminated: false };
      while (i < input.length) {
        const end = input.indexOf("\n", i);
        const line = input.slice(i, end === -1 ? input.length : end);
        i = end === -1 ? input.length : end + 1;
        if ((h.stripTabs ? line.replace(/^\t+/, "") : line) === h.delimiter) {
          body.terminated = true;
          break;
        }
        body.lines.push(line);
      }
      heredocs.push(body);
    }
  };
  while (i < input.length) {
    const ch = input[i] as string;
    if (ch === "\n") {
      endWord();
      specials.push("\n");
      i++;
      readHeredocBodies();
      continue;
    }
    if (ch === " " || ch === "\t") {
      endWord();
      i++;
      continue;
    }
    if (ch === "#" && current === null) {
      const end = input.indexOf("\n", i);
      comments.push(input.slice(i, end === -1 ? input.length : end));
      i = end === -1 ? input.length : end;
      continue;
    }
    if (ch === "\\") {
      if (input[i + 1] === "\n") i += 2;
      else {
        add(input[i + 1] ?? "", true);
        i += 2;
      }
      continue;
    }
    if (ch === "'") {
      const end = input.indexOf("'", i + 1);
      if (end === -1) {
        unterminated = "'";
        add(input.slice(i + 1), true);
        i = input.length;
      } else {
        add(input.slice(i + 1, end), true);
        i = end + 1;
      }
      continue;
    }
    if (ch === '"') {
      i++;
      add("", true);
      let closed = false;
      while (i < input.length) {
        const c = input[i] as string;
        if (c === "\\" && i + 1 < input.length && '$`"\\\n'.includes(input[i + 1] as string)) {
          add(input[i + 1] as string, true);
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          if (c === "$" || c === "`") specials.push(c);
          add(c, true);
          i++;
        }
      }
      if (!closed) unterminated = '"';
      continue;
    }
    if (ch === "<" && input[i + 1] === "<" && input[i + 2] !== "<") {
      endWord();
      const stripTabs = input[i + 2] === "-";
      specials.push(stripTabs ? "<<-" : "<<");
      i += stripTabs ? 3 : 2;
      while (input[i] === " " || input[i] === "\t") i++;
      let delimiter = "";
      let quoted = false;
      while (i < input.length && !/[\s;&|()<>]/.test(input[i] as string)) {
        const c = input[i] as string;
        if (c === "'" || c === '"') {
          const end = input.indexOf(c, i + 1);
          delimiter += input.slice(i + 1, end === -1 ? input.length : end);
          quoted = true;
          i = end === -1 ? input.length : end + 1;
        } else if (c === "\\") {
          delimiter += input[i + 1] ?? "";
          quoted = true;
          i += 2;
        } else {
          delimiter += c;
          i++;
        }
      }
      pending.push({ delimiter, quoted, stripTabs });
      continue;
    }
    if (OPERATORS.has(ch)) {
      endWord();
      specials.push(ch);
      i++;
      continue;
    }
    if (GLOB_AND_EXPANSION.has(ch) || (ch === "~" && current === null)) specials.push(ch);
    add(ch, false);
    i++;
  }
  endWord();
  return { words, specials, heredocs, comments, unterminated };
}

/** The words a program would take for options: those starting with a dash or a look-alike, by name (before any "="). */
export function optionNames(lexed: ShellLexed): string[] {
  return lexed.words.filter((w) => DASHES.test(w.text)).map((w) => w.text.split("=")[0] as string);
}
